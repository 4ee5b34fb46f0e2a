"""Output sizes of convolution, pooling and transposed convolution.

Pure integer arithmetic: this module imports nothing but the standard library, knows
nothing of arrays, and is what every other part of cnnlab asks when it needs a size.

Every function takes either plain ints (one spatial axis, or a square image) or
``(h, w)`` pairs. The result has the form of the input size ``n``: an int for an int,
an ``(h, w)`` tuple for a pair.

Padding may be

- an int ``p``: ``p`` zero pixels on every side;
- a pair ``(ph, pw)``: ``ph`` at the top and at the bottom, ``pw`` left and right;
- per-side pairs ``((top, bottom), (left, right))``, as :func:`resolve_padding` returns;
- ``'valid'``: no padding;
- ``'same'``: TensorFlow/Keras padding, for any stride: the output has ``ceil(n/s)``
  pixels and an odd total padding puts the extra pixel at the end (bottom/right).

Examples
--------
>>> conv_output_size(227, 11, stride=4)   # AlexNet conv1
55
>>> conv_output_size((32, 32), 5)          # CS231n: 32x32 input, 5x5 filter
(28, 28)
>>> pool_output_size(55, 3, stride=2)      # AlexNet pool1
27
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "explain_conv_output_size",
    "fits",
    "fitting_strides",
    "leftover_pixels",
    "pool_output_size",
    "resolve_padding",
    "unread_pixels",
]

Pair = tuple[int, int]
PerSide = tuple[tuple[int, int], tuple[int, int]]

_AXIS_NAMES = ("height", "width")
_SIDE_NAMES = (("top", "bottom"), ("left", "right"))
_MINIMUM_HINTS = {
    "n": "an input needs at least one pixel",
    "kernel": "a window covers at least one pixel",
    "stride": (
        "the stride is how many pixels the window moves each step: 1 moves one pixel "
        "at a time, and 0 or less would never move it forward"
    ),
    "padding": (
        "padding adds zero pixels on each side and cannot be negative; to shrink an "
        "image use a larger kernel, a stride or cropping"
    ),
    "dilation": (
        "dilation is the step between kernel taps, as in PyTorch: 1 is an ordinary "
        "convolution, 2 leaves a one-pixel gap (there is no dilation 0)"
    ),
    "output_padding": "output_padding adds pixels at the end and cannot be negative",
}


# --- validation --------------------------------------------------------------------


def _as_int(value: object, name: str, minimum: int, hint: str | None = None) -> int:
    """Return ``value`` as an int >= ``minimum`` or raise a message for students.

    ``hint`` explains the minimum; the module's own argument names have one built in.
    """
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        found = f"{value!r} ({type(value).__name__})"
        if isinstance(value, bool):
            advice = "booleans are not sizes."
        elif isinstance(value, float) and value.is_integer():
            advice = f"pass int({value!r}) = {int(value)}; sizes and counts are whole numbers."
        elif isinstance(value, float):
            advice = "sizes and counts are whole numbers; if you computed it with '/', use '//'."
        else:
            advice = "sizes and counts are whole numbers."
        raise TypeError(f"{name} must be an integer, got {found}: {advice}")
    number = operator.index(value)  # type: ignore[arg-type]
    if number < minimum:
        hint = hint or _MINIMUM_HINTS.get(name, f"{name} counts something")
        raise ValueError(f"{name} must be at least {minimum}, got {number}: {hint}.")
    return number


def _as_pair(value: object, name: str, minimum: int, hint: str | None = None) -> Pair:
    """Return ``(h, w)`` from an int (used for both axes) or a length-2 sequence."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise TypeError(
                f"{name} must be an int or an (h, w) pair, got {tuple(value)!r} with "
                f"{len(value)} entries: sizes here are spatial only (no channel or "
                "batch axis)."
            )
        return (
            _as_int(value[0], name, minimum, hint),
            _as_int(value[1], name, minimum, hint),
        )
    number = _as_int(value, name, minimum, hint)
    return (number, number)


