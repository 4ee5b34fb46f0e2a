"""nbgrader's cell-metadata check, with its JSON schema checked once per process.

nbgrader's ``CheckCellMetadata`` validates every nbgrader cell with
``jsonschema.validate(metadata, schema)``, which first checks the *schema* itself
against the JSON Schema meta-schema, on every call: about nine tenths of the check's
CPU, and the check runs three times per graded notebook (planning, nbgrader's
sanitizing and autograding steps). :class:`CheckCellMetadata` is nbgrader's check
with one difference: the schema is checked once, and its validator kept. Every cell
is validated against the same schema, in the same order, and a failure raises the same
error (``jsonschema.exceptions.best_match`` of the validator's errors, as
``jsonschema.validate`` does), which nbgrader's check logs and turns into the same
``ValidationError``.

The metadata a schema has accepted is remembered too (:func:`valid_metadata`): after
the sanitize step every nbgrader cell carries exactly its master cell's metadata, so
the same few dozen values recur in every notebook of a class.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.nbgraderformat import ValidationError
from nbgrader.nbgraderformat.common import (
    BaseMetadataValidator,
    SchemaTooNewError,
    SchemaTooOldError,
)
from nbgrader.nbgraderformat.v3 import MetadataValidatorV3
from nbgrader.preprocessors import CheckCellMetadata as NbgraderCheckCellMetadata

_VALIDATORS: dict[str, Any] = {}


def schema_validator(schema: dict):
    """The validator of ``schema``, whose own validity is checked on the first call
    (``jsonschema.validate``'s ``check_schema``) and remembered after."""
    return _validator(json.dumps(schema, sort_keys=True), schema)


def _validator(key: str, schema: dict):
    """:func:`schema_validator`, ``key`` being the schema as sorted JSON."""
    import jsonschema

    validator = _VALIDATORS.get(key)
    if validator is None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = _VALIDATORS[key] = cls(schema)
    return validator


_ACCEPTED: dict[tuple[str, str], None] = {}  # (schema, metadata) pairs found valid
_ACCEPTED_MOST = 4096


def valid_metadata(schema: dict, metadata: Any) -> Any:
    """The best-matching error of ``metadata`` against ``schema`` (as
    ``jsonschema.validate`` raises it), or None when it is valid; a value found valid
    once is not validated again (the last :data:`_ACCEPTED_MOST` of them)."""
    import jsonschema

    schema_key = json.dumps(schema, sort_keys=True)
    try:
        key = (schema_key, json.dumps(metadata, sort_keys=True))
    except (TypeError, ValueError):  # not JSON (not from a notebook file): not remembered
        key = None
    if key in _ACCEPTED:
        return None
    error = jsonschema.exceptions.best_match(_validator(schema_key, schema).iter_errors(metadata))
    if error is None and key is not None:
        if len(_ACCEPTED) >= _ACCEPTED_MOST:
            _ACCEPTED.pop(next(iter(_ACCEPTED)))
        _ACCEPTED[key] = None
    return error


class _SchemaCheckedOnce(BaseMetadataValidator):
    """nbgrader's per-cell check (schema version, then the JSON schema) with the
    schema's validator from :func:`schema_validator`."""

    def validate_cell(self, cell: NotebookNode) -> None:
        if "nbgrader" not in cell.metadata:
            return
        schema = cell.metadata["nbgrader"].get("schema_version", 0)
        if schema < self.schema_version:
            raise SchemaTooOldError(
                f"Outdated schema version: {schema} (expected {self.schema_version})",
                schema, self.schema_version)
        if schema > self.schema_version:
            raise SchemaTooNewError(
                f"Schema version is too new: {schema} (expected {self.schema_version})",
                schema, self.schema_version)
        error = valid_metadata(self.schema, cell.metadata["nbgrader"])
        if error is not None:
            raise error


class MetadataValidator(MetadataValidatorV3, _SchemaCheckedOnce):
    """nbgrader's current (v3) validator; its base check is :class:`_SchemaCheckedOnce`
    (method order: this, v3's own checks, the schema check, nbgrader's base)."""


class CheckCellMetadata(NbgraderCheckCellMetadata):
    """nbgrader's ``CheckCellMetadata`` with :class:`MetadataValidator`."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        try:
            MetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            msg = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(msg)
            raise ValidationError(msg)  # noqa: B904 - chained as nbgrader's own check
        return nb, resources
