"""Input checks shared by the fast layers and the naive loops.

Every public op calls these *before* any Numba kernel runs: the kernels do not
bounds-check, so a wrong shape must become a ``ValueError`` here, never a wrong memory
access there. Messages say what was expected, what was found and the likely
misconception. The size arithmetic itself is :mod:`cnnlab.shapes`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnlab.shapes import conv_output_size, pool_output_size, resolve_padding

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

Pair = tuple[int, int]
PerSide = tuple[Pair, Pair]

_LAYOUTS = {
    4: "(N, C, H, W): a batch of N images with C channels",
    2: "(N, D): a batch of N flat feature vectors",
    1: "one value per filter or per example",
}


def as_float_array(value: Any, name: str, ndim: int, where: str) -> np.ndarray:
    """Return ``value`` as a C-contiguous float32/float64 array of ``ndim`` axes.

    Raises ``TypeError`` for other dtypes (no silent casts: an int image would
    otherwise be floored) and ``ValueError`` for the wrong number of axes or an empty
    axis, with a hint for the usual mix-ups (a single image without its batch axis,
    channels last, forgetting ``flatten``).
    """
    array = np.asarray(value)
    if array.dtype not in FLOAT_DTYPES:
        hint = ""
        if array.dtype.kind in "iub":
            hint = (
                " Integer images (e.g. uint8 pixels) must be converted first, e.g. "
                "x.astype(np.float32) / 255."
            )
        raise TypeError(
            f"{where}: {name} must be float32 or float64, found {array.dtype}.{hint}"
        )
    if array.ndim != ndim:
        hint = ""
        if ndim == 4 and array.ndim == 3:
            hint = (
                f" A single image {array.shape} needs a batch axis: pass {name}[None] "
                "(shape (1, C, H, W))."
            )
        elif ndim == 2 and array.ndim > 2:
            hint = (
                f" A {array.ndim}-D activation must be flattened to (N, D) first: "
                "out, cache = flatten(x)."
            )
        raise ValueError(
            f"{where}: {name} must be {ndim}-D {_LAYOUTS[ndim]}, found shape "
            f"{array.shape} ({array.ndim}-D).{hint}"
        )
    if 0 in array.shape:
        raise ValueError(f"{where}: {name} has an empty axis, shape {array.shape}.")
    return np.ascontiguousarray(array)


def same_dtype(where: str, **arrays: np.ndarray | None) -> np.dtype:
    """Return the common dtype of ``arrays`` (``None`` entries skipped) or raise."""
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        found = ", ".join(f"{name} is {dtype}" for name, dtype in dtypes.items())
        raise TypeError(
            f"{where}: mixed dtypes ({found}). cnnlab does not promote silently: cast "
            "them to one dtype, e.g. w.astype(x.dtype)."
        )
    return next(iter(dtypes.values()))


def check_dout(dout: Any, shape: tuple[int, ...], dtype: np.dtype, where: str) -> np.ndarray:
    """``dout`` must have exactly the forward output's shape and dtype."""
    dout = np.asarray(dout)
    if dout.shape != tuple(shape):
        raise ValueError(
            f"{where}: dout has shape {dout.shape} but the forward output had shape "
            f"{tuple(shape)}. dout is the gradient of the loss with respect to this "
            "layer's output, so it has that output's shape: did you pass the cache of "
            "a different layer, or the gradient of the next layer's input?"
        )
    if dout.dtype != dtype:
        raise TypeError(
            f"{where}: dout is {dout.dtype} but the forward pass ran in {dtype}: keep "
            "one dtype through the whole network."
        )
    return np.ascontiguousarray(dout)