def _is_pair(value: object) -> bool:
    return isinstance(value, (tuple, list))


def _check_scalar_form(n: object, **others: object) -> None:
    """An int ``n`` asks for an int answer, so no other argument may be a pair."""
    if _is_pair(n):
        return
    for name, value in others.items():
        if _is_pair(value) and not (name == "padding" and _is_per_side(value)):
            raise TypeError(
                f"n is a single int ({n!r}) but {name} is a pair {tuple(value)!r}: "  # type: ignore[arg-type]
                f"pass n as an (h, w) pair to use a different {name} per axis."
            )


def _is_per_side(value: object) -> bool:
    return (
        _is_pair(value)
        and len(value) == 2  # type: ignore[arg-type]
        and all(_is_pair(side) for side in value)  # type: ignore[union-attr]
    )


def _padding_mode(padding: object) -> str | PerSide:
    """Normalise padding to ``'same'`` or per-side pairs ``((top, bottom), (left, right))``."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0), (0, 0))
        if mode == "same":
            return "same"
        hint = (
            " 'full' padding is kernel - 1 pixels per side: pass that number."
            if mode == "full"
            else ""
        )
        raise ValueError(
            f"padding must be an int, an (h, w) pair, 'valid' or 'same', got {padding!r}." + hint
        )
    if _is_per_side(padding):
        (top, bottom), (left, right) = padding  # type: ignore[misc]
        return (
            (_as_int(top, "padding", 0), _as_int(bottom, "padding", 0)),
            (_as_int(left, "padding", 0), _as_int(right, "padding", 0)),
        )
    height, width = _as_pair(padding, "padding", 0)
    return ((height, height), (width, width))


# --- one spatial axis --------------------------------------------------------------


@dataclass(frozen=True)
class _Axis:
    """One spatial axis of a sliding-window layer, padding resolved per side."""

    n: int
    kernel: int
    stride: int
    dilation: int
    pad_before: int
    pad_after: int
    label: str  # "" for a scalar input, else "height" or "width"

    @property
    def span(self) -> int:
        """Input pixels covered by one (dilated) window: ``d*(k-1) + 1``."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def padded(self) -> int:
        return self.n + self.pad_before + self.pad_after

    @property
    def room(self) -> int:
        """How far the window can slide: ``n + pads - span`` (negative: it does not fit)."""
        return self.padded - self.span

    @property
    def output(self) -> int:
        return self.room // self.stride + 1

    @property
    def leftover(self) -> int:
        """Pixels of the padded input after the last full window (0: the stride fits)."""
        return self.room % self.stride

    @property
    def leftover_input(self) -> int:
        """Input pixels (not padding) among the :attr:`leftover` ones at the end."""
        start = self.padded - self.leftover
        return max(0, self.pad_before + self.n - max(start, self.pad_before))

    def is_read(self, position: int) -> bool:
        """True if some tap of some window reads ``position`` of the padded axis."""
        s, d, out = self.stride, self.dilation, self.output
        return any(
            (position - a * d) % s == 0 and 0 <= (position - a * d) // s < out
            for a in range(self.kernel)
        )

    @property
    def unread(self) -> int:
        """Input pixels (padding excluded) that no tap of any window reads.

        Position ``p`` of the padded axis is read when ``p = i*s + a*d`` for a window
        ``0 <= i < H_out`` and a tap ``0 <= a < k``. Away from the two ends
        (``(k-1)*d <= p <= (H_out-1)*s``) every tap has a window there, so ``p`` is read
        exactly when ``p mod s`` is one of the residues ``a*d mod s``: the middle is
        counted per residue class, the ends pixel by pixel.
        """
        s, d, k = self.stride, self.dilation, self.kernel
        first, last = self.pad_before, self.pad_before + self.n - 1
        lo, hi = (k - 1) * d, (self.output - 1) * s
        middle = (max(first, lo), min(last, hi))
        ends = range(first, last + 1) if middle[0] > middle[1] else (
            *range(first, middle[0]), *range(middle[1] + 1, last + 1))
        unread = sum(1 for p in ends if not self.is_read(p))
        if middle[0] <= middle[1]:
            residues = {(a * d) % s for a in range(min(k, s))}
            for r in set(range(s)) - residues:
                # positions p = r (mod s) in [middle[0], middle[1]]
                start = middle[0] + (r - middle[0]) % s
                if start <= middle[1]:
                    unread += (middle[1] - start) // s + 1
        return unread

    def where(self) -> str:
        return f" ({self.label})" if self.label else ""

    def require_fit(self) -> None:
        if self.room >= 0:
            return
        kernel = f"a {self.kernel}-pixel kernel"
        if self.dilation > 1:
            kernel += f" with dilation {self.dilation} spans {self.span} input pixels"
        else:
            kernel += f" spans {self.span} input pixels"
        raise ValueError(
            f"The kernel does not fit{self.where()}: {kernel}, but the input has only "
            f"{self.n} pixels plus padding {self.pad_before} + {self.pad_after} = "
            f"{self.padded}. Use a smaller kernel or dilation, pad more, or check that "
            "the input is not already smaller than you think."
        )


