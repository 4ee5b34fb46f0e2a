"""Plain data: the only values that cross the sandbox boundary, and their wire format.

Self-contained on purpose: this module imports nothing but the standard library and
NumPy, so the grading machinery can load it *by file path* inside the sandbox, where
cnnlab itself is not importable::

    spec = importlib.util.spec_from_file_location("cnnlab_plain", path_to_this_file)
    plain = importlib.util.module_from_spec(spec); spec.loader.exec_module(plain)

Plain data is ``None``, ``bool``, ``int``, ``float``, ``str``, ``list``/``tuple`` of
plain data, ``dict`` with ``str`` keys and plain values, and NumPy arrays of
bool/int/float dtype. NumPy scalars (``numpy.int64(3)``, ``numpy.float64(0.5)``) become
the Python number they hold. Every check is by *exact* type: a subclass of ``int``,
``float``, ``list``, ``dict`` or ``ndarray`` is refused, so a student object with a
custom ``__eq__`` or ``__float__`` can never pass as an answer, and converting a value
never runs student code.

The wire format is JSON. Lists, strings, numbers, booleans and null are themselves;
the other kinds are one-key objects: ``{"t": [...]}`` a tuple, ``{"d": {...}}`` a dict,
``{"a": [dtype, shape, base64]}`` an array (raw little- or big-endian bytes as NumPy
names them). Nothing is ever pickled.

Examples
--------
>>> import numpy as np
>>> to_plain((np.int64(3), [1.5, None]))
(3, [1.5, None])
>>> decode(encode({"dx": np.eye(2)}))["dx"].tolist()
[[1.0, 0.0], [0.0, 1.0]]
>>> outcome_for(object())
{'unsupported': 'object'}

Both directions are bounded: nesting (:data:`MAX_DEPTH`), scalars and containers
outside arrays (:data:`MAX_ITEMS`), array elements (:data:`MAX_ELEMENTS`), integer
digits (:data:`MAX_INT_DIGITS`) and text, which must be valid Unicode (a lone
surrogate is refused: it cannot be written into a notebook). :func:`decode` checks the
nesting and size of a message *before* parsing it, so a hostile message costs the
grading process no more memory than a legitimate one of the same limits.
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

import numpy as np

__all__ = [
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "MAX_INT_DIGITS",
    "MAX_ITEMS",
    "InvalidAnswer",
    "Unsupported",
    "check_json",
    "decode",
    "encode",
    "footprint",
    "outcome_for",
    "to_plain",
]

#: Deepest nesting of lists, tuples and dicts accepted (a cycle hits this limit).
MAX_DEPTH = 32
#: Most scalars (array elements included) one value may hold: 16 Mi, 128 MiB of float64.
MAX_ELEMENTS = 16 * 1024 * 1024
#: Most scalars, lists, tuples and dicts outside arrays one value may hold (each is a
#: Python object of its own when decoded, so this bounds the decoded size).
MAX_ITEMS = 1024 * 1024
#: Longest integer accepted, in decimal digits (an answer is a count or a size).
MAX_INT_DIGITS = 100
#: Most characters of text one value may hold, all its strings together.
MAX_TEXT = 16 * 1024 * 1024

_SCALARS = (type(None), bool, int, float, str)
_NUMPY_SCALARS = frozenset(
    {
        np.bool_,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.float16,
        np.float32,
        np.float64,
    }
)
_ARRAY_KINDS = frozenset("biuf")


class Unsupported(TypeError):
    """A value that is not plain data; ``type_name`` names what was found."""

    def __init__(self, type_name: str, detail: str = "") -> None:
        self.type_name = type_name
        super().__init__(f"{type_name}: {detail}" if detail else type_name)


def _type_name(obj: object) -> str:
    # type.__getattribute__ bypasses any metaclass override: naming a type runs no
    # student code.
    cls = type(obj)
    name = type.__getattribute__(cls, "__qualname__")
    module = type.__getattribute__(cls, "__module__")
    if type(name) is not str:  # pragma: no cover - defensive
        name = "object"
    if type(module) is not str or module in ("builtins", "__main__"):
        return name
    return f"{module}.{name}"


class InvalidAnswer(ValueError):
    """A well-formed message whose value breaks a limit; the message says which, in
    words a student can act on."""


def _valid_text(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _int_too_long(value: int) -> bool:
    # 3.33 bits per decimal digit; bit_length never converts to text
    return value.bit_length() > MAX_INT_DIGITS * 3.33


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_ELEMENTS
        self.items = MAX_ITEMS
        self.text = MAX_TEXT

    def spend(self, count: int, *, item: bool = True) -> None:
        self.left -= count
        if self.left < 0:
            raise Unsupported("value", f"more than {MAX_ELEMENTS} elements")
        if item:
            self.items -= 1
            if self.items < 0:
                raise Unsupported("value", f"more than {MAX_ITEMS} items outside arrays")

    def spend_text(self, text: str) -> None:
        self.text -= len(text)
        if self.text < 0:
            raise Unsupported("value", f"more than {MAX_TEXT} characters of text")
        if not _valid_text(text):
            raise Unsupported("str holding a lone surrogate (not valid text)")


def _array(obj: np.ndarray, budget: _Budget) -> np.ndarray:
    if obj.dtype.kind not in _ARRAY_KINDS or obj.dtype.fields is not None:
        raise Unsupported(f"numpy.ndarray of dtype {obj.dtype.str}")
    budget.spend(int(obj.size), item=False)
    return np.array(obj, copy=True, order="C")


def _convert(obj: Any, depth: int, budget: _Budget) -> Any:
    cls = type(obj)
    if cls in _SCALARS:
        budget.spend(1)
        if cls is int and _int_too_long(obj):
            raise Unsupported(f"int with more than {MAX_INT_DIGITS} digits")
        if cls is str:
            budget.spend_text(obj)
        return obj
    if cls in _NUMPY_SCALARS:
        budget.spend(1)
        return obj.item()
    if cls is np.ndarray:
        return _array(obj, budget)
    if depth >= MAX_DEPTH:
        raise Unsupported(_type_name(obj), f"nested deeper than {MAX_DEPTH} levels")
    if cls is list:
        budget.spend(1)
        return [_convert(item, depth + 1, budget) for item in list.__iter__(obj)]
    if cls is tuple:
        budget.spend(1)
        return tuple(_convert(item, depth + 1, budget) for item in tuple.__iter__(obj))
    if cls is dict:
        budget.spend(1)
        out = {}
        for key, value in dict.items(obj):
            if type(key) is not str:
                raise Unsupported(f"dict with a {_type_name(key)} key")
            budget.spend_text(key)
            out[key] = _convert(value, depth + 1, budget)
        return out
    raise Unsupported(_type_name(obj))


def to_plain(obj: Any) -> Any:
    """Return ``obj`` as plain data, or raise :class:`Unsupported`.

    Parameters
    ----------
    obj : object
        A value returned by student code.

    Returns
    -------
    object
        The same value built from exact built-in types and C-contiguous array copies;
        NumPy scalars become Python numbers.

    Raises
    ------
    Unsupported
        ``obj`` holds something that is not plain data (its ``type_name`` says what),
        is nested deeper than :data:`MAX_DEPTH` or holds more than
        :data:`MAX_ELEMENTS` scalars.
    """
    return _convert(obj, 0, _Budget())


def outcome_for(obj: Any) -> dict[str, Any]:
    """The sandbox's outcome for a value: ``{"value": ...}`` or ``{"unsupported": ...}``."""
    try:
        return {"value": to_plain(obj)}
    except Unsupported as error:
        return {"unsupported": error.type_name}


