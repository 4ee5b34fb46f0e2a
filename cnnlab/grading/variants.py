"""Per-student variants: each student's own numbers, derived from their user name.

Without a student id, :func:`variant_for` returns the **default variant**: the numbers
of the lecture notes, so self-study matches the slides. With one, the numbers are drawn
from a generator seeded by ``HMAC-SHA256(b"cnnlab-variant", "<assignment>:<id>")``: a
*public* derivation, so the one notebook released through nbgrader's exchange computes
each student's numbers itself (:func:`show_variant`, called by the notebook's
``cnnlab-variant`` cell) from the identity nbgrader and JupyterHub use for the
submission, ``$JUPYTERHUB_USER`` (:func:`student_from_environment`). The visible numbers
are no secret (a student sees them anyway); the **hidden** cases are keyed by the course
secret (:func:`hidden_case_seed`), which never ships.

:func:`show_variant` prints the numbers and records, in the cell's output, which
student and numbers the notebook showed (:data:`RECORD_MIME`); the grader compares that
record with the submission's student id (``autograder/grader/variant_check.py``).

The generator is a counter-mode SHA-256 stream (:class:`Draw`) rather than NumPy's:
a student's numbers are printed in their notebook when they open it and recomputed
when it is graded, possibly after a NumPy upgrade, and NumPy does not promise the same
stream across versions. Hidden cases are drawn from
``numpy.random.default_rng(hidden_case_seed(...))``: they only need to be reproducible
in the instructor's environment.

The secret comes from ``CNNLAB_COURSE_SECRET`` or the file named by
``CNNLAB_COURSE_SECRET_FILE`` (see :func:`read_secret`). ``autograder/demo_secret`` is
the public secret of the sample class only.

Examples
--------
>>> variant_for("ps1_shapes_params")["n_fit"]      # CS231n: a 7x7 input
7
>>> variant_for("ps1_shapes_params", "alice") == variant_for("ps1_shapes_params", "alice")
True
>>> print(variant_cell_source("ps2_conv"))
from cnnlab.grading.variants import show_variant
<BLANKLINE>
VARIANT = show_variant("ps2_conv")
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "IDENTITY_ENV",
    "RECORD_MIME",
    "Draw",
    "VariantSpec",
    "default_variant",
    "hidden_case_seed",
    "read_secret",
    "register_variant",
    "show_variant",
    "student_from_environment",
    "variant_cell_source",
    "variant_for",
]

#: Where a released notebook finds its student: JupyterHub sets it in every user's
#: server (and so in their kernels and terminals); nbgrader submits under the same name.
IDENTITY_ENV = "JUPYTERHUB_USER"
#: The MIME type of the record :func:`show_variant` leaves in the cell's output.
RECORD_MIME = "application/vnd.cnnlab.variant+json"
# The key of the public derivation: it separates the variants from other uses of
# HMAC-SHA256 of the same message; it is not a secret.
_PUBLIC_KEY = b"cnnlab-variant"

T = TypeVar("T")


class Draw:
    """A deterministic stream of integers from a seed (counter-mode SHA-256).

    The same seed gives the same draws on every platform and every Python or NumPy
    version.
    """

    def __init__(self, seed: bytes) -> None:
        self._seed = bytes(seed)
        self._counter = 0

    def _next(self) -> int:
        block = hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
        self._counter += 1
        return int.from_bytes(block, "big")

    def integer(self, low: int, high: int) -> int:
        """An integer in ``[low, high]`` (both included)."""
        if high < low:
            raise ValueError(f"empty range [{low}, {high}]")
        return low + self._next() % (high - low + 1)

    def choice(self, options: Sequence[T]) -> T:
        """One of ``options``."""
        if not options:
            raise ValueError("no options to choose from")
        return options[self._next() % len(options)]


@dataclass(frozen=True)
class VariantSpec:
    """How an assignment's numbers vary.

    ``defaults`` are the lecture's numbers; ``draw`` returns a dict with the same keys
    from a :class:`Draw` (it may draw again until the numbers make a valid exercise).
    """

    assignment: str
    defaults: dict[str, Any]
    draw: Callable[[Draw], dict[str, Any]]


_SPECS: dict[str, VariantSpec] = {}


def register_variant(spec: VariantSpec) -> None:
    """Declare an assignment's variant (assignment modules call this on import)."""
    _SPECS[spec.assignment] = spec


def _spec(assignment: str) -> VariantSpec:
    from cnnlab.grading.questions import load_assignment

    load_assignment(assignment)
    return _SPECS[assignment]


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def _hmac(secret: str | bytes, message: str) -> bytes:
    return hmac.new(_key(secret), message.encode("utf-8"), hashlib.sha256).digest()


def default_variant(assignment: str) -> dict[str, Any]:
    """The lecture's numbers for ``assignment``."""
    return dict(_spec(assignment).defaults)


