"""The cell-metadata check that validates its schema once accepts and refuses exactly
what nbgrader's own check does, with the same errors."""

from __future__ import annotations

import copy
import os
import sys

import nbformat
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from autograder.grader import cell_metadata  # noqa: E402

RELEASED = os.path.join(os.path.dirname(HERE), "autograder", "source", "ps1_shapes_params",
                        "ps1_shapes_params.ipynb")


def _graded_cells(nb):
    return [c for c in nb.cells if "nbgrader" in c.metadata]


def _corruptions():
    """(name, edit of one nbgrader cell's metadata) pairs nbgrader refuses."""
    def points(meta):
        meta["grade"], meta["points"] = True, "ten"
    def grade_id(meta):
        meta["grade_id"] = 7
    def old_schema(meta):
        meta["schema_version"] = 1
    def new_schema(meta):
        meta["schema_version"] = 99
    def missing(meta):
        del meta["grade_id"]
    return [points, grade_id, old_schema, new_schema, missing]


def _error(validator, nb):
    try:
        validator().validate_nb(nb)
    except Exception as exc:  # the same exception, type and message
        return type(exc), str(exc)
    return None


def test_same_verdicts_as_nbgraders_check():
    from nbgrader.nbgraderformat import MetadataValidator

    nb = nbformat.read(RELEASED, as_version=4)
    assert _graded_cells(nb)
    assert _error(MetadataValidator, nb) is None
    assert _error(cell_metadata.MetadataValidator, nb) is None
    seen = 0
    for corrupt in _corruptions():
        for index in range(len(_graded_cells(nb))):
            bad = copy.deepcopy(nb)
            corrupt(_graded_cells(bad)[index].metadata["nbgrader"])
            theirs = _error(MetadataValidator, bad)
            assert theirs is not None, corrupt.__name__
            assert _error(cell_metadata.MetadataValidator, bad) == theirs, corrupt.__name__
            seen += 1
    assert seen >= 5


def test_preprocessor_refuses_like_nbgraders():
    from nbgrader.nbgraderformat import ValidationError

    nb = nbformat.read(RELEASED, as_version=4)
    check = cell_metadata.CheckCellMetadata()
    assert check.preprocess(copy.deepcopy(nb), {})[0] == nb
    bad = copy.deepcopy(nb)
    _graded_cells(bad)[0].metadata["nbgrader"]["grade_id"] = 7
    with pytest.raises(ValidationError, match="nbgrader metadata may be corrupted"):
        check.preprocess(bad, {})


def test_metadata_found_valid_is_not_validated_again(monkeypatch):
    """A value the schema accepted once is accepted without asking the validator; any
    other value (an edited copy of it) is still validated, and still refused."""
    nb = nbformat.read(RELEASED, as_version=4)
    cell_metadata.MetadataValidator().validate_nb(nb)  # remembered now
    asked = []
    real = cell_metadata._validator
    monkeypatch.setattr(cell_metadata, "_validator",
                        lambda key, schema: asked.append(1) or real(key, schema))
    cell_metadata.MetadataValidator().validate_nb(copy.deepcopy(nb))
    assert asked == []
    bad = copy.deepcopy(nb)
    _graded_cells(bad)[0].metadata["nbgrader"]["points"] = "ten"
    assert _error(cell_metadata.MetadataValidator, bad) is not None
    assert asked
