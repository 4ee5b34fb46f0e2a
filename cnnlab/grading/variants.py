"""Per-student variants: each student's own numbers, reproducible from a course secret.

Without a student id or a secret, :func:`variant_for` returns the **default variant**:
the numbers of the lecture notes, so self-study matches the slides. With both, the
numbers are drawn from a generator seeded by ``HMAC-SHA256(secret, "<assignment>:<id>")``.

The generator is a counter-mode SHA-256 stream (:class:`Draw`) rather than NumPy's:
a student's numbers are printed in their notebook when the assignment is released and
recomputed when it is graded, possibly after a NumPy upgrade, and NumPy does not
promise the same stream across versions. Hidden cases are drawn from
``numpy.random.default_rng(hidden_case_seed(...))``: they only need to be reproducible
in the instructor's environment.

The secret comes from ``CNNLAB_COURSE_SECRET`` or the file named by
``CNNLAB_COURSE_SECRET_FILE`` (see :func:`read_secret`). ``autograder/demo_secret`` is
the public secret of the sample class only.

Examples
--------
>>> variant_for("ps1_shapes_params")["n_fit"]      # CS231n: a 7x7 input
7
>>> a = variant_for("ps1_shapes_params", "alice", "not-a-real-secret")
>>> a == variant_for("ps1_shapes_params", "alice", "not-a-real-secret")
True
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "Draw",
    "VariantSpec",
    "default_variant",
    "hidden_case_seed",
    "read_secret",
    "register_variant",
    "variant_for",
]

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
        The nbgrader student id.
    secret : str or bytes, optional
        The course secret. A ``str`` is used as its UTF-8 bytes (a hex file's text is
        used as text, not decoded).

    Returns
    -------
    dict
        The default variant without a student id or without a secret; otherwise
        numbers drawn from ``HMAC-SHA256(secret, f"{assignment}:{student_id}")``.
    """
    spec = _spec(assignment)
    if not student_id or not secret:
        return dict(spec.defaults)
    drawn = spec.draw(Draw(_hmac(secret, f"{assignment}:{student_id}")))
    if set(drawn) != set(spec.defaults):
        raise AssertionError(f"{assignment}: a drawn variant must have the default's keys")
    return {name: drawn[name] for name in spec.defaults}


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

    Surrounding whitespace of the file's text is ignored.
    """
    value = os.environ.get("CNNLAB_COURSE_SECRET")
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
