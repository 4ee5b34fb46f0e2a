"""Sub-checks that compare a student's value with cnnlab's reference.

Each function returns one :class:`~cnnlab.grading.questions.Check`. ``reveal`` says
whether the expected value may appear in the message (visible cases of function
questions); hidden cases and value questions never show it. ``diagnose`` is called only
when the check fails and returns the likely misconception (or None).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from cnnlab.grading.questions import Check

__all__ = [
    "array_check",
    "as_array",
    "as_number",
    "number_check",
    "pair_check",
    "pair_text",
    "precision",
    "sequence_of",
    "shape_text",
    "tolerances",
]

Diagnose = Callable[[], "str | list[str] | None"]


def _run(diagnose: Diagnose | None) -> tuple[str | None, tuple[str, ...]]:
    """``(most likely sentence, every matching sentence)`` from a detector thunk."""
    found = diagnose() if diagnose is not None else None
    if found is None:
        return None, ()
    if isinstance(found, str):
        return found, (found,)
    found = tuple(found)
    return (found[0] if found else None), found


def _failed(problem: str, diagnose: Diagnose | None, weight: float) -> Check:
    first, every = _run(diagnose)
    return Check(False, problem, first, weight, every)


def as_number(value: Any) -> float | int | None:
    """``value`` as a Python number, or None (bools and strings are not numbers)."""
    if type(value) in (int, float):
        return value
    if type(value) is np.ndarray and value.ndim == 0 and value.dtype.kind in "iuf":
        return value.item()
    return None


#: How many units of a dtype's rounding error (machine epsilon) a correct answer computed
#: in that dtype may be off by: sums of a few hundred products in float32 lose up to
#: about this many ulps, so a float32 (or float16) answer is judged at its own precision.
ULPS = 1000


def precision(value: Any) -> float:
    """The machine epsilon of ``value``'s floating dtype (float64's for anything else)."""
    if type(value) is np.ndarray and value.dtype.kind == "f":
        return float(np.finfo(value.dtype).eps)
    return float(np.finfo(np.float64).eps)


def tolerances(value: Any, expected: np.ndarray, rtol: float, atol: float) -> tuple[float, float]:
    """``(rtol, atol)`` widened to the precision ``value`` was computed in.

    A float64 answer keeps the question's own tolerances; a float32 one is allowed
    :data:`ULPS` float32 rounding errors, relative to the answer's largest magnitude.
    """
    eps = precision(value)
    if eps <= np.finfo(np.float64).eps:
        return rtol, atol
    scale = float(np.max(np.abs(expected))) if np.size(expected) else 1.0
    return max(rtol, ULPS * eps), max(atol, ULPS * eps * max(scale, 1.0))


def pair_text(expected: float, found: float) -> tuple[str, str]:
    """Two numbers with just enough significant digits (6 to 17) to tell them apart."""
    for digits in range(6, 18):
        a, b = f"{expected:.{digits}g}", f"{found:.{digits}g}"
        if a != b:
            return a, b
    return f"{expected!r}", f"{found!r}"


def as_array(value: Any) -> np.ndarray | None:
    """``value`` (an array or nested lists of numbers) as a float64 array, or None."""
    if type(value) is np.ndarray:
        if value.dtype.kind not in "biuf":
            return None
        return value.astype(np.float64)
    if type(value) in (list, tuple):
        try:
            array = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return array
    number = as_number(value)
    if number is not None:
        return np.array(number, dtype=np.float64)
    return None


def shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(n)) for n in shape) + (",)" if len(shape) == 1 else ")")


def number_text(number: float) -> str:
    """A number as a student reads it: ``7,372,800``, ``58.1269``, ``0.5``."""
    if float(number).is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:.6g}"


def _describe(value: Any) -> str:
    if type(value) is np.ndarray:
        return f"an array of shape {shape_text(value.shape)}"
    if value is None:
        return "None"
    if type(value) is str:
        return "a string"
    return f"a {type(value).__name__}"


def number_check(
    name: str,
    value: Any,
    expected: float,
    **options: Any,
) -> Check:
    """Compare one number; ``integer=True`` wants a whole number (counts, sizes).

    Options: ``reveal`` (show the expected value), ``integer``, ``rel``, ``abs_tol``,
    ``diagnose`` and ``weight``; the check is named ``name``.
    """
    return replace(_number_check(name, value, expected, **options), name=name)


def _number_check(
    name: str,
    value: Any,
    expected: float,
    *,
    reveal: bool,
    integer: bool = True,
    rel: float = 1e-9,
    abs_tol: float = 0.0,
    diagnose: Diagnose | None = None,
    weight: float = 1.0,
) -> Check:
    """Compare one number; ``integer=True`` wants a whole number (counts, sizes)."""
    number = as_number(value)
    if number is None:
        return Check(False, f"{name} should be a number, found {_describe(value)}.", None, weight)
    try:
        finite = math.isfinite(number)
    except OverflowError:
        return Check(False, f"{name} is far too large.", None, weight)
    if not finite:
        return Check(False, f"{name} is {number}, not a finite number.", None, weight)
    if math.isclose(number, expected, rel_tol=rel, abs_tol=abs_tol):
        return Check(True, weight=weight)
    if integer and not float(number).is_integer():
        problem = f"{name} is {number_text(number)}, not a whole number."
        first, every = _run(diagnose)
        if first is None:
            first = (
                "`/` gives a fraction: sizes and counts are whole numbers; `//` rounds "
                "down (floor), which is what a window that doesn't fit does."
            )
            every = (first,)
        return Check(False, problem, first, weight, every)
    if reveal:
        want, got = number_text(expected), number_text(number)
        if want == got:
            want, got = pair_text(expected, number)
        problem = f"{name}: expected {want}, found {got}."
    else:
        problem = f"{name}: not right (found {number_text(number)})."
    return _failed(problem, diagnose, weight)


def array_check(name: str, value: Any, expected: np.ndarray, **options: Any) -> Check:
    """Compare an array: its shape first, then its values within tolerance.

    Options: ``reveal``, ``rtol``, ``atol`` (widened to a float32 answer's precision),
    ``diagnose`` and ``weight``; the check is named ``name``.
    """
    return replace(_array_check(name, value, expected, **options), name=name)


def _array_check(
    name: str,
    value: Any,
    expected: np.ndarray,
    *,
    reveal: bool,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    diagnose: Diagnose | None = None,
    weight: float = 1.0,
) -> Check:
    """Compare an array: its shape first, then its values within tolerance."""
    array = as_array(value)
    if array is None:
        return Check(
            False, f"{name} should be a NumPy array, found {_describe(value)}.", None, weight
        )
    if array.shape != expected.shape:
        where = f"expected {shape_text(expected.shape)}" if reveal else "which is not right"
        problem = f"{name} has shape {shape_text(array.shape)}, {where}."
        return _failed(problem, diagnose, weight)
    if not np.all(np.isfinite(array)):
        return _failed(f"{name} contains NaN or infinity.", diagnose, weight)
    rtol, atol = tolerances(value, expected, rtol, atol)
    if np.allclose(array, expected, rtol=rtol, atol=atol):
        return Check(True, weight=weight)
    wrong = ~np.isclose(array, expected, rtol=rtol, atol=atol)
    count = int(wrong.sum())
    problem = f"{name} has the right shape but {count} of {array.size} values are wrong"
    if reveal:
        index = tuple(int(i) for i in np.argwhere(wrong)[0])
        want, got = pair_text(float(expected[index]), float(array[index]))
        problem += f" (first at index {index}: expected {want}, found {got})"
    return _failed(problem + ".", diagnose, weight)


def pair_check(
    name: str,
    value: Any,
    expected: Sequence[int],
    *,
    reveal: bool,
    diagnose: Diagnose | None = None,
    weight: float = 1.0,
) -> Check:
    """Compare a pair of whole numbers exactly: ``(size, jump)``, ``(start, stop)``, ...

    A tuple, a list or a 1-D array of two numbers is read as a pair; ``reveal`` shows
    the expected pair (visible cases only).
    """
    pair = sequence_of(value, 2)
    if pair is None or any(as_number(v) is None for v in pair):
        problem = f"{name} should be a pair of ints, found {_describe(value)}."
        return Check(False, problem, None, weight, name=name)
    got = tuple(as_number(v) for v in pair)
    want = tuple(int(v) for v in expected)
    if got == want:
        return Check(True, weight=weight, name=name)
    shown = f"expected {want}, found {got}" if reveal else f"found {got}, not right"
    return replace(_failed(f"{name}: {shown}.", diagnose, weight), name=name)


def sequence_of(value: Any, length: int) -> list[Any] | None:
    """``value`` as a list of ``length`` items: a tuple, a list or a 1-D array of that length.

    Arrays, lists and tuples holding the same values are interchangeable answers; an
    array's elements come back as Python numbers (or as arrays, for a 2-D array's rows).
    """
    if type(value) in (tuple, list) and len(value) == length:
        return list(value)
    if type(value) is np.ndarray and value.ndim >= 1 and len(value) == length:
        return [item.item() if item.ndim == 0 else item for item in value]
    return None


def close(value: Any, expected: Any, *, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    """Whether ``value`` equals ``expected`` (numbers or arrays) within tolerance.

    The tolerance widens to ``value``'s own precision (a float32 answer matches at
    float32 precision, see :func:`tolerances`).
    """
    a = as_array(value)
    if a is None:
        return False
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        return False
    rtol, atol = tolerances(value, b, rtol, atol)
    return bool(np.allclose(a, b, rtol=rtol, atol=atol))