def check_flag(value: Any, name: str, where: str) -> bool:
    """A True/False option (``ceil_mode``, ``count_include_pad``) as a plain bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}.")
    return bool(value)


def pair(value: int | Pair) -> Pair:
    """``(h, w)`` from an int or a pair that :mod:`cnnlab.shapes` already accepted."""
    if isinstance(value, (tuple, list)):
        return (int(value[0]), int(value[1]))
    return (int(value), int(value))


def _shape_error(where: str, context: str, error: Exception) -> Exception:
    """Re-raise a :mod:`cnnlab.shapes` error with the layer and array shapes in front."""
    return type(error)(f"{where}: {context}: {error}")


@dataclass(frozen=True)
class ConvGeometry:
    """Everything a convolution needs besides the arrays, validated.

    ``padding`` is per side, ``((top, bottom), (left, right))``.
    """

    stride: Pair
    padding: PerSide
    dilation: Pair
    groups: int
    out_shape: tuple[int, int, int, int]  # (N, F, H_out, W_out)


#: Geometries already checked, by :func:`_geometry_key`; cleared when it holds this many.
GEOMETRY_MEMO_SIZE = 512
_geometries: dict[tuple, ConvGeometry] = {}


def _plain(value: Any) -> Any:
    """``value`` if it is a plain int or str, or a tuple of those or of tuples of plain
    ints, else ``None``. Only such values key the memo: ``1.0``, ``True`` and
    ``np.int64(1)`` compare equal to ``1`` but must still get their own error (or none)."""
    if type(value) in (int, str):
        return value
    if type(value) is tuple and all(
        type(v) is int or (type(v) is tuple and all(type(e) is int for e in v)) for v in value
    ):
        return value
    return None


def _geometry_key(x, w, b, stride, padding, dilation, groups) -> tuple | None:
    """What a convolution's geometry depends on (shapes and options), or ``None`` when
    an option is of a kind the memo leaves to the full check (see :func:`_plain`)."""
    options = (_plain(stride), _plain(padding), _plain(dilation), _plain(groups))
    if None in options:
        return None
    return (x.shape, w.shape, None if b is None else b.shape, *options)


def conv2d_geometry(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
    where: str,
) -> ConvGeometry:
    """Check that ``x`` (N, C, H, W), ``w`` (F, C/groups, KH, KW) and ``b`` (F,) fit.

    A layer called again with the same shapes and options (every training step, every
    probe of a gradient check) gets the geometry it passed with before, from a memo:
    the checks and the size arithmetic of :mod:`cnnlab.shapes` take about 14 us, more
    than a small layer's kernel (4 images of 3x12x12 in float64: 7 us). Only checks
    that passed are kept, so a wrong call always raises.
    """
    key = _geometry_key(x, w, b, stride, padding, dilation, groups)
    geometry = None if key is None else _geometries.get(key)
    if geometry is None:
        geometry = _check_conv2d_geometry(x, w, b, stride, padding, dilation, groups, where)
        if key is not None:
            if len(_geometries) >= GEOMETRY_MEMO_SIZE:
                _geometries.clear()
            _geometries[key] = geometry
    return geometry


def _check_conv2d_geometry(x, w, b, stride, padding, dilation, groups, where) -> ConvGeometry:
    """:func:`conv2d_geometry` without the memo."""
    N, C, H, W = x.shape
    F, C_w, KH, KW = w.shape
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive int, got {groups!r}.")
    groups = int(groups)
    if C % groups or F % groups:
        raise ValueError(
            f"{where}: groups={groups} must divide both the input channels C={C} (x "
            f"{x.shape}) and the filters F={F} (w {w.shape}): each group convolves "
            "C/groups input channels into F/groups output channels."
        )
    if C_w != C // groups:
        if groups == 1:
            hint = (
                f"w must be (F, C, KH, KW) = ({F}, {C}, {KH}, {KW}): each filter spans "
                "all input channels."
            )
            if x.shape[3] == C_w:
                hint += (
                    f" x looks channels-last (N, H, W, C) = {x.shape}: cnnlab uses NCHW, "
                    "x.transpose(0, 3, 1, 2)."
                )
            elif w.shape[0] == C:
                hint += " It looks like F and C are swapped (cnnlab uses (F, C, KH, KW))."
            elif w.shape[2] == C:
                hint += (
                    " w looks channels-last (KH, KW, C, F); cnnlab uses (F, C, KH, KW): "
                    "w.transpose(3, 2, 0, 1)."
                )
        else:
            hint = (
                f"with groups={groups} each filter sees C/groups = {C // groups} "
                f"channels, so w must be ({F}, {C // groups}, {KH}, {KW})."
            )
        raise ValueError(
            f"{where}: channel mismatch: x has C={C} channels (x {x.shape}) but w has "
            f"{C_w} input channels (w {w.shape}); {hint}"
        )
    if b is not None and b.shape != (F,):
        raise ValueError(
            f"{where}: b must have one value per filter, shape ({F},), found {b.shape}."
        )
    context = f"x {x.shape}, w {w.shape}"
    try:
        H_out, W_out = conv_output_size((H, W), (KH, KW), stride, padding, dilation)
        pads = resolve_padding((H, W), (KH, KW), stride, padding, dilation)
    except (TypeError, ValueError) as error:
        raise _shape_error(where, context, error) from None
    return ConvGeometry(
        stride=pair(stride),
        padding=pads,
        dilation=pair(dilation),
        groups=groups,
        out_shape=(N, F, H_out, W_out),
    )


@dataclass(frozen=True)
class PoolGeometry:
    """Window, stride, per-side padding and output shape of a pooling layer."""

    kernel: Pair
    stride: Pair
    padding: PerSide
    ceil_mode: bool
    out_shape: tuple[int, int, int, int]  # (N, C, H_out, W_out)


def pool2d_geometry(
    x: np.ndarray, kernel: Any, stride: Any, padding: Any, ceil_mode: Any, where: str
) -> PoolGeometry:
    """Resolve and check a pooling window on ``x`` (N, C, H, W)."""
    N, C, H, W = x.shape
    if stride is None:
        stride = kernel
    ceil_mode = check_flag(ceil_mode, "ceil_mode", where)
    try:
        H_out, W_out = pool_output_size((H, W), kernel, stride, padding, ceil_mode=ceil_mode)
        pads = resolve_padding((H, W), kernel, stride, padding)
    except (TypeError, ValueError) as error:
        raise _shape_error(where, f"x {x.shape}", error) from None
    return PoolGeometry(
        kernel=pair(kernel),
        stride=pair(stride),
        padding=pads,
        ceil_mode=ceil_mode,
        out_shape=(N, C, H_out, W_out),
    )


def pad_nchw(x: np.ndarray, padding: PerSide, value: float = 0.0) -> np.ndarray:
    """Pad the two spatial axes of ``x`` per side; a C-contiguous array either way."""
    (top, bottom), (left, right) = padding
    if top == bottom == left == right == 0:
        return np.ascontiguousarray(x)
    N, C, H, W = x.shape
    xp = np.full((N, C, top + H + bottom, left + W + right), value, dtype=x.dtype)
    xp[:, :, top : top + H, left : left + W] = x
    return xp
