"""Receptive fields, effective strides and effective padding of layer stacks.

Pure integer arithmetic (Araujo, Norris and Sim, Distill 2019). For each spatial layer
``l`` with kernel ``k``, stride ``s``, padding ``p`` (before the first pixel) and
dilation ``d``, per axis::

    r_l = r_{l-1} + d*(k - 1) * j_{l-1}     receptive field size (r_0 = 1)
    j_l = j_{l-1} * s                       jump: effective stride (j_0 = 1)
    P_l = P_{l-1} + p * j_{l-1}             effective padding (P_0 = 0)

Output unit ``i`` of layer ``l`` sees input pixels ``i*j_l - P_l`` up to (not including)
``i*j_l - P_l + r_l``. That interval may start before pixel 0 or end after the last
pixel: those positions are padding. With dilation the interval is the *extent* of what
the unit sees; pixels in between can be skipped (a single 3-tap, dilation-2 filter
sees pixels 0, 2 and 4, extent 5).

A stack of layers may be given as

- a :class:`cnnlab.models.Sequential` (or a list of its layer specs): ReLU, BatchNorm,
  Dropout and the like pass through, convolutions, pooling and residual blocks count,
  and ``Flatten``, ``Dense`` or ``GlobalAvgPool2d`` end the spatial part (the stack
  stops there: after them every unit sees the whole input);
- :class:`Window` records, tuples ``(kernel, stride, padding, dilation)`` (trailing
  entries optional), dicts with those keys, or strings such as ``"k3s1"``,
  ``"k3s2p1"``, ``"k3s1d2"``, ``"k7x1s1"``, ``"k3s2psame"``.

Examples
--------
>>> receptive_field(["k3s1", "k3s1"]).size      # two 3x3 convolutions see 5x5
(5, 5)
>>> receptive_field(["k3s1", "k3s1", "k2s2"]).jump
(2, 2)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cnnlab.shapes import (
    Pair,
    PerSide,
    _as_pair,
    conv_output_size,
    pool_output_size,
    resolve_padding,
)

__all__ = [
    "ReceptiveField",
    "Window",
    "input_region",
    "parse_window",
    "receptive_field",
    "receptive_fields",
]


@dataclass(frozen=True)
class Window:
    """The geometry of one sliding-window layer.

    Parameters
    ----------
    kernel, stride, dilation : int or (h, w)
    padding : int, (ph, pw), ((top, bottom), (left, right)), 'valid' or 'same'
    name : str
        Shown in tables; defaults to ``layer<i>``.
    pool : bool
        Pooling layer (its output size follows :func:`cnnlab.shapes.pool_output_size`).
    ceil_mode : bool
        Pooling only; changes the output size, not the receptive field.
    """

    kernel: int | Pair
    stride: int | Pair = 1
    padding: int | Pair | PerSide | str = 0
    dilation: int | Pair = 1
    name: str = ""
    pool: bool = False
    ceil_mode: bool = False

    def __post_init__(self) -> None:
        _as_pair(self.kernel, "kernel", 1)
        _as_pair(self.stride, "stride", 1)
        _as_pair(self.dilation, "dilation", 1)
        resolve_padding((1, 1), 1, 1, self.padding)  # validates the padding's form


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of the units after one layer, per axis ``(height, width)``.

    Attributes
    ----------
    name, kind : str
        The layer.
    size : (rh, rw)
        Input pixels spanned by one unit's receptive field.
    jump : (jh, jw)
        Effective stride: input pixels between neighbouring units.
    padding : (ph, pw)
        Effective padding: the first unit's field starts at input pixel ``-padding``.
    output_size : (H_out, W_out) or None
        Spatial size after the layer, when the input size is known.
    """

    name: str
    kind: str
    size: Pair
    jump: Pair
    padding: Pair
    output_size: Pair | None = None

    def region(self, unit: int | Pair) -> tuple[Pair, Pair]:
        """Half-open input rows and columns seen by output ``unit = (i, j)``."""
        i, j = _unit_pair(unit)
        row = i * self.jump[0] - self.padding[0]
        col = j * self.jump[1] - self.padding[1]
        return ((row, row + self.size[0]), (col, col + self.size[1]))

    def center(self, unit: int | Pair) -> tuple[float, float]:
        """Input coordinates of the centre of ``unit``'s receptive field."""
        (r0, r1), (c0, c1) = self.region(unit)
        return ((r0 + r1 - 1) / 2, (c0 + c1 - 1) / 2)


