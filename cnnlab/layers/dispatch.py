"""Which kernel runs a layer: every dispatch threshold and every path, in one table.

A layer asks :func:`conv_forward_path`, :func:`conv_backward_path` or
:func:`pool_parallel` which path to take; :data:`PATHS` lists every path with a tiny
example that takes it, and :func:`cnnlab.warmup` compiles them by iterating
:data:`PATHS` (a test checks that each example reaches its path, so a new path cannot be
left out of the warm-up).

Paths can be forced, to compare them or to time one against another::

    with dispatch.force(conv_forward="im2col", parallel=False):
        out, cache = conv2d_forward(x, w, b, padding=1)

:func:`trace` records the paths that layers took. Neither changes any result beyond
rounding: every path is tested against the naive loops, finite differences and
PyTorch.

Examples
--------
>>> conv_forward_path(channels=64, filters=64, groups=1, stride=(1, 1))
'blocked'
>>> conv_forward_path(channels=3, filters=16, groups=1, stride=(1, 1))
'direct'
>>> with force(conv_forward="im2col"):
...     conv_forward_path(channels=64, filters=64, groups=1, stride=(1, 1))
'im2col'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnlab.kernels.simd import VECTOR_BYTES

__all__ = [
    "BLAS_ONLY",
    "BLOCKED_MIN_CHANNELS",
    "BLOCKED_MIN_FILTERS",
    "CHUNK_BYTES",
    "CONV_BACKWARD_PATHS",
    "CONV_FORWARD_PATHS",
    "DEPTHWISE_PARALLEL_MIN_MACS",
    "LAZY",
    "NORM_PARALLEL_MIN_SIZE",
    "PARALLEL_MIN_MACS",
    "PATHS",
    "PLANES_MIN_CHANNELS",
    "POOL_PARALLEL_MIN_SIZE",
    "TINY_OUTPUT_PIXELS",
    "TINY_STRIDED_OUTPUT_PIXELS",
    "WEIGHT_GRAD_SPLIT_BYTES",
    "Path",
    "announce_compile",
    "conv_backward_path",
    "conv_forward_path",
    "conv_parallel",
    "depthwise_parallel",
    "force",
    "norm_parallel",
    "pool_parallel",
    "record",
    "trace",
]

# --- thresholds -----------------------------------------------------------------------

#: Convolutions with fewer multiply-adds than this run on one thread: below it,
#: starting the threads costs more than the work.
PARALLEL_MIN_MACS = 1 << 24

#: With stride 1 and fewer input channels (the first layer of a network, C = 1 or 3)
#: the wide-grid kernel of :mod:`cnnlab.kernels.direct` is faster: a window row's taps
#: make too short a run for the channel-last kernel. With a larger stride the
#: channel-last kernel wins for any C (AlexNet's conv1: about 1.8x faster than im2col).
BLOCKED_MIN_CHANNELS = 8

#: The channel-last kernel computes filters two vectors at a time (16 float32 with AVX,
#: 32 with AVX-512); with fewer filters much of that work is thrown away and the
#: wide-grid kernel is faster: with AVX below 8 filters, with AVX-512 below 24 (one
#: thread, float32: 8->8 on 16x16 took 0.10 ms there against 0.24 ms here, 16->16 on
#: 32x32 0.67 against 0.90 ms, 32->24 on 16x16 0.33 against 0.36 ms).
BLOCKED_MIN_FILTERS = 24 if VECTOR_BYTES == 64 else 8

#: The channel-last kernel reads layers with this many channels per group or more from
#: a zero-padded copy of the input in planes (NCHW), a copy row by row, rather than
#: from a channel-last one, a transpose that took a fifth of the time of 64->64 3x3 on
#: 56x56 (:func:`cnnlab.layers._conv_paths.blocked_forward`). With fewer channels a
#: window row's taps and channels make one run only channel last (AlexNet's conv1).
PLANES_MIN_CHANNELS = 16

#: Size of the im2col buffer that the batch streams through (bytes). Smaller chunks
#: stay in cache (on one core, 1-2 MB chunks ran about a third faster than 8 MB ones);
#: fewer chunks mean fewer hand-overs to BLAS's threads, which cost a lot on a busy
#: machine. 2 MB: the course's shapes take 3 to 8 chunks, and memory stays bounded for
#: any batch size.
CHUNK_BYTES = 1 << 21

#: One-group layers wide enough for the channel-last kernel (see :func:`_wide`) with at
#: most this many output pixels per image take im2col in both directions: the
#: register-blocked kernels work on rows of pixels and spend most of their time on the
#: padding, while BLAS sees one long product (ResNet-18's last stage at 64x64 input, 3x3
#: 512->512 on 2x2, N=8, one thread: forward 4.5 ms against 7.6 ms, backward 9.7 ms
#: against 35.9 ms; on 4x4 a tie forward, 5.1 against 7.9 ms backward; on 8x8 the
#: blocked kernels win). Narrow layers keep the wide-grid kernel: the digits CNN's
#: 8->16 on 4x4 (N=64) took 0.09 ms there against 0.32 ms on im2col.
TINY_OUTPUT_PIXELS = 16

#: The same rule for the backward pass of strided one-group layers, whose stride phases
#: are smaller problems than a stride-1 layer's: these take im2col up to this many output
#: pixels per image, the phases from there on (one thread, float32, N=8, 3x3 stride 2,
#: against PyTorch in the same run: 256->512 on 2x2 output 1.00x on im2col against 1.19x
#: on the phases; 128->256 on 4x4 1.77x against 1.22x, 64->64 on 3x3 1.86x against 0.69x).
TINY_STRIDED_OUTPUT_PIXELS = 4

#: Depthwise convolutions with fewer multiply-adds than this run on one thread. A
#: depthwise layer does a few multiply-adds per number it reads, as pooling does, so
#: threads pay off far sooner than for a dense layer (:data:`PARALLEL_MIN_MACS`).
DEPTHWISE_PARALLEL_MIN_MACS = 1 << 18
#: In parallel, :mod:`cnnlab.kernels.weight_grad` shares out a ``dw`` of more bytes than
#: this among the threads by work items (taps and blocks of filters), each thread
#: writing its own part of ``dw`` once; a smaller one by ranges of rows, each thread
#: summing into a copy of ``dw`` of its own, which are then added up (a copy and a sum
#: per thread: little below a core's L2 cache, 9.4 MB each for 512->512 3x3).
WEIGHT_GRAD_SPLIT_BYTES = 1 << 20

#: Pooling inputs with fewer elements than this are pooled on one thread: below it,
#: starting the threads costs more than the work (gradient checks call a layer
#: thousands of times on a few hundred numbers).
POOL_PARALLEL_MIN_SIZE = 1 << 15

#: Batch norm inputs with fewer elements than this are normalised on one thread (the
#: same trade as pooling's: a few operations per number read).
NORM_PARALLEL_MIN_SIZE = 1 << 15

# --- the paths --------------------------------------------------------------------------

#: Forward paths of a convolution: the channel-last kernel with the sums in registers
#: (:mod:`cnnlab.kernels.blocked`, any groups), the stride-1 wide-grid kernel
#: (:mod:`cnnlab.kernels.direct`, any groups), im2col + BLAS (anything), the
#: plane-at-a-time depthwise kernel (:mod:`cnnlab.kernels.depthwise`, ``groups == C``)
#: and one BLAS product per image on the NCHW arrays (``pointwise``: 1x1 kernels, one
#: group, no padding).
CONV_FORWARD_PATHS = ("blocked", "direct", "im2col", "depthwise", "pointwise")

#: Backward paths: ``dx`` as a stride-1 convolution of ``dout`` on the forward kernels
#: (stride 1), or as one such convolution per stride phase (strided, dilation 1; with
#: one group all phases on the channel-last kernel from one copy of ``dout``), plus
#: ``dw`` by :mod:`cnnlab.kernels.weight_grad` (one group, or each group in turn); or im2col,
#: two BLAS products and col2im (anything); or, for ``groups == C``, ``dx`` and ``dw``
#: in one pass of :mod:`cnnlab.kernels.depthwise`; or, for 1x1 kernels (one group, no
#: padding), two BLAS products per image on the NCHW arrays (``pointwise``).
CONV_BACKWARD_PATHS = ("by_convolution", "by_phases", "im2col", "depthwise", "pointwise")

#: Paths that are BLAS products and NumPy copies only: no Numba kernel, no threads of
#: their own.
BLAS_ONLY = ("im2col", "pointwise")


@dataclass
class _Forced:
    conv_forward: str | None = None
    conv_backward: str | None = None
    parallel: bool | None = None
    traces: list[list[tuple[str, str, bool]]] = field(default_factory=list)


_state = _Forced()


def record(op: str, path: str, parallel: bool) -> None:
    """Note a dispatch for every active :func:`trace`."""
    for log in _state.traces:
        log.append((op, path, parallel))


def conv_parallel(macs: int) -> bool:
    """Whether a convolution of ``macs`` multiply-adds runs its kernels in parallel."""
    if _state.parallel is not None:
        return _state.parallel
    return macs >= PARALLEL_MIN_MACS


def depthwise_parallel(macs: int) -> bool:
    """Whether a depthwise convolution of ``macs`` multiply-adds runs in parallel."""
    if _state.parallel is not None:
        return _state.parallel
    return macs >= DEPTHWISE_PARALLEL_MIN_MACS


def norm_parallel(size: int) -> bool:
    """Whether batch norm of an input of ``size`` elements runs in parallel."""
    if _state.parallel is not None:
        return _state.parallel
    return size >= NORM_PARALLEL_MIN_SIZE


def pool_parallel(size: int) -> bool:
    """Whether pooling an input of ``size`` elements runs in parallel."""
    if _state.parallel is not None:
        return _state.parallel
    return size >= POOL_PARALLEL_MIN_SIZE


def conv_forward_path(
    *,
    channels: int,
    filters: int,
    groups: int,
    stride: tuple[int, int],
    pixels: int = 1 << 30,
    pointwise: bool = False,
) -> str:
    """The forward path of a convolution (one of :data:`CONV_FORWARD_PATHS`).

    ``pixels``: output pixels per image, ``H_out*W_out`` (see :data:`TINY_OUTPUT_PIXELS`).
    ``pointwise``: the kernel is 1x1 without padding and there is one group. Such a
    layer is a matrix product per image and goes to BLAS, which needs no copy of the
    input (one thread, float32: 256->64 on 28x28, N=4, 1.0-1.2 ms against 1.8-2.1 ms
    on the channel-last kernel). Raises ``ValueError`` when a forced path cannot run
    this layer.
    """
    stride1 = tuple(stride) == (1, 1)
    depthwise = groups == channels
    fits = {"blocked": True, "direct": stride1, "im2col": True, "depthwise": depthwise,
            "pointwise": pointwise}
    forced = _state.conv_forward
    if forced is not None:
        if not fits[forced]:
            needs = {"direct": "stride 1",
                     "depthwise": "groups == channels",
                     "pointwise": "a 1x1 kernel, one group and no padding"}[forced]
            raise ValueError(
                f"the forced convolution path {forced!r} needs {needs}; this layer has "
                f"groups={groups}, stride={tuple(stride)}."
            )
        return forced
    if pointwise:
        return "pointwise"
    wide = _wide(channels // groups, filters // groups, stride)
    tiny = pixels <= TINY_OUTPUT_PIXELS
    if groups == 1 and wide:
        return "im2col" if tiny else "blocked"
    if depthwise and groups > 1:  # any stride: 5-8x faster than direct/im2col (MobileNet)
        return "depthwise"
    if wide and not tiny:  # groups wide enough each (see _wide)
        return "blocked"
    return "direct" if stride1 else "im2col"


def _wide(channels: int, filters: int, stride: tuple[int, int]) -> bool:
    """Enough filters and channels for the channel-last kernel (:data:`BLOCKED_MIN_FILTERS`,
    :data:`BLOCKED_MIN_CHANNELS`; any number of channels when strided), per group.

    The same rule holds for each group of a grouped layer, whose blocks of filters are
    padded per group (one thread, float32, AVX-512, 3x3 on 28x28, N=4: 128->128 in 4
    groups, 32 filters each, 1.90 ms against 2.27 ms on the wide-grid kernel, strided
    0.84 against 2.11 ms on im2col; in 8 groups of 16 filters 1.87 against 1.14 ms)."""
    return filters >= BLOCKED_MIN_FILTERS and (
        channels >= BLOCKED_MIN_CHANNELS or tuple(stride) != (1, 1)
    )


def conv_backward_path(
    *,
    channels: int,
    filters: int,
    groups: int,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    by_convolution_fits: bool,
    depthwise: bool = False,
    pixels: int = 1 << 30,
    pointwise: bool = False,
) -> str:
    """The backward path of a convolution (one of :data:`CONV_BACKWARD_PATHS`).

    ``by_convolution_fits``: the layer has stride 1 and no padding wider than its
    dilated kernel (see :func:`cnnlab.layers.conv._input_gradient_padding`); any number
    of groups. Strided layers without dilation take ``by_phases`` (grouped: depthwise
    3x3 stride 2, about 3x faster than im2col on one thread; one group: every phase
    from one channel-last copy of ``dout``, from :data:`BLOCKED_MIN_CHANNELS` channels
    on; one thread, float32, against PyTorch in the same run, ResNet's 3x3 stride 2
    64->128 on 56x56 (N=2) 1.0-1.4x against im2col's 1.9-3.0x, 256->512 on 14x14
    (N=4) 1.3x against 1.4-1.7x; AlexNet's 3->96 11x11 stride 4 keeps im2col, 0.9x
    against 1.9x). ``depthwise``: the layer has ``groups == C`` (more than one); it then
    takes ``depthwise`` at any stride. ``pixels``: output pixels per image; one-group
    layers wide enough for the channel-last kernel (``channels``, ``filters``) with
    :data:`TINY_OUTPUT_PIXELS` or fewer take im2col, strided ones with
    :data:`TINY_STRIDED_OUTPUT_PIXELS` or fewer (any width). ``pointwise`` layers (as
    for :func:`conv_forward_path`) take two BLAS products per image (one thread,
    float32: 64->256 on 56x56, N=2, 4.5 ms against
    9.7-14 ms).
    """
    fits = {
        "by_convolution": by_convolution_fits,
        "by_phases": tuple(stride) != (1, 1) and tuple(dilation) == (1, 1),
        "im2col": True,
        "depthwise": depthwise,
        "pointwise": pointwise,
    }
    forced = _state.conv_backward
    if forced is not None:
        if not fits[forced]:
            needs = {
                "by_convolution": "stride 1 and padding no wider than the dilated kernel",
                "by_phases": "a stride larger than 1 and dilation 1",
                "depthwise": "groups == channels",
                "pointwise": "a 1x1 kernel, one group and no padding",
            }[forced]
            raise ValueError(f"the forced backward path {forced!r} needs {needs}.")
        return forced
    if pointwise:
        return "pointwise"
    if depthwise and groups > 1:
        return "depthwise"
    if groups == 1 and fits["by_phases"]:
        few = channels < BLOCKED_MIN_CHANNELS or pixels <= TINY_STRIDED_OUTPUT_PIXELS
        return "im2col" if few else "by_phases"
    if groups == 1 and pixels <= TINY_OUTPUT_PIXELS and _wide(channels, filters, stride):
        return "im2col"
    return next(path for path in CONV_BACKWARD_PATHS if fits[path])


@contextlib.contextmanager
def force(
    *,
    conv_forward: str | None = None,
    conv_backward: str | None = None,
    parallel: bool | None = None,
) -> Iterator[None]:
    """Run the layers inside the ``with`` block on the named paths.

    Parameters
    ----------
    conv_forward : one of CONV_FORWARD_PATHS, optional
    conv_backward : one of CONV_BACKWARD_PATHS, optional
    parallel : bool, optional
        Force the multi-threaded (True) or the single-threaded (False) kernels.

    A forced path that cannot run a layer raises ``ValueError`` naming what it needs.
    """
    for name, value, allowed in (
        ("conv_forward", conv_forward, CONV_FORWARD_PATHS),
        ("conv_backward", conv_backward, CONV_BACKWARD_PATHS),
    ):
        if value is not None and value not in allowed:
            raise ValueError(f"force: {name} must be one of {allowed}, got {value!r}.")
    if parallel is not None and not isinstance(parallel, bool):
        raise TypeError(f"force: parallel must be True, False or None, got {parallel!r}.")
    saved = (_state.conv_forward, _state.conv_backward, _state.parallel)
    _state.conv_forward = conv_forward if conv_forward is not None else saved[0]
    _state.conv_backward = conv_backward if conv_backward is not None else saved[1]
    _state.parallel = parallel if parallel is not None else saved[2]
    try:
        yield
    finally:
        _state.conv_forward, _state.conv_backward, _state.parallel = saved


@contextlib.contextmanager
def trace() -> Iterator[list[tuple[str, str, bool]]]:
    """Collect ``(op, path, parallel)`` for every dispatch inside the ``with`` block."""
    log: list[tuple[str, str, bool]] = []
    _state.traces.append(log)
    try:
        yield log
    finally:
        _state.traces.remove(log)


# --- the table that warmup iterates ------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """One kernel path and a tiny layer call that takes it.

    Attributes
    ----------
    op : str
        ``"conv2d"``, ``"max_pool2d"``, ``"avg_pool2d"`` or ``"batchnorm2d"``.
    path : str
        For a convolution ``"<forward path>/<backward path>"``; ``"pool"`` for pooling,
        ``"norm"`` for batch norm.
    parallel : bool
        The multi-threaded kernels (True) or the single-threaded ones.
    x_shape, w_shape : tuple of int
        The example's input (and filters).
    params : dict
        The example's keyword arguments (stride, padding, groups, kernel).
    """

    op: str
    path: str
    parallel: bool
    x_shape: tuple[int, int, int, int]
    w_shape: tuple[int, int, int, int] | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.op} {self.path} ({'parallel' if self.parallel else 'one thread'})"


def _conv_paths() -> list[Path]:
    # Stride 1 and stride 2 compile different im2col/col2im kernels, so im2col has
    # an example of each; the other paths take any stride.
    cases = [
        ("blocked", "by_convolution", (1, 16, 5, 5), (8, 16, 3, 3), {"padding": 1}),
        ("blocked", "by_phases", (1, 8, 5, 5), (8, 8, 3, 3), {"padding": 1, "stride": 2}),
        ("blocked", "im2col", (1, 8, 5, 5), (8, 8, 3, 3), {"padding": 1, "stride": 2}),
        ("direct", "by_convolution", (1, 3, 5, 5), (4, 3, 3, 3), {"padding": 1}),
        ("direct", "by_convolution", (1, 4, 5, 5), (4, 1, 3, 3), {"padding": 1, "groups": 4}),
        ("direct", "im2col", (1, 4, 5, 5), (4, 2, 3, 3), {"padding": 1, "groups": 2}),
        ("im2col", "im2col", (1, 4, 5, 5), (4, 2, 3, 3), {"stride": 2, "groups": 2}),
        ("depthwise", "depthwise", (1, 4, 5, 5), (8, 1, 3, 3), {"padding": 1, "groups": 4}),
        ("pointwise", "pointwise", (1, 4, 5, 5), (4, 4, 1, 1), {"stride": 2}),
    ]
    # im2col and pointwise have no threads of their own (BLAS has), so one example.
    return [
        Path("conv2d", f"{forward}/{backward}", parallel, x, w, params)
        for forward, backward, x, w, params in cases
        for parallel in ((False,) if forward == backward in BLAS_ONLY else (False, True))
    ]


def _pool_paths() -> list[Path]:
    return [
        Path(op, "pool", parallel, (1, 2, 5, 5), None, {"kernel": 2, "padding": 1})
        for op in ("max_pool2d", "avg_pool2d")
        for parallel in (False, True)
    ]


def _norm_paths() -> list[Path]:
    return [Path("batchnorm2d", "norm", parallel, (2, 3, 4, 4)) for parallel in (False, True)]


#: Every path of every layer with a Numba kernel, as warmup compiles them.
PATHS: tuple[Path, ...] = (*_conv_paths(), *_pool_paths(), *_norm_paths())


#: Paths that :func:`cnnlab.warmup` leaves to compile on first use, as ``(parallel,
#: dtype)``: float64 is for gradient checks, on inputs far below the parallel
#: thresholds, so its multi-threaded kernels are rarely needed (about a fifth of the
#: warm-up's compile time). :func:`announce_compile` says so when one compiles.
LAZY = ((True, "float64"),)

_announced: set[tuple[int, str]] = set()
_quiet: list[bool] = []  # non-empty inside silent_compiles()


@contextlib.contextmanager
def silent_compiles() -> Iterator[None]:
    """No :func:`announce_compile` lines inside the block (the warm-up shows its own)."""
    _quiet.append(True)
    try:
        yield
    finally:
        _quiet.pop()


def announce_compile(kernel: Any, dtype: Any) -> None:
    """Print a line before ``kernel`` compiles for ``dtype`` (no entry in its cache).

    Checked once per kernel and dtype in a process; silent when the kernel is cached,
    already compiled, or under ``NUMBA_DISABLE_JIT=1``.
    """
    name = np.dtype(dtype).name
    key = (id(kernel), name)
    if key in _announced or _quiet:
        return
    _announced.add(key)
    if any(name in str(signature) for signature in getattr(kernel, "signatures", [])):
        return
    try:
        index = kernel._cache._cache_file._load_index()
    except AttributeError:  # a plain Python function: NUMBA_DISABLE_JIT=1
        return
    if any(name in str(entry[0]) for entry in index):
        return
    print(
        f"Compiling cnnlab's {kernel.__name__} kernel for {name} once (a few seconds; "
        "later runs load it from the cache).",
        flush=True,
    )