def variant_for(
    assignment: str,
    student_id: str | None = None,
    secret: str | bytes | None = None,
) -> dict[str, Any]:
    """The numbers ``student_id`` sees in ``assignment``.

    Parameters
    ----------
    assignment : str
        One of :data:`cnnlab.grading.questions.ASSIGNMENTS`.
    student_id : str, optional
        The nbgrader student id (the JupyterHub user name on a hub).
    secret : str or bytes, optional
        Not used: the visible numbers are public so that the released notebook can
        compute them. The parameter is part of the course-module contract of
        ``autograder/DESIGN.md`` (the grader passes the course secret to every course
        module's ``variant_for``); hidden cases use it (:func:`hidden_case_seed`).

    Returns
    -------
    dict
        The default variant without a student id; otherwise numbers drawn from
        ``HMAC-SHA256(b"cnnlab-variant", f"{assignment}:{student_id}")``.
    """
    del secret  # public derivation; see the docstring
    spec = _spec(assignment)
    if not student_id:
        return dict(spec.defaults)
    drawn = spec.draw(Draw(_hmac(_PUBLIC_KEY, f"{assignment}:{student_id}")))
    if set(drawn) != set(spec.defaults):
        raise AssertionError(f"{assignment}: a drawn variant must have the default's keys")
    return {name: drawn[name] for name in spec.defaults}


def student_from_environment() -> str | None:
    """The student a notebook runs for: ``$JUPYTERHUB_USER``, or ``None`` (self-study)."""
    return os.environ.get(IDENTITY_ENV) or None


def variant_cell_source(assignment: str, student_id: str | None = None) -> str:
    """The source of an assignment's ``cnnlab-variant`` cell.

    Without ``student_id`` (the released notebook) the cell finds its student in the
    environment when it runs; with one (``python -m autograder.tools personalize``, for
    classes that hand notebooks out without the exchange) it shows that student's numbers
    wherever it runs.
    """
    student = "" if student_id is None else f", student={student_id!r}"
    return ("from cnnlab.grading.variants import show_variant\n\n"
            f'VARIANT = show_variant("{assignment}"{student})')


def show_variant(assignment: str, student: str | None = None) -> dict[str, Any]:
    """Print this notebook's numbers, record whose they are, and return them.

    Parameters
    ----------
    assignment : str
        The assignment.
    student : str, optional
        The student; default :func:`student_from_environment` (``None`` outside
        JupyterHub: the lecture's numbers).

    Returns
    -------
    dict
        ``variant_for(assignment, student)``, the notebook's ``VARIANT``.

    Notes
    -----
    In IPython the output is one ``display_data`` with a ``text/plain`` part (what the
    student reads) and a :data:`RECORD_MIME` part ``{"assignment", "student",
    "variant"}``, which the grader reads from the submitted notebook. Elsewhere the
    text is printed.
    """
    if student is None:
        student = student_from_environment()
    numbers = variant_for(assignment, student)
    whose = (f"student {student}" if student
             else "the lecture (no student id: working on your own)")
    lines = [f"Your numbers for {assignment}, those of {whose}:"]
    lines += [f"{name:>14} = {value}" for name, value in numbers.items()]
    text = "\n".join(lines)
    record = {"assignment": assignment, "student": student, "variant": numbers}
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - cnnlab's notebooks always have IPython
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display({"text/plain": text, RECORD_MIME: json.loads(json.dumps(record))}, raw=True)
    else:
        print(text)
    return numbers


def hidden_case_seed(
    assignment: str,
    student_id: str | None = None,
    secret: str | bytes | None = None,
) -> int:
    """Seed of ``numpy.random.default_rng`` for a student's hidden cases.

    ``HMAC-SHA256(secret, f"{assignment}:{student_id}:cases")`` as a 256-bit integer.
    Without a secret the key is empty: reproducible, but public (tests and demos only).
    """
    digest = _hmac(secret or b"", f"{assignment}:{student_id or ''}:cases")
    return int.from_bytes(digest, "big")


def read_secret(default_file: str | os.PathLike[str] | None = None) -> str | None:
    """The course secret: ``$CNNLAB_COURSE_SECRET``, else the file ``$CNNLAB_COURSE_SECRET_FILE``,
    else ``default_file``; ``None`` when none of them is set or the file is missing.

    Surrounding whitespace is ignored wherever the secret comes from (a file's final
    newline, a variable set from ``$(cat file)`` or pasted with a space): the same
    secret gives the same variants and hidden cases. An empty or blank value counts
    as unset.
    """
    value = os.environ.get("CNNLAB_COURSE_SECRET", "").strip()
    if value:
        return value
    name = os.environ.get("CNNLAB_COURSE_SECRET_FILE") or default_file
    if not name:
        return None
    path = Path(name)
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8").strip()
    return text or None