_TOKEN = re.compile(
    r"^k(?P<kh>\d+)(?:x(?P<kw>\d+))?"
    r"(?:s(?P<sh>\d+)(?:x(?P<sw>\d+))?)?"
    r"(?:p(?:(?P<pmode>same|valid)|(?P<ph>\d+)(?:x(?P<pw>\d+))?))?"
    r"(?:d(?P<dh>\d+)(?:x(?P<dw>\d+))?)?$"
)


def parse_window(text: str) -> Window:
    """Parse a layer written as ``k<kernel>[s<stride>][p<padding>][d<dilation>]``.

    Each number may be ``AxB`` for different height and width; padding may be
    ``same`` or ``valid``. Stride, padding and dilation default to 1, 0 and 1.

    Examples
    --------
    >>> parse_window("k3s2p1")
    Window(kernel=3, stride=2, padding=1, dilation=1, name='k3s2p1', pool=False, ceil_mode=False)
    >>> parse_window("k7x1").kernel
    (7, 1)
    """
    match = _TOKEN.match(text.strip().lower())
    if match is None:
        raise ValueError(
            f"cannot read the layer {text!r}: write it as k<kernel>[s<stride>][p<padding>]"
            "[d<dilation>], e.g. 'k3s1', 'k3s2p1', 'k3s1d2', 'k7x1s1' or 'k3s2psame'."
        )
    g = match.groupdict()

    def number(first: str | None, second: str | None, default: int) -> int | Pair:
        if first is None:
            return default
        return (int(first), int(second)) if second is not None else int(first)

    padding: int | Pair | str = g["pmode"] or number(g["ph"], g["pw"], 0)
    return Window(
        kernel=number(g["kh"], g["kw"], 1),
        stride=number(g["sh"], g["sw"], 1),
        padding=padding,
        dilation=number(g["dh"], g["dw"], 1),
        name=text.strip(),
    )


def _unit_pair(unit: object) -> Pair:
    return _as_pair(unit, "unit", 0, "unit indices count from 0")


# --- normalising a stack -----------------------------------------------------------------

_END = "end"


def _window_from(item: object, index: int) -> Window:
    if isinstance(item, Window):
        return item
    if isinstance(item, str):
        return parse_window(item)
    if isinstance(item, Mapping):
        unknown = set(item) - {"kernel", "stride", "padding", "dilation", "name"}
        if unknown or "kernel" not in item:
            raise ValueError(
                f"layer {index + 1} {dict(item)!r}: a dict needs 'kernel' and may have "
                f"'stride', 'padding', 'dilation' and 'name' (unexpected: {sorted(unknown)})."
            )
        return Window(**item)
    if isinstance(item, (tuple, list)):
        if not 1 <= len(item) <= 4:
            raise ValueError(
                f"layer {index + 1} {tuple(item)!r}: a tuple is (kernel, stride, padding, "
                f"dilation) with the last three optional, not {len(item)} numbers."
            )
        return Window(*item)
    raise TypeError(
        f"layer {index + 1} is a {type(item).__name__}: expected a cnnlab.models layer, a "
        "Window, a (kernel, stride, padding, dilation) tuple, a dict or a string like 'k3s1'."
    )


def _input_size(shape: tuple[int, ...] | None) -> Pair | None:
    return (shape[1], shape[2]) if shape is not None and len(shape) == 3 else None


def _stack(layers: object) -> tuple[list[tuple[str, str, list[Window] | str]], Pair | None]:
    """Layers as ``(name, kind, windows or 'end')`` plus the input size, if known."""
    input_size = _input_size(getattr(layers, "input_shape", None))
    if not hasattr(layers, "named_layers"):
        items = layers
        if isinstance(items, (str, Window)) or not isinstance(items, Iterable):
            items = [items]
        items = list(items)
        from cnnlab.models.spec import Layer, Sequential  # lazy: models imports this module

        if items and all(isinstance(item, Layer) for item in items):
            layers = Sequential(*items)
            input_size = _input_size(getattr(layers, "input_shape", None))
    if hasattr(layers, "named_layers"):
        named = list(layers.named_layers())  # type: ignore[attr-defined]
    else:
        named = [(None, item) for item in items]
    stack: list[tuple[str, str, list[Window] | str]] = []
    counters: dict[str, int] = {}
    for index, (given_name, item) in enumerate(named):
        if getattr(item, "is_input", False):
            shape = item.shape
            if len(shape) == 3:
                input_size = (shape[1], shape[2])
            continue
        if hasattr(item, "receptive_windows"):
            kind = type(item).__name__
            name = given_name or getattr(item, "name", None)
            if not name:
                counters[kind] = counters.get(kind, 0) + 1
                name = f"{kind.lower()}{counters[kind]}"
            if getattr(item, "ends_spatial", False):
                stack.append((name, kind, _END))
            else:
                stack.append((name, kind, list(item.receptive_windows())))
            continue
        window = _window_from(item, index)
        stack.append((window.name or f"layer{index + 1}", "Window", [window]))
    return stack, input_size


