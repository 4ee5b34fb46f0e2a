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
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np

__all__ = [
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "Unsupported",
    "decode",
    "encode",
    "outcome_for",
    "to_plain",
]

#: Deepest nesting of lists, tuples and dicts accepted (a cycle hits this limit).
MAX_DEPTH = 32
#: Most scalars (array elements included) one value may hold: 16 Mi, 128 MiB of float64.
MAX_ELEMENTS = 16 * 1024 * 1024

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


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_ELEMENTS

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise Unsupported("value", f"more than {MAX_ELEMENTS} elements")


def _array(obj: np.ndarray, budget: _Budget) -> np.ndarray:
    if obj.dtype.kind not in _ARRAY_KINDS or obj.dtype.fields is not None:
        raise Unsupported(f"numpy.ndarray of dtype {obj.dtype.str}")
    budget.spend(int(obj.size))
    return np.array(obj, copy=True, order="C")


def _convert(obj: Any, depth: int, budget: _Budget) -> Any:
    cls = type(obj)
    if cls in _SCALARS:
        budget.spend(1)
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


def _unpack(obj: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH + 1:
        raise _bad("nesting too deep")
    cls = type(obj)
    if cls in _SCALARS:
        return obj
    if cls is list:
        return [_unpack(item, depth + 1) for item in obj]
    if cls is dict and len(obj) == 1:
        ((tag, body),) = obj.items()
        if tag == "t" and type(body) is list:
            return tuple(_unpack(item, depth + 1) for item in body)
        if tag == "d" and type(body) is dict:
            return {key: _unpack(value, depth + 1) for key, value in body.items()}
        if tag == "a":
            return _unpack_array(body)
        if tag == "f" and body in ("nan", "inf", "-inf"):
            return float(body)
    raise _bad(f"unexpected {cls.__name__}")


def decode(text: str | bytes) -> Any:
    """Parse the JSON wire format back into plain data (exact types, array copies).

    Raises
    ------
    ValueError
        The text is not a well-formed plain-data message.
    """
    try:
        raw = json.loads(text, parse_constant=lambda name: _reject_constant(name))
    except json.JSONDecodeError as error:
        raise _bad(str(error)) from error
    return _unpack(raw)


def _reject_constant(name: str) -> Any:
    raise _bad(f"bare {name}")