# --- wire format ---------------------------------------------------------------------


def _pack(obj: Any) -> Any:
    cls = type(obj)
    if cls is float and not math.isfinite(obj):
        return {"f": repr(obj)}
    if cls in _SCALARS:
        return obj
    if cls is list:
        return [_pack(item) for item in obj]
    if cls is tuple:
        return {"t": [_pack(item) for item in obj]}
    if cls is dict:
        return {"d": {key: _pack(value) for key, value in obj.items()}}
    if cls is np.ndarray:
        data = base64.b64encode(np.ascontiguousarray(obj).tobytes()).decode("ascii")
        return {"a": [obj.dtype.str, list(obj.shape), data]}
    raise Unsupported(_type_name(obj))  # pragma: no cover - to_plain ran first


def encode(obj: Any) -> str:
    """Serialise plain data (after :func:`to_plain`) to the JSON wire format."""
    return json.dumps(_pack(to_plain(obj)), allow_nan=False, separators=(",", ":"))


def _bad(what: str) -> ValueError:
    return ValueError(f"malformed plain-data message: {what}")


def _unpack_array(spec: Any) -> np.ndarray:
    if type(spec) is not list or len(spec) != 3:
        raise _bad("array spec")
    dtype_str, shape, data = spec
    if type(dtype_str) is not str or type(shape) is not list or type(data) is not str:
        raise _bad("array spec types")
    if any(type(n) is not int or n < 0 for n in shape):
        raise _bad("array shape")
    try:
        dtype = np.dtype(dtype_str)
    except TypeError as error:
        raise _bad(f"dtype {dtype_str!r}") from error
    if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None:
        raise _bad(f"dtype {dtype_str!r}")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise _bad("array too large")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as error:  # binascii.Error is a ValueError
        raise _bad("array data is not base64") from error
    if len(raw) != count * dtype.itemsize:
        raise _bad("array byte count")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _unpack(obj: Any, depth: int, budget: _Budget) -> Any:
    if depth > MAX_DEPTH + 1:
        raise _bad("nesting too deep")
    cls = type(obj)
    if cls in _SCALARS:
        if cls is str and not _valid_text(obj):
            raise InvalidAnswer("your answer holds text that is not valid Unicode (a lone "
                                "surrogate such as '\\ud800'); return ordinary text")
        return obj
    if cls is list:
        return [_unpack(item, depth + 1, budget) for item in obj]
    if cls is dict and len(obj) == 1:
        ((tag, body),) = obj.items()
        if tag == "t" and type(body) is list:
            return tuple(_unpack(item, depth + 1, budget) for item in body)
        if tag == "d" and type(body) is dict:
            return {_unpack(key, depth + 1, budget): _unpack(value, depth + 1, budget)
                    for key, value in body.items()}
        if tag == "a":
            array = _unpack_array(body)
            try:
                budget.spend(int(array.size), item=False)
            except Unsupported as error:
                raise InvalidAnswer(f"your answer is too large: {error}") from None
            return array
        if tag == "f" and body in ("nan", "inf", "-inf"):
            return float(body)
    raise _bad(f"unexpected {cls.__name__}")