# --- the recurrence ---------------------------------------------------------------------------


def receptive_fields(layers: object, input_size: int | Pair | None = None) -> list[ReceptiveField]:
    """Receptive field, jump and effective padding after every layer of a stack.

    Parameters
    ----------
    layers : Sequential, list of layer specs, Windows, tuples, dicts or strings
        See the module docstring. A model's ``Input`` gives the input size.
    input_size : int or (H, W), optional
        Needed for ``'same'`` padding with a stride above 1 (its split depends on the
        size) and to report ``output_size``.

    Returns
    -------
    list of ReceptiveField
        One record per layer up to the end of the spatial part; pass-through layers
        (ReLU, BatchNorm, ...) repeat the previous values.

    Notes
    -----
    Per axis, for a layer of kernel ``k``, stride ``s``, padding ``p`` before the first
    pixel and dilation ``d`` (a residual block applies its main path's layers in turn;
    its shortcut sees a sub-region)::

        r += d*(k - 1) * j
        P += p * j
        j *= s

    References
    ----------
    .. [1] A. Araujo, W. Norris and J. Sim, "Computing Receptive Fields of
       Convolutional Neural Networks", Distill, 2019. doi:10.23915/distill.00021

    Examples
    --------
    >>> for rf in receptive_fields(["k3s2p1", "k3s2p1"], input_size=5):
    ...     print(rf.name, rf.size, rf.jump, rf.padding, rf.output_size)
    k3s2p1 (3, 3) (2, 2) (1, 1) (3, 3)
    k3s2p1 (7, 7) (4, 4) (3, 3) (2, 2)
    """
    return [record for record, _ in _walk(layers, input_size)]


@dataclass(frozen=True)
class _Step:
    """One window with its padding resolved, on an input of ``size_in`` (if known)."""

    kernel: Pair
    stride: Pair
    pad_before: Pair
    dilation: Pair
    size_in: Pair | None


def _walk(
    layers: object, input_size: int | Pair | None
) -> list[tuple[ReceptiveField, list[_Step]]]:
    """Records, each with every resolved step from the input up to that layer."""
    stack, model_size = _stack(layers)
    size = None
    if input_size is not None:
        size = _as_pair(input_size, "input_size", 1, "an image has at least one pixel")
    elif model_size is not None:
        size = model_size
    r, j, p = [1, 1], [1, 1], [0, 0]
    steps: list[_Step] = []
    walked = []
    for name, kind, windows in stack:
        if windows == _END:
            break
        assert isinstance(windows, list)
        for window in windows:
            step, size = _apply(window, size, name)
            steps.append(step)
            for axis in range(2):
                r[axis] += step.dilation[axis] * (step.kernel[axis] - 1) * j[axis]
                p[axis] += step.pad_before[axis] * j[axis]
                j[axis] *= step.stride[axis]
        record = ReceptiveField(
            name=name,
            kind=kind,
            size=(r[0], r[1]),
            jump=(j[0], j[1]),
            padding=(p[0], p[1]),
            output_size=size,
        )
        walked.append((record, list(steps)))
    return walked