def _same_padding(n: int, kernel: int, stride: int, dilation: int) -> Pair:
    """TensorFlow/Keras 'same': output ``ceil(n/s)``, the extra pixel at the end."""
    output = -(-n // stride)
    total = max((output - 1) * stride + dilation * (kernel - 1) + 1 - n, 0)
    return (total // 2, total - total // 2)


def _axes(
    n: object, kernel: object, stride: object, padding: object, dilation: object
) -> list[_Axis]:
    """Validate every argument and resolve the padding of each spatial axis."""
    _check_scalar_form(n, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    scalar = not _is_pair(n)
    sizes = _as_pair(n, "n", 1)
    kernels = _as_pair(kernel, "kernel", 1)
    strides = _as_pair(stride, "stride", 1)
    dilations = _as_pair(dilation, "dilation", 1)
    mode = _padding_mode(padding)
    if scalar and mode != "same" and mode[0] != mode[1]:
        raise TypeError(
            f"n is a single int ({sizes[0]}) but the padding {padding!r} differs between "
            "height and width: pass n as an (h, w) pair."
        )
    axes = []
    for i in range(2):
        if mode == "same":
            before, after = _same_padding(sizes[i], kernels[i], strides[i], dilations[i])
        else:
            before, after = mode[i]
        axes.append(
            _Axis(
                n=sizes[i],
                kernel=kernels[i],
                stride=strides[i],
                dilation=dilations[i],
                pad_before=before,
                pad_after=after,
                label="" if scalar else _AXIS_NAMES[i],
            )
        )
    return axes[:1] if scalar else axes


def _shape_like(n: object, values: list[int]) -> int | Pair:
    return (values[0], values[1]) if _is_pair(n) else values[0]


def _fitting_strides(axis: _Axis, same: bool) -> list[int]:
    """Strides from 1 to the padded size that leave no pixel over on this axis."""
    result = []
    for stride in range(1, axis.padded + 1):
        before, after = (
            _same_padding(axis.n, axis.kernel, stride, axis.dilation)
            if same
            else (axis.pad_before, axis.pad_after)
        )
        room = axis.n + before + after - axis.span
        if room >= 0 and room % stride == 0:
            result.append(stride)
    return result


def _require_no_leftover(axis: _Axis, same: bool) -> None:
    if axis.leftover == 0:
        return
    strides = ", ".join(str(s) for s in _fitting_strides(axis, same))
    pixels = "pixel" if axis.leftover == 1 else "pixels"
    raise ValueError(
        f"stride {axis.stride} doesn't fit{axis.where()}: the window can slide "
        f"{axis.padded} - {axis.span} = {axis.room} pixels (padded input minus kernel "
        f"span), which is not a multiple of {axis.stride}, so {axis.leftover} input "
        f"{pixels} at the end would never be covered by a window. Strides that fit: "
        f"{strides}. Change the stride or the padding, or pass strict=False to drop "
        "those pixels as PyTorch and Keras do."
    )


# --- public API --------------------------------------------------------------------


def conv_output_size(
    n: int | Pair,
    kernel: int | Pair,
    stride: int | Pair = 1,
    padding: int | Pair | PerSide | str = 0,
    dilation: int | Pair = 1,
    *,
    strict: bool = False,
) -> int | Pair:
    """Spatial output size of a convolution.

    Parameters
    ----------
    n : int or (H, W)
        Input size in pixels.
    kernel : int or (KH, KW)
        Kernel (filter) size.
    stride : int or (sh, sw), default 1
        Step of the window.
    padding : int, (ph, pw), ((top, bottom), (left, right)), 'valid' or 'same'
        Zero padding per side (see the module docstring).
    dilation : int or (dh, dw), default 1
        Step between kernel taps; 1 is an ordinary convolution (PyTorch convention).
    strict : bool, default False
        If True, a stride that leaves input pixels over raises ``ValueError`` (CS231n's
        "doesn't fit") instead of silently dropping them.

    Returns
    -------
    int or (H_out, W_out)
        An int when ``n`` is an int, a pair when ``n`` is a pair.

    Raises
    ------
    TypeError
        A size that is not an integer (``bool`` and ``float`` are refused).
    ValueError
        Stride or dilation below 1, negative padding, a (dilated) kernel larger than
        the padded input, or with ``strict=True`` a stride that does not fit.

    Notes
    -----
    With padding ``p`` on each side, per axis::

        H_out = floor((n + 2p - d*(k - 1) - 1) / s) + 1

    With per-side padding ``2p`` becomes ``p_before + p_after``. ``'same'`` chooses
    ``p_before + p_after = max((ceil(n/s) - 1)*s + d*(k - 1) + 1 - n, 0)`` so that
    ``H_out = ceil(n/s)``, with ``p_before`` the smaller half (TensorFlow/Keras).

    References
    ----------
    .. [1] V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep
       learning", arXiv:1603.07285, 2016.
    .. [2] PyTorch, ``torch.nn.Conv2d`` documentation (shape formula).
    .. [3] TensorFlow, ``tf.nn.convolution`` documentation ('SAME' padding).

    Examples
    --------
    >>> conv_output_size(7, 3, stride=2)
    3
    >>> conv_output_size((32, 32), 5, stride=2, padding="same")
    (16, 16)
    >>> conv_output_size(7, 3, stride=3, strict=True)
    Traceback (most recent call last):
    ...
    ValueError: stride 3 doesn't fit: the window can slide 7 - 3 = 4 pixels (padded input minus kernel span), which is not a multiple of 3, so 1 input pixel at the end would never be covered by a window. Strides that fit: 1, 2, 4. Change the stride or the padding, or pass strict=False to drop those pixels as PyTorch and Keras do.
    """  # noqa: E501
    axes = _axes(n, kernel, stride, padding, dilation)
    same = _padding_mode(padding) == "same"
    for axis in axes:
        axis.require_fit()
        if strict:
            _require_no_leftover(axis, same)
    return _shape_like(n, [axis.output for axis in axes])


def resolve_padding(
    n: int | Pair,
    kernel: int | Pair,
    stride: int | Pair = 1,
    padding: int | Pair | PerSide | str = 0,
    dilation: int | Pair = 1,
) -> PerSide:
    """Padding per side, ``((top, bottom), (left, right))``, for any padding form.

    Parameters
    ----------
    n : int or (H, W)
        Input size; an int means a square ``n x n`` input.
    kernel, stride, dilation : int or pair
        As in :func:`conv_output_size`; only ``'same'`` depends on them.
    padding : int, (ph, pw), ((top, bottom), (left, right)), 'valid' or 'same'

    Returns
    -------
    ((top, bottom), (left, right))
        Always the two-axis form, whatever the form of ``n``.

    Notes
    -----
    ``'same'`` pads ``max((ceil(n/s) - 1)*s + d*(k - 1) + 1 - n, 0)`` pixels in total
    per axis; when that is odd the extra pixel goes at the end (bottom/right), as in
    TensorFlow/Keras. PyTorch's ``padding='same'`` (stride 1 only) does the same.
    This function does not check that the kernel fits; :func:`conv_output_size` does.

    References
    ----------
    .. [1] TensorFlow, ``tf.nn.convolution`` documentation ('SAME' padding).

    Examples
    --------
    >>> resolve_padding(32, 5, stride=2, padding="same")
    ((1, 2), (1, 2))
    >>> resolve_padding((28, 28), 3, padding=(1, 0))
    ((1, 1), (0, 0))
    """
    axes = _axes(n, kernel, stride, padding, dilation)
    if len(axes) == 1:
        axes = axes * 2
    return (
        (axes[0].pad_before, axes[0].pad_after),
        (axes[1].pad_before, axes[1].pad_after),
    )


def leftover_pixels(
    n: int | Pair,
    kernel: int | Pair,
    stride: int | Pair = 1,
    padding: int | Pair | PerSide | str = 0,
    dilation: int | Pair = 1,
) -> int | Pair:
    """Pixels of the padded input past the last window's end (0 when the stride fits).

    Notes
    -----
    ``leftover = (n + p_before + p_after - d*(k - 1) - 1) mod s``. These are the rows
    (columns) at the end that no window reaches. Pixels inside the windows' span can
    also go unread, when a dilated kernel's gaps or a stride longer than the window
    are not filled by another window; this count leaves those out (:func:`unread_pixels`
    counts them all).

    Examples
    --------
    >>> leftover_pixels(7, 3, stride=3)
    1
    """
    return _per_axis("leftover", n, kernel, stride, padding, dilation)


def _per_axis(attribute: str, n, kernel, stride, padding, dilation) -> int | Pair:
    """One :class:`_Axis` figure per axis, shaped like ``n``, after checking the fit."""
    axes = _axes(n, kernel, stride, padding, dilation)
    for axis in axes:
        axis.require_fit()
    return _shape_like(n, [getattr(axis, attribute) for axis in axes])


def unread_pixels(
    n: int | Pair,
    kernel: int | Pair,
    stride: int | Pair = 1,
    padding: int | Pair | PerSide | str = 0,
    dilation: int | Pair = 1,
) -> int | Pair:
    """Input pixels per axis that no tap of any window reads (padding not counted).

    Notes
    -----
    A pixel goes unread when it is left over at the end (:func:`leftover_pixels`), when
    it falls between the taps of a dilated kernel and no other window's tap lands on it,
    or when the stride is longer than the window. Position ``p`` of the padded axis is
    read when ``p = i*s + a*d`` for some window ``0 <= i < H_out`` and tap
    ``0 <= a < k``.

    Examples
    --------
    >>> unread_pixels(7, 3, stride=3)          # the last pixel is left over
    1
    >>> unread_pixels(9, 3, stride=4, dilation=2)   # taps 0,2,4 and 4,6,8: 1, 3, 5, 7 unread
    4
    >>> unread_pixels(9, 3, stride=1, dilation=2)   # stride 1 fills the gaps
    0
    """
    return _per_axis("unread", n, kernel, stride, padding, dilation)


def fits(
    n: int | Pair,
    kernel: int | Pair,
    stride: int | Pair = 1,
    padding: int | Pair | PerSide | str = 0,
    dilation: int | Pair = 1,
) -> bool:
    """True if the kernel fits in the padded input and the stride leaves nothing over.

    Invalid arguments (negative padding, floats, ...) still raise; only a setting that
    is legal but does not tile the input gives False. Widgets use this to flag it.

    Examples
    --------
    >>> [fits(7, 3, stride) for stride in (1, 2, 3)]   # CS231n
    [True, True, False]
    >>> fits(5, 7)
    False
    """
    axes = _axes(n, kernel, stride, padding, dilation)
    return all(axis.room >= 0 and axis.leftover == 0 for axis in axes)


def fitting_strides(
    n: int | Pair,
    kernel: int | Pair,
    padding: int | Pair | PerSide | str = 0,
    dilation: int | Pair = 1,
) -> list[int]:
    """Strides (the same on both axes) from 1 to the padded input size that fit.

    Examples
    --------
    >>> fitting_strides(7, 3)
    [1, 2, 4]
    """
    axes = _axes(n, kernel, 1, padding, dilation)
    for axis in axes:
        axis.require_fit()
    same = _padding_mode(padding) == "same"
    common = set(_fitting_strides(axes[0], same))
    for axis in axes[1:]:
        common &= set(_fitting_strides(axis, same))
    return sorted(common)


def pool_output_size(
    n: int | Pair,
    kernel: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair | PerSide | str = 0,
    *,
    ceil_mode: bool = False,
    strict: bool = False,
) -> int | Pair:
    """Spatial output size of max or average pooling.

    Parameters
    ----------
    n : int or (H, W)
        Input size in pixels.
    kernel : int or (KH, KW)
        Window size.
    stride : int or (sh, sw), optional
        Defaults to the kernel size (non-overlapping windows), as in PyTorch and Keras.
    padding : int, pair, per-side pairs, 'valid' or 'same'
        Explicit padding may be at most half the kernel per side (PyTorch's rule: a
        window must never see only padding).
    ceil_mode : bool, default False
        Round the window count up (PyTorch): keep one extra, partial window at the end,
        provided it starts inside the input or the left padding.
    strict : bool, default False
        If True, a stride that leaves pixels over raises ``ValueError``.

    Returns
    -------
    int or (H_out, W_out)

    Notes
    -----
    ``H_out = floor((n + 2p - k) / s) + 1``; with ``ceil_mode`` the floor becomes a
    ceiling, and if the last window would start at or beyond ``n + p`` (in the right
    padding) it is dropped: ``(H_out - 1)*s >= n + p  =>  H_out -= 1``. So with
    ``ceil_mode`` a window larger than the padded input still gives one output when
    ``n + 2p - k > -s`` (PyTorch: ``MaxPool2d(3, 2, ceil_mode=True)`` on 2x2 gives 1x1).

    References
    ----------
    .. [1] PyTorch, ``torch.nn.MaxPool2d`` documentation and ``pooling_output_shape``
       in ``aten/src/ATen/native/Pool.h``.

    Examples
    --------
    >>> pool_output_size(224, 2)        # VGG16's 2x2 stride-2 pools
    112
    >>> pool_output_size(6, 3, stride=2), pool_output_size(6, 3, stride=2, ceil_mode=True)
    (2, 3)
    """
    if stride is None:
        stride = kernel
    axes = _axes(n, kernel, stride, padding, 1)
    same = _padding_mode(padding) == "same"
    sizes = []
    for axis in axes:
        for pad in (axis.pad_before, axis.pad_after):
            if 2 * pad > axis.kernel:
                raise ValueError(
                    f"pooling padding {pad}{axis.where()} is more than half the kernel "
                    f"{axis.kernel}: a window could then see only padding. Use padding "
                    f"<= {axis.kernel // 2} (PyTorch's rule)."
                )
        if not ceil_mode or axis.room <= -axis.stride:
            axis.require_fit()  # ceil_mode keeps one window that hangs past the end
        if strict:
            _require_no_leftover(axis, same)
        size = axis.output
        if ceil_mode and axis.leftover:
            size += 1
            if (size - 1) * axis.stride >= axis.n + axis.pad_before:
                size -= 1
        sizes.append(size)
    return _shape_like(n, sizes)


def conv_transpose_output_size(
    n: int | Pair,
    kernel: int | Pair,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    output_padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> int | Pair:
    """Spatial output size of a transposed convolution ("deconvolution").

    Parameters
    ----------
    n : int or (H, W)
        Input size in pixels.
    kernel, stride, dilation : int or pair
        As in :func:`conv_output_size`.
    padding : int or (ph, pw)
        The padding of the convolution this one transposes (it *removes* output pixels).
    output_padding : int or pair, default 0
        Extra pixels added at the end, to pick one of the ``s`` input sizes that the
        forward convolution maps to ``n``. Must be smaller than ``max(stride, dilation)``.

    Returns
    -------
    int or (H_out, W_out)

    Notes
    -----
    ``H_out = (n - 1)*s - 2p + d*(k - 1) + output_padding + 1``. A convolution with
    the same kernel, stride, padding and dilation maps ``H_out`` back to ``n``.

    References
    ----------
    .. [1] V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep
       learning", arXiv:1603.07285, 2016, section 4.
    .. [2] PyTorch, ``torch.nn.ConvTranspose2d`` documentation.

    Examples
    --------
    >>> conv_transpose_output_size(16, 4, stride=2, padding=1)
    32
    """
    _check_scalar_form(
        n,
        kernel=kernel,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
    )
    if isinstance(padding, str):
        raise TypeError(
            f"padding of a transposed convolution must be an int or a pair, got "
            f"{padding!r}: give the number of pixels the matching convolution padded."
        )
    sizes = _as_pair(n, "n", 1)
    kernels = _as_pair(kernel, "kernel", 1)
    strides = _as_pair(stride, "stride", 1)
    paddings = _as_pair(padding, "padding", 0)
    extras = _as_pair(output_padding, "output_padding", 0)
    dilations = _as_pair(dilation, "dilation", 1)
    scalar = not _is_pair(n)
    result = []
    for i in range(1 if scalar else 2):
        where = "" if scalar else f" ({_AXIS_NAMES[i]})"
        limit = max(strides[i], dilations[i])
        if extras[i] >= limit:
            raise ValueError(
                f"output_padding {extras[i]}{where} must be smaller than max(stride, "
                f"dilation) = {limit}: it only chooses among the {strides[i]} input sizes "
                "that a strided convolution maps to the same output size."
            )
        size = (
            (sizes[i] - 1) * strides[i]
            - 2 * paddings[i]
            + dilations[i] * (kernels[i] - 1)
            + extras[i]
            + 1
        )
        if size < 1:
            raise ValueError(
                f"transposed convolution output size{where} would be {size}: "
                f"(n - 1)*s - 2p + d*(k - 1) + output_padding + 1 = ({sizes[i]} - 1)*"
                f"{strides[i]} - 2*{paddings[i]} + {dilations[i]}*({kernels[i]} - 1) + "
                f"{extras[i]} + 1. The padding {paddings[i]} removes more pixels than "
                "the layer produces."
            )
        result.append(size)
    return _shape_like(n, result)


def _explain_axis(axis: _Axis, same: bool, scalar: bool) -> str:
    n, k, s, d = axis.n, axis.kernel, axis.stride, axis.dilation
    before, after = axis.pad_before, axis.pad_after
    lines = []
    if same:
        out = -(-n // s)
        total = before + after
        raw = (out - 1) * s + d * (k - 1) + 1 - n
        names = ("before", "after") if scalar else _SIDE_NAMES[_AXIS_NAMES.index(axis.label)]
        text = (
            f"'same' padding (TensorFlow/Keras): output = ceil({n}/{s}) = {out}; total "
            f"padding = max(({out} - 1)*{s} + {d}*({k} - 1) + 1 - {n}, 0) = "
            f"max({raw}, 0) = {total}"
        )
        if total % 2:
            text += (
                f", split {before} {names[0]} and {after} {names[1]} (odd: the extra "
                "pixel goes at the end)."
            )
        else:
            text += f", split {before} {names[0]} and {after} {names[1]}."
        lines.append(text)
    pad_text = f"2*{before}" if before == after else f"{before} + {after}"
    lines.append(
        f"floor(({n} + {pad_text} - {d}*({k} - 1) - 1)/{s}) + 1 = "
        f"floor({axis.room}/{s}) + 1 = {axis.output}"
    )
    skipped = axis.unread - axis.leftover_input
    if skipped:
        one = skipped == 1
        why = {(True, False): "between the taps", (False, True): "between the windows",
               (True, True): "between the taps and the windows"}[
            (axis.dilation > 1, axis.stride > axis.span)]
        gaps = (f"{skipped} input {'pixel falls' if one else 'pixels fall'} {why} and "
                f"{'is' if one else 'are'} never read")
    if axis.leftover == 0:
        lines[-1] += (f": the windows fit exactly, but {gaps}." if skipped
                      else ": the windows fit exactly.")
    else:
        pixels = "pixel is" if axis.leftover == 1 else "pixels are"
        strides = ", ".join(str(x) for x in _fitting_strides(axis, same))
        lines[-1] += (
            f": {axis.leftover} {pixels} left over at the end (stride {s} doesn't fit; "
            f"strides that fit: {strides})" + (f"; besides, {gaps}." if skipped else ".")
        )
    return "\n".join(lines)


def explain_conv_output_size(
    n: int | Pair,
    kernel: int | Pair,
    stride: int | Pair = 1,
    padding: int | Pair | PerSide | str = 0,
    dilation: int | Pair = 1,
) -> str:
    """The output-size formula with the numbers filled in, as text for students.

    Per axis (prefixed ``height:`` / ``width:``) when ``n`` is a pair. For ``'same'``
    padding it also states how the total padding is split between the two sides.

    Examples
    --------
    >>> print(explain_conv_output_size(227, 11, stride=4))
    floor((227 + 2*0 - 1*(11 - 1) - 1)/4) + 1 = floor(216/4) + 1 = 55: the windows fit exactly.
    >>> print(explain_conv_output_size(7, 3, stride=3))
    floor((7 + 2*0 - 1*(3 - 1) - 1)/3) + 1 = floor(4/3) + 1 = 2: 1 pixel is left over at the end (stride 3 doesn't fit; strides that fit: 1, 2, 4).
    >>> print(explain_conv_output_size((32, 32), 4, padding="same"))
    height: 'same' padding (TensorFlow/Keras): output = ceil(32/1) = 32; total padding = max((32 - 1)*1 + 1*(4 - 1) + 1 - 32, 0) = max(3, 0) = 3, split 1 top and 2 bottom (odd: the extra pixel goes at the end).
    height: floor((32 + 1 + 2 - 1*(4 - 1) - 1)/1) + 1 = floor(31/1) + 1 = 32: the windows fit exactly.
    width: 'same' padding (TensorFlow/Keras): output = ceil(32/1) = 32; total padding = max((32 - 1)*1 + 1*(4 - 1) + 1 - 32, 0) = max(3, 0) = 3, split 1 left and 2 right (odd: the extra pixel goes at the end).
    width: floor((32 + 1 + 2 - 1*(4 - 1) - 1)/1) + 1 = floor(31/1) + 1 = 32: the windows fit exactly.
    """  # noqa: E501
    axes = _axes(n, kernel, stride, padding, dilation)
    same = _padding_mode(padding) == "same"
    scalar = len(axes) == 1
    parts = []
    for axis in axes:
        axis.require_fit()
        text = _explain_axis(axis, same, scalar)
        if not scalar:
            text = "\n".join(f"{axis.label}: {line}" for line in text.splitlines())
        parts.append(text)
    return "\n".join(parts)