_JSON_SIGNIFICANT = re.compile(r'\\.|["\[\]{},:]')


def check_json(text: str | bytes, *, max_depth: int, max_items: int) -> None:
    """Raise ``ValueError`` if JSON ``text`` nests deeper than ``max_depth`` or holds
    more than ``max_items`` values, counted outside strings without parsing (so that a
    recursive parser never sees it, and parsing it allocates a bounded number of
    objects)."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", errors="replace")
    depth = items = 0
    in_string = False
    for match in _JSON_SIGNIFICANT.finditer(text):
        ch = match.group()
        if ch == '"':
            in_string = not in_string
            continue
        if in_string or len(ch) > 1:
            continue
        if ch in "[{":
            depth += 1
            if depth > max_depth:
                raise _bad(f"nested deeper than {max_depth} levels")
        elif ch in "]}":
            depth -= 1
        items += 1
        if items > 2 * max_items:  # ",", ":" and brackets: about two per value
            raise _bad(f"more than {max_items} values")


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise InvalidAnswer(f"your answer holds an integer with more than {MAX_INT_DIGITS} "
                            "digits; an answer here is a count or a size")
    return int(digits)


def decode(text: str | bytes) -> Any:
    """Parse the JSON wire format back into plain data (exact types, array copies).

    The nesting and the number of values are checked before parsing; integers, text
    and arrays are checked while decoding.

    Raises
    ------
    InvalidAnswer
        The message is well formed but its value breaks a limit (a ``ValueError``
        whose text is meant for the student).
    ValueError
        The text is not a well-formed plain-data message.
    """
    check_json(text, max_depth=2 * MAX_DEPTH + 4, max_items=MAX_ITEMS)
    try:
        raw = json.loads(text, parse_int=_parse_int,
                         parse_constant=lambda name: _reject_constant(name))
    except json.JSONDecodeError as error:
        raise _bad(str(error)) from error
    except RecursionError as error:  # pragma: no cover - check_json bounds the nesting
        raise _bad("nesting too deep") from error
    return _unpack(raw, 0, _Budget())


def footprint(value: Any) -> int:
    """Approximate bytes a decoded value takes in memory (arrays by their data,
    other objects at 64 bytes each, text by its length)."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        cls = type(item)
        if cls is np.ndarray:
            total += item.nbytes + 112
        elif cls is str:
            total += 64 + len(item)
        elif cls in (list, tuple):
            total += 64 + 8 * len(item)
            stack.extend(item)
        elif cls is dict:
            total += 64 + 100 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 32
    return total


def _reject_constant(name: str) -> Any:
    raise _bad(f"bare {name}")