def _apply(window: Window, size: Pair | None, name: str) -> tuple[_Step, Pair | None]:
    """Resolve one window's padding and return it with the size after it."""
    kernel = _as_pair(window.kernel, "kernel", 1)
    stride = _as_pair(window.stride, "stride", 1)
    dilation = _as_pair(window.dilation, "dilation", 1)
    if size is not None:
        pads = resolve_padding(size, kernel, stride, window.padding, dilation)
    elif isinstance(window.padding, str) and window.padding.lower() == "same":
        if stride != (1, 1):
            raise ValueError(
                f"layer {name!r}: 'same' padding with stride {stride} splits differently "
                "for different input sizes, so the receptive field's offset depends on "
                "the input size: pass input_size=..."
            )
        pads = resolve_padding((1, 1), kernel, 1, "same", dilation)
    else:
        pads = resolve_padding((1, 1), 1, 1, window.padding)
    step = _Step(kernel, stride, (pads[0][0], pads[1][0]), dilation, size)
    if size is None:
        return step, None
    if window.pool:
        out = pool_output_size(size, kernel, stride, pads, ceil_mode=window.ceil_mode)
    else:
        out = conv_output_size(size, kernel, stride, pads, dilation)
    assert isinstance(out, tuple)
    return step, out


def _influence(steps: list[_Step], unit: int, axis: int) -> tuple[int, int]:
    """Half-open extent of the input pixels that really reach ``unit`` along ``axis``:
    back-track position by position, dropping padding (zeros) at every layer."""
    positions = {unit}
    for step in reversed(steps):
        k, s = step.kernel[axis], step.stride[axis]
        d, p = step.dilation[axis], step.pad_before[axis]
        assert step.size_in is not None
        n = step.size_in[axis]
        positions = {
            x * s - p + d * t for x in positions for t in range(k) if 0 <= x * s - p + d * t < n
        }
    if not positions:
        return (0, 0)
    return (min(positions), max(positions) + 1)


def receptive_field(layers: object, input_size: int | Pair | None = None) -> ReceptiveField:
    """The receptive field after the last spatial layer of ``layers``.

    Examples
    --------
    >>> receptive_field([(3, 1, 1, 2), (3, 1, 2, 4)]).size   # dilations 2, then 4
    (13, 13)
    """
    records = receptive_fields(layers, input_size)
    if not records:
        raise ValueError(
            "the stack has no spatial layer before Flatten/Dense, so there is no "
            "receptive field to report."
        )
    return records[-1]


def input_region(
    layers: object,
    unit: int | Pair,
    *,
    input_size: int | Pair | None = None,
    clip: bool = False,
) -> tuple[Pair, Pair]:
    """Input pixels seen by output ``unit = (i, j)`` of the last spatial layer.

    Parameters
    ----------
    layers : see :func:`receptive_fields`
    unit : int or (i, j)
        Row and column of the output unit, counted from 0.
    input_size : int or (H, W), optional
        Needed for ``clip`` unless the model has an ``Input``; also checks ``unit``.
    clip : bool, default False
        Unclipped (the Araujo et al. geometry), the region can start below 0 or stop
        past the last pixel: those positions are zero padding. Clipped, it is the
        extent of the input pixels that really influence the unit, found by
        back-tracking: besides cutting at the image border, a hidden layer's padding
        is zeros and passes nothing on, so the clipped region can be smaller than the
        unclipped one intersected with the image. ``(0, 0)`` if nothing reaches it.
    Returns
    -------
    ((row_start, row_stop), (col_start, col_stop))
        Half-open: rows ``row_start <= y < row_stop``.

    Notes
    -----
    Unclipped, ``start = i*j_L - P_L`` and ``stop = start + r_L`` per axis (see the
    module docstring). With dilation, pixels inside the extent can be skipped.

    Examples
    --------
    >>> input_region(["k3s1p1", "k3s1p1"], (0, 0))          # reaches into the padding
    ((-2, 3), (-2, 3))
    >>> input_region(["k3s1p1", "k3s1p1"], (0, 0), input_size=8, clip=True)
    ((0, 3), (0, 3))
    """
    walked = _walk(layers, input_size)
    if not walked:
        receptive_field(layers, input_size)  # raises the "no spatial layer" message
    last, steps = walked[-1]
    i, j = _unit_pair(unit)
    if last.output_size is not None:
        h_out, w_out = last.output_size
        if i >= h_out or j >= w_out:
            raise ValueError(
                f"unit ({i}, {j}) is outside the {h_out}x{w_out} output of the last "
                f"spatial layer {last.name!r}: rows go 0..{h_out - 1}, columns 0..{w_out - 1}."
            )
    if not clip:
        return last.region((i, j))
    if last.output_size is None:
        raise ValueError(
            "clip=True needs the input size: pass input_size=(H, W) or give the model an Input."
        )
    return (_influence(steps, i, 0), _influence(steps, j, 1))
