"""Time cnnlab's layers against PyTorch (CPU), a NumPy im2col and the naive loops.

Run by ``make bench`` as ``.venv/bin/python benchmarks/run.py``; prints every timing
and writes ``benchmarks/RESULTS.md``. Everything runs in one process, float32:

- cnnlab: :mod:`cnnlab.layers` (Numba kernels + NumPy's BLAS);
- PyTorch: ``torch.nn.functional``, forward under ``torch.no_grad()`` and backward as
  ``torch.autograd.grad`` of a retained graph, with ``torch.set_num_threads`` equal
  to the threads cnnlab uses (Numba's thread count, which is also BLAS's here);
- NumPy im2col: ``benchmarks/im2col_numpy.py`` (convolutions only);
- naive: :mod:`cnnlab.naive`, timed once on a reduced batch and scaled linearly to the
  full batch (it is thousands of times slower; the per-image work is identical).

Each library is timed in a block of runs of its own, in two rounds (cnnlab, PyTorch,
NumPy, then again), so that one library's idle threads do not disturb the next and a
change in the machine's load falls on all of them; medians and their ratios are
reported.
The targets are ratios of median times: see ``TARGETS``.

Two passes: (A) every core, wall-clock time: what the targets are about; (B) one
thread for everybody (Numba, BLAS, PyTorch), CPU time of the process: far less
sensitive to other programs on a shared machine, so it tells whether a bad figure in
(A) is the code or the neighbours. The naive loops are timed in pass (B) only, and
the speed-up over them is taken from (B), where both sides run on one core.

The convolutions are the shapes a course and its users meet (:data:`CONVS`), plus a
whole-network forward pass and training step of the digits CNN and of ResNet-18 at
3x64x64 (:data:`NETWORKS`); every rate is also given as a fraction of the machine's
measured peak (a NumPy sgemm and a register-bound FMA loop, :func:`machine_peak`).

Options: ``--quick`` (a subset of the convolutions, a few minutes), ``--repeat R``
(default 5) and ``--out PATH``. Only the engine's section of ``--out`` is rewritten.
"""

from __future__ import annotations

import os
import sys

# OpenBLAS's core-type override (set on some machines for old OpenBLAS builds) slows
# a current NumPy. For a fair comparison this process alone runs without it: restart
# once with both variables removed, before NumPy is imported.
if os.environ.get("OPENBLAS_CORETYPE") or os.environ.get("OPENBLAS_L2_SIZE"):
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    env["CNNLAB_BENCH_UNSET_OPENBLAS"] = "1"
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import argparse
import datetime
import math
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import im2col_numpy  # noqa: E402

from cnnlab import layers, naive  # noqa: E402
from cnnlab.kernels.simd import lanes, load, muladd, store  # noqa: E402


@dataclass(frozen=True)
class ConvCase:
    """One convolution layer of the benchmark (NCHW; square kernel unless a pair)."""

    name: str
    N: int
    C: int
    F: int
    H: int
    W: int
    kernel: int | tuple[int, int] = 3
    stride: int = 1
    padding: int = 1
    dilation: int = 1
    groups: int = 1
    dtype: str = "float32"
    quick: bool = True  # part of --quick


#: The shapes a course and its users meet: the four original cases, ResNet-18/50 and
#: VGG layers (3x3 at 64-512 channels, stride 1 and 2), 1x1, depthwise and grouped
#: (MobileNet), dilation 2 and 4, batch 1 and 64, float64, non-square inputs.
CONVS = [
    ConvCase("N=64 3->16 32x32 k3 p1", 64, 3, 16, 32, 32),
    ConvCase("N=32 16->32 16x16 k3 p1", 32, 16, 32, 16, 16),
    ConvCase("N=16 64->64 16x16 k3 p1", 16, 64, 64, 16, 16),
    ConvCase("N=8 3->96 227x227 k11 s4 (AlexNet conv1)", 8, 3, 96, 227, 227, 11, 4, 0,
             quick=False),
    ConvCase("ResNet 3x3 64->64 56x56 N=2", 2, 64, 64, 56, 56),
    ConvCase("ResNet 3x3 128->128 28x28 N=4", 4, 128, 128, 28, 28),
    ConvCase("ResNet 3x3 256->256 14x14 N=8", 8, 256, 256, 14, 14, quick=False),
    ConvCase("ResNet 3x3 512->512 7x7 N=8", 8, 512, 512, 7, 7),
    ConvCase("ResNet 3x3 s2 64->128 56x56 N=2", 2, 64, 128, 56, 56, 3, 2),
    ConvCase("ResNet 3x3 s2 256->512 14x14 N=4", 4, 256, 512, 14, 14, 3, 2, quick=False),
    ConvCase("ResNet-50 1x1 256->64 28x28 N=4", 4, 256, 64, 28, 28, 1, 1, 0),
    ConvCase("ResNet-50 1x1 64->256 56x56 N=2", 2, 64, 256, 56, 56, 1, 1, 0, quick=False),
    ConvCase("ResNet 1x1 s2 projection 256->512 14x14 N=4", 4, 256, 512, 14, 14, 1, 2, 0),
    ConvCase("batch 1, VGG conv3 256->256 56x56", 1, 256, 256, 56, 56),
    ConvCase("batch 1, VGG conv1_2 64->64 224x224", 1, 64, 64, 224, 224, quick=False),
    ConvCase("depthwise 3x3 g=64 56x56 N=4", 4, 64, 64, 56, 56, groups=64),
    ConvCase("depthwise 3x3 s2 g=128 56x56 N=2 (MobileNet)", 2, 128, 128, 56, 56, 3, 2,
             groups=128, quick=False),
    ConvCase("grouped 3x3 g=4 128->128 28x28 N=4", 4, 128, 128, 28, 28, groups=4),
    ConvCase("dilated 3x3 d=2 32->32 32x32 N=8", 8, 32, 32, 32, 32, padding=2, dilation=2),
    ConvCase("dilated 3x3 d=4 64->64 32x32 N=4", 4, 64, 64, 32, 32, padding=4, dilation=4,
             quick=False),
    ConvCase("batch 64, 3x3 32->32 16x16", 64, 32, 32, 16, 16, quick=False),
    ConvCase("float64 3->8 12x12 N=4 (gradient-check size)", 4, 3, 8, 12, 12,
             dtype="float64"),
    ConvCase("float64 3x3 64->64 16x16 N=4", 4, 64, 64, 16, 16, dtype="float64", quick=False),
    ConvCase("digits CNN conv 1->8 8x8 N=64", 64, 1, 8, 8, 8),
    ConvCase("non-square 3x3 64->64 24x40 N=4", 4, 64, 64, 24, 40),
    ConvCase("non-square kernel 3x5 32->32 20x36 N=4", 4, 32, 32, 20, 36, (3, 5), 1, (1, 2),
             quick=False),
]
#: (kernel, stride) on a 64x64x56x56 input, for max and avg.
POOLS = [(2, 2), (3, 2), (3, 1)]
POOL_SHAPE = (64, 64, 56, 56)

TARGETS = {
    "conv forward": 1.0,  # geometric mean of cnnlab/PyTorch over the conv suite
    "conv backward": 1.0,
    "conv worst": 1.5,  # every conv case, each pass
    "peak fraction": 0.5,  # of the single-core peak, large stride-1 3x3 layers (pass B)
    "pool forward": 0.5,  # every pooling case
    "pool backward": 0.5,
    "naive speed-up": 100.0,  # naive/cnnlab, every case
    "cold start (s)": 1.5,
}


@dataclass
class Row:
    name: str
    direction: str  # "forward" / "backward"
    kind: str  # "conv" / "pool"
    ops: float  # FLOPs (conv) or window taps (pool)
    times: dict[str, list[float]] = field(default_factory=dict)
    naive_scaled: float = math.nan
    #: Bytes the pass cannot avoid moving (pool: its input and output arrays), for the
    #: share of the measured memory copy speed; NaN where compute bounds the pass.
    bytes_moved: float = math.nan

    def median(self, who: str) -> float:
        values = self.times.get(who)
        return statistics.median(values) if values else math.nan


CLOCK = time.perf_counter  # pass B switches it to time.process_time

#: Each block starts with untimed runs for at least this long: the first calls after a
#: change of array sizes are slower for everybody while the C allocator settles (large
#: arrays come fresh from the operating system, page faults and all).
WARMUP_SECONDS = 0.3


def timed_blocks(functions: dict[str, Callable[[], object]], repeat: int) -> dict[str, list]:
    """Time each function in two rounds; in a round, warm-up runs then ``repeat``.

    Each library gets a block of runs to itself (the thread pools of the others are
    idle by then: PyTorch's OpenMP workers keep spinning for a while after each call
    and would otherwise steal a core from the next library), and the second round
    spreads any change in the machine's load over everybody.
    """
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(2):
        for name, f in functions.items():
            warm_until = time.perf_counter() + WARMUP_SECONDS
            f()
            while time.perf_counter() < warm_until:
                f()
            for _ in range(repeat):
                start = CLOCK()
                f()
                times[name].append(CLOCK() - start)
    return times


def once(f) -> float:
    start = CLOCK()
    f()
    return CLOCK() - start


def _pair(value):
    return tuple(value) if isinstance(value, tuple) else (value, value)


def bench_convs(torch, repeat: int, with_naive: bool, quick: bool) -> list[Row]:
    rows = []
    F_ = torch.nn.functional if torch else None
    for case in CONVS:
        if quick and not case.quick:
            continue
        rng = np.random.default_rng(0)
        dtype = np.dtype(case.dtype)
        KH, KW = _pair(case.kernel)
        x = rng.standard_normal((case.N, case.C, case.H, case.W)).astype(dtype)
        w = (rng.standard_normal((case.F, case.C // case.groups, KH, KW)) * 0.1).astype(dtype)
        b = rng.standard_normal(case.F).astype(dtype)
        params = {"stride": case.stride, "padding": case.padding, "dilation": case.dilation,
                  "groups": case.groups}
        out, cache = layers.conv2d_forward(x, w, b, **params)
        dout = rng.standard_normal(out.shape).astype(dtype)
        flops = 2.0 * out.size * (case.C // case.groups) * KH * KW
        fwd = {"cnnlab": lambda x=x, w=w, b=b, p=params: layers.conv2d_forward(x, w, b, **p)}
        bwd = {"cnnlab": lambda dout=dout, cache=cache: layers.conv2d_backward(dout, cache)}
        simple = case.groups == 1 and case.dilation == 1 and case.kernel == KH == KW
        if simple and dtype == np.float32:
            s_, p_ = case.stride, case.padding
            _, np_cache = im2col_numpy.conv_forward(x, w, b, s_, p_)
            fwd["numpy"] = lambda x=x, w=w, b=b, s=s_, p=p_: im2col_numpy.conv_forward(
                x, w, b, s, p)
            bwd["numpy"] = lambda dout=dout, c=np_cache: im2col_numpy.conv_backward(dout, c)
        if torch:
            xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
            ot = F_.conv2d(xt, wt, bt, **params)
            dt = torch.tensor(dout)

            def t_fwd(xt=xt, wt=wt, bt=bt, p=params):
                with torch.no_grad():
                    F_.conv2d(xt, wt, bt, **p)

            fwd["torch"] = t_fwd
            bwd["torch"] = lambda ot=ot, xt=xt, wt=wt, bt=bt, dt=dt: torch.autograd.grad(
                ot, (xt, wt, bt), dt, retain_graph=True
            )
        name = f"conv {case.name}"
        row_f = Row(name, "forward", "conv", flops, timed_blocks(fwd, repeat))
        row_b = Row(name, "backward", "conv", 2 * flops, timed_blocks(bwd, repeat))
        if with_naive and flops / case.N < 1e8:  # one image (the same work each), scaled
            start = CLOCK()
            _, cache1 = naive.conv2d_forward(x[:1], w, b, **params)
            row_f.naive_scaled = (CLOCK() - start) * case.N
            row_b.naive_scaled = (
                once(lambda d=dout[:1], c=cache1: naive.conv2d_backward(d, c)) * case.N
            )
        rows += [row_f, row_b]
        report(row_f)
        report(row_b)
    return rows


def _macs(model, shape) -> int:
    """Multiply-adds of one image through a cnnlab.net model (conv and dense layers)."""
    from cnnlab import net

    total = 0
    for layer in model:
        if isinstance(layer, net.ResidualBlock):
            total += _macs(layer.main, shape) + _macs(layer.shortcut, shape)
        out = layer.output_shape(shape)
        if isinstance(layer, net.Conv2d):
            total += math.prod(out) * layer.weight.size // layer.out_channels
        elif isinstance(layer, net.Dense):
            total += layer.weight.size
        shape = out
    return total


#: (name, model factory, input shape (C, H, W), batch)
NETWORKS = [
    ("digits CNN, N=64", lambda: __import__("cnnlab.net", fromlist=["x"]).digits_cnn(seed=0),
     (1, 8, 8), 64),
    ("ResNet-18 at 3x64x64, N=8", lambda: _resnet18((3, 64, 64)), (3, 64, 64), 8),
]


def _resnet18(shape):
    from cnnlab import models, net

    return net.build(models.zoo.get("resnet18").with_input(shape), seed=0)


def bench_networks(torch, repeat: int) -> list[Row]:
    """A whole-network forward pass and a training step (forward, loss, backward, SGD)."""
    from cnnlab.layers import softmax_cross_entropy
    from cnnlab.net import SGD
    from cnnlab.net.torch_twin import torch_twin

    rows = []
    for name, factory, shape, batch in NETWORKS:
        model = factory()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, *shape)).astype(np.float32)
        y = rng.integers(0, model(x[:1]).shape[1], size=batch)
        optimizer = SGD(model, lr=1e-3, momentum=0.9)
        flops = 2.0 * _macs(model, shape) * batch

        def step(model=model, x=x, y=y, optimizer=optimizer):
            model.zero_grad()
            _, dscores = softmax_cross_entropy(model(x), y)
            model.backward(dscores, input_grad=False)
            optimizer.step()

        def forward(model=model, x=x):
            model.eval()
            model(x)
            model.train()

        fwd, train = {"cnnlab": forward}, {"cnnlab": step}
        if torch is not None:
            twin = torch_twin(model, torch)
            xt, yt = torch.tensor(x), torch.tensor(y)
            opt_t = torch.optim.SGD(twin.parameters(), lr=1e-3, momentum=0.9)

            def t_forward(twin=twin, xt=xt):
                twin.eval()
                with torch.no_grad():
                    twin(xt)
                twin.train()

            def t_step(twin=twin, xt=xt, yt=yt, opt=opt_t):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(twin(xt), yt).backward()
                opt.step()

            fwd["torch"], train["torch"] = t_forward, t_step
        row_f = Row(f"network {name}", "forward", "network", flops, timed_blocks(fwd, repeat))
        row_t = Row(f"network {name}", "training step", "network", 3 * flops,
                    timed_blocks(train, repeat))
        rows += [row_f, row_t]
        report(row_f)
        report(row_t)
    return rows


def bench_pools(torch, repeat: int, with_naive: bool) -> list[Row]:
    rows = []
    rng = np.random.default_rng(0)
    x = rng.standard_normal(POOL_SHAPE, dtype=np.float32)
    xt = torch.tensor(x, requires_grad=True) if torch else None
    for mode in ("max", "avg"):
        forward = getattr(layers, f"{mode}_pool2d_forward")
        backward = getattr(layers, f"{mode}_pool2d_backward")
        for k, s in POOLS:
            name = f"{mode} pool {k}x{k} s{s} on 64x64x56x56"
            out, cache = forward(x, kernel=k, stride=s)
            dout = rng.standard_normal(out.shape, dtype=np.float32)
            taps = float(out.size * k * k)
            fwd = {"cnnlab": lambda f=forward, k=k, s=s: f(x, kernel=k, stride=s)}
            bwd = {"cnnlab": lambda b=backward, d=dout, c=cache: b(d, c)}
            if torch:
                tf = getattr(torch.nn.functional, f"{mode}_pool2d")
                ot = tf(xt, k, s)
                dt = torch.tensor(dout)

                def t_fwd(tf=tf, k=k, s=s):
                    with torch.no_grad():
                        tf(xt, k, s)

                fwd["torch"] = t_fwd
                bwd["torch"] = lambda ot=ot, dt=dt: torch.autograd.grad(
                    ot, xt, dt, retain_graph=True
                )
            moved = float(x.nbytes + dout.nbytes)  # x and out; dout and dx
            row_f = Row(name, "forward", "pool", taps, timed_blocks(fwd, repeat),
                        bytes_moved=moved)
            row_b = Row(name, "backward", "pool", taps, timed_blocks(bwd, repeat),
                        bytes_moved=moved)
            if with_naive:  # one image of the 64, scaled
                naive_fwd = getattr(naive, f"{mode}_pool2d_forward")
                naive_bwd = getattr(naive, f"{mode}_pool2d_backward")
                start = CLOCK()
                _, cache1 = naive_fwd(x[:1], kernel=k, stride=s)
                row_f.naive_scaled = (CLOCK() - start) * x.shape[0]
                row_b.naive_scaled = (
                    once(lambda nb=naive_bwd, d=dout[:1], c=cache1: nb(d, c)) * x.shape[0]
                )
            rows += [row_f, row_b]
            report(row_f)
            report(row_b)
    return rows


def report(row: Row) -> None:
    ours = row.median("cnnlab")
    parts = [f"{row.name:56s} {row.direction:8s} cnnlab {ours * 1e3:9.2f} ms"]
    unit = "Gtap/s" if row.kind == "pool" else "GFLOP/s"
    parts.append(f"{row.ops / ours / 1e9:6.1f} {unit}")
    if "torch" in row.times:
        theirs = row.median("torch")
        parts.append(f"torch {theirs * 1e3:8.2f} ms x{ours / theirs:5.2f}")
    if "numpy" in row.times:
        parts.append(f"numpy {row.median('numpy') * 1e3:8.2f} ms")
    if row.naive_scaled == row.naive_scaled:
        parts.append(f"naive {row.naive_scaled:8.2f} s ({row.naive_scaled / ours:,.0f}x)")
    print("  ".join(parts), flush=True)


@numba.njit(cache=True)
def _fma_run(a, iterations, out, slot):
    """``iterations`` x 10 independent vector multiply-adds held in registers."""
    u = load(a, 0)
    v = load(a, lanes(a))
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = c8 = c9 = load(a, 2 * lanes(a))
    for _ in range(iterations):
        c0 = muladd(u, v, c0)
        c1 = muladd(u, v, c1)
        c2 = muladd(u, v, c2)
        c3 = muladd(u, v, c3)
        c4 = muladd(u, v, c4)
        c5 = muladd(u, v, c5)
        c6 = muladd(u, v, c6)
        c7 = muladd(u, v, c7)
        c8 = muladd(u, v, c8)
        c9 = muladd(u, v, c9)
    n = lanes(a)
    base = slot * 10 * n
    store(out, base, c0)
    store(out, base + n, c1)
    store(out, base + 2 * n, c2)
    store(out, base + 3 * n, c3)
    store(out, base + 4 * n, c4)
    store(out, base + 5 * n, c5)
    store(out, base + 6 * n, c6)
    store(out, base + 7 * n, c7)
    store(out, base + 8 * n, c8)
    store(out, base + 9 * n, c9)


@numba.njit(parallel=True, cache=True)
def _fma_parallel(a, iterations, out, threads):
    for t in numba.prange(threads):
        _fma_run(a, iterations, out, t)


def machine_peak() -> dict[str, float]:
    """Measured float32 GFLOP/s: a NumPy sgemm and a register-bound FMA loop, on one
    thread and on every thread (best of three each)."""
    from threadpoolctl import threadpool_limits

    from cnnlab.kernels.simd import VECTOR_BYTES

    lanes = VECTOR_BYTES // 4
    a = np.full(3 * lanes, 1.0000001, dtype=np.float32)
    a[2 * lanes:] = 0.0
    iterations = 2_000_000
    threads = numba.get_num_threads()
    out = np.zeros(10 * lanes * threads, dtype=np.float32)
    _fma_run(a, 10, out, 0)
    _fma_parallel(a, 10, out, threads)
    flops_one = 2.0 * 10 * lanes * iterations
    result = {}

    def best(f) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            f()
            times.append(time.perf_counter() - start)
        return min(times)

    # The loop uses cnnlab's vectors (VECTOR_BYTES); a CPU with wider FMA units has a
    # higher peak than it shows, which the sgemm (OpenBLAS picks the widest) reveals.
    width = f"{VECTOR_BYTES * 8}-bit vectors"
    result[f"FMA loop ({width}), 1 thread"] = (
        flops_one / best(lambda: _fma_run(a, iterations, out, 0)) / 1e9
    )
    result[f"FMA loop ({width}), {threads} threads"] = (
        flops_one * threads / best(lambda: _fma_parallel(a, iterations, out, threads)) / 1e9
    )
    m = np.random.default_rng(0).standard_normal((1536, 1536), dtype=np.float32)
    m @ m
    for label, limit in (("sgemm 1536^3, 1 thread", 1), (f"sgemm 1536^3, {threads} threads",
                                                          threads)):
        with threadpool_limits(limit):
            result[label] = 2.0 * 1536**3 / best(lambda: m @ m) / 1e9
    one = [v for k, v in result.items() if k.endswith("1 thread")]
    every = [v for k, v in result.items() if k.endswith(f"{threads} threads")]
    result["peak, 1 thread"] = max(one)
    result["peak, all threads"] = max(every)
    return result


@numba.njit(parallel=True, cache=True)
def _copy_parallel(source, target):
    for i in numba.prange(source.size):
        target[i] = source[i]


def memory_speed() -> dict[str, float]:
    """Measured memory copy speed in GB/s (bytes read plus bytes written), 64 MB into
    64 MB already touched, on one thread and on every thread (best of three): the
    floor under a pass that is bound by memory, as pooling's are."""
    threads = numba.get_num_threads()
    source = np.ones(16 * 2**20, dtype=np.float32)
    target = np.zeros_like(source)
    _copy_parallel(source, target)
    result = {}
    for label, count in (("1 thread", 1), ("all threads", threads)):
        numba.set_num_threads(count)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            _copy_parallel(source, target)
            times.append(time.perf_counter() - start)
        result[label] = 2 * source.nbytes / min(times) / 1e9
    numba.set_num_threads(threads)
    return result


def cold_start() -> dict[str, float]:
    """Fresh processes: warm cache, then an empty cache (first-ever compile).

    "Process start to first conv" runs from launching the interpreter to the moment
    the first convolution has returned (the child reports the wall-clock time then),
    so neither ``warmup()`` nor the interpreter's shutdown is counted.
    """
    code = (
        "import time; t0 = time.perf_counter(); import numpy as np; import cnnlab; "
        "x = np.ones((2, 3, 16, 16), np.float32); w = np.ones((4, 3, 3, 3), np.float32); "
        "out, cache = cnnlab.conv2d_forward(x, w, None, padding=1); "
        "done = time.time(); t1 = time.perf_counter(); from cnnlab import warmup; "
        "t2 = warmup(progress=False); print(done, t1 - t0, t2)"
    )
    python = [sys.executable, "-c", code]

    def launch(env=None) -> list[float]:
        launched = time.time()
        out = subprocess.run(python, check=True, capture_output=True, text=True, env=env)
        done, *rest = (float(v) for v in out.stdout.split())
        return [done - launched, *rest]

    launch()  # make sure the cache is warm
    runs = [launch() for _ in range(3)]
    medians = [statistics.median(values) for values in zip(*runs, strict=True)]
    start_to_conv, in_process, warm_warmup = medians
    result = {
        "warm: process start to first conv, median of 3 (s)": start_to_conv,
        "warm: import + first conv, in process (s)": in_process,
        "warm: warmup() (s)": warm_warmup,
    }
    with tempfile.TemporaryDirectory() as cache_dir:
        start_to_conv, _, cold_warmup = launch(dict(os.environ, NUMBA_CACHE_DIR=cache_dir))
    result["cold: process start to first conv (s)"] = start_to_conv
    result["cold: warmup() after it, first-ever compile of the rest (s)"] = cold_warmup
    return result


def machine() -> dict[str, str]:
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernels, "
        f"{i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "threads used": f"{numba.get_num_threads()} (Numba, {numba.threading_layer()} layer)",
        "Python": platform.python_version(),
        "NumPy": np.__version__,
        "Numba": numba.__version__,
        "BLAS": "; ".join(blas) or "unknown",
        "OPENBLAS_CORETYPE": "unset for this run" if os.environ.get(
            "CNNLAB_BENCH_UNSET_OPENBLAS") else "not set",
        "load average at start (1, 5, 15 min)": ", ".join(f"{v:.2f}" for v in load),
    }


def geomean(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan


def ratio_rows(rows: list[Row], kind: str, direction: str) -> list[float]:
    return [
        r.median("cnnlab") / r.median("torch")
        for r in rows
        if r.kind == kind and r.direction == direction and "torch" in r.times
    ]


def ratios(rows: list[Row], kind: str, direction: str) -> list[tuple[str, float]]:
    return [
        (r.name, r.median("cnnlab") / r.median("torch"))
        for r in rows
        if r.kind == kind and r.direction == direction and "torch" in r.times
    ]


def _worst(named: list[tuple[str, float]]) -> str:
    name, value = max(named, key=lambda item: item[1])
    return f"{value:.2f}x ({name.removeprefix('conv ')})"


#: Large stride-1 3x3 layers, where the single-core peak fraction target applies.
LARGE_3X3 = ("ResNet 3x3 64->64", "ResNet 3x3 128->128", "ResNet 3x3 256->256",
             "ResNet 3x3 512->512", "batch 1, VGG")


def _floor_ratio(row: Row, copy_speed: float) -> float:
    """The ratio to PyTorch of a kernel that ran at the measured memory copy speed
    (GB/s): the best any implementation can show on a pass bound by memory."""
    return row.bytes_moved / (copy_speed * 1e9) / row.median("torch")


def verdicts(rows: list[Row], single: list[Row], cold: dict[str, float],
             peak: dict[str, float], speed: dict[str, float]) -> list[tuple]:
    """One line per target: (target, wanted, measured in A, measured in B, verdict);
    ``speed`` is :func:`memory_speed`'s."""
    out = []
    for direction in ("forward", "backward"):
        a, b = ratios(rows, "conv", direction), ratios(single, "conv", direction)
        ga, gb = geomean([v for _, v in a]), geomean([v for _, v in b])
        target = TARGETS[f"conv {direction}"]
        met = ga <= target and gb <= target
        out.append((f"conv {direction} vs PyTorch, geometric mean of time ratios",
                    f"<= {target}x", f"{ga:.2f}x", f"{gb:.2f}x",
                    "met" if met else "NOT met"))
        worst = TARGETS["conv worst"]
        met = all(v <= worst for _, v in a + b)
        out.append((f"conv {direction} vs PyTorch, worst case", f"<= {worst}x", _worst(a),
                    _worst(b), "met" if met else "NOT met"))
    large = [r for r in single if r.kind == "conv" and r.direction == "forward"
             and any(key in r.name for key in LARGE_3X3)]
    fractions = [r.ops / r.median("cnnlab") / 1e9 / peak["peak, 1 thread"] for r in large]
    if fractions:
        out.append(("large stride-1 3x3 forward, fraction of the single-core peak (B)",
                    f">= {TARGETS['peak fraction']:.0%}", "",
                    f"min {min(fractions):.0%}, max {max(fractions):.0%}",
                    "met" if min(fractions) >= TARGETS["peak fraction"] else "NOT met"))
    for direction in ("forward", "backward"):
        target = TARGETS[f"pool {direction}"]
        texts, every = [], []
        for pass_rows, copy_speed in ((rows, speed["all threads"]), (single, speed["1 thread"])):
            named = [r for r in pass_rows if r.kind == "pool" and r.direction == direction
                     and "torch" in r.times]
            values = [r.median("cnnlab") / r.median("torch") for r in named]
            every += values
            met = sum(v <= target for v in values)
            worst = named[values.index(max(values))]
            texts.append(f"{met}/{len(values)} cases; geo. mean {geomean(values):.2f}x, "
                         f"worst {max(values):.2f}x (at the memory copy speed: "
                         f"{_floor_ratio(worst, copy_speed):.2f}x)")
        out.append((f"max/avg pool {direction} vs PyTorch, every case", f"<= {target}x",
                    *texts, "met" if all(v <= target for v in every) else "NOT met"))
    for direction in ("forward", "training step"):
        a, b = ratios(rows, "network", direction), ratios(single, "network", direction)
        out.append((f"whole network {direction} vs PyTorch (no target), geo. mean / worst",
                    "", f"{geomean([v for _, v in a]):.2f}x / {_worst(a)}",
                    f"{geomean([v for _, v in b]):.2f}x / {_worst(b)}", ""))
    speedups = [r.naive_scaled / r.median("cnnlab") for r in single
                if r.naive_scaled == r.naive_scaled]
    out.append(("speed-up over the naive loops, every case timed (one core each)", ">= 100x",
                "", f"min {min(speedups):,.0f}x, median {statistics.median(speedups):,.0f}x",
                "met" if min(speedups) >= 100 else "NOT met"))
    warm = cold["warm: process start to first conv, median of 3 (s)"]
    out.append(("cold start: fresh process, warm cache, import + first small conv", "< 1.5 s",
                f"{warm:.2f} s", "", "met" if warm < TARGETS["cold start (s)"] else "NOT met"))
    return out


def case_table(rows: list[Row], peak: float, copy_speed: float) -> list[str]:
    """The pass's rows; the last column is a convolution's share of the arithmetic peak,
    or a pooling pass's share of the memory copy speed (GB/s, both of that pass)."""
    lines = [
        "| case | pass | cnnlab ms | PyTorch ms | ratio | NumPy im2col ms | naive s (scaled) "
        "| naive/cnnlab | cnnlab GFLOP/s or Gtap/s | fraction of peak (pool: of memory "
        "copy speed) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ours, theirs, numpy_t = r.median("cnnlab"), r.median("torch"), r.median("numpy")
        naive_s = "" if r.naive_scaled != r.naive_scaled else f"{r.naive_scaled:.1f}"
        speedup = "" if not naive_s else f"{r.naive_scaled / ours:,.0f}"
        rate = r.ops / ours / 1e9
        if r.kind == "pool":
            fraction = f"{r.bytes_moved / ours / 1e9 / copy_speed:.0%}"
        else:
            fraction = f"{rate / peak:.0%}"
        lines.append(
            f"| {r.name} | {r.direction} | {ours * 1e3:.2f} | {theirs * 1e3:.2f} | "
            f"{ours / theirs:.2f} | {'' if numpy_t != numpy_t else f'{numpy_t * 1e3:.1f}'} | "
            f"{naive_s} | {speedup} | {rate:.1f} | {fraction} |"
        )
    for kind in ("conv", "network"):
        for direction in sorted({r.direction for r in rows if r.kind == kind}):
            named = ratios(rows, kind, direction)
            if named:
                lines.append(
                    f"| **{kind} {direction}: geometric mean / worst** | | | | "
                    f"**{geomean([v for _, v in named]):.2f}** / {_worst(named)} | | | | | |"
                )
    return lines


NOTES = """## Reading these numbers

- The machine is shared (two cores, other jobs running): wall-clock figures in pass A
  move by 2-10x from run to run when the load average is above 1, for PyTorch as much
  as for cnnlab, and any multi-threaded code suffers most. Pass B (one thread each, CPU
  time) is the stable comparison; see the load averages above before trusting pass A.
- The peak is measured, not quoted: a register-bound loop of fused multiply-adds on
  cnnlab's own vectors (512-bit where the CPU has AVX-512) and NumPy's sgemm, best of
  three; the fraction of peak of a row is its GFLOP/s over the larger of the two, for
  that pass's thread count.
- Convolution, forward. Every kernel keeps its running sums in CPU registers, as
  PyTorch's oneDNN kernels do (`cnnlab/kernels/simd.py` gives Numba a vector type, one
  AVX-512 register where the CPU has them, else one AVX register). Layers with 24 or
  more filters per group (8 with AVX) run on a channel-last copy of the input, a block
  of 8 consecutive output pixels (running on from one row into the next, so a 7x7
  output wastes none) x 2 vectors of filters at a time, 16 sums in registers
  (`kernels/blocked.py`); each block of filters' weights is one contiguous run (a
  grouped layer's blocks are padded per group and read their group's channels of the
  one copy) that starts on a vector boundary (NumPy's 16-byte alignment had split most
  weight loads across two cache lines), and rows go in tiles so that a block's weights
  are loaded once per tile rather than once per row (which had made 512->512 on 7x7
  four times slower). The
  threads share out ranges of rows and of blocks of filters (ranges of rows alone had
  given each thread a few rows of 512->512 on 7x7 and all 9 MB of weights to read).
  The sums go out to the NCHW output a cache line of each filter's plane at a time:
  written pixel by pixel, planes a multiple of 4 KB apart (32x32, 224x224) had evicted
  each other from the L1 cache, 3 ns a number against 0.5. 1x1 layers without
  padding are one BLAS product per image on the NCHW arrays, with no copy at stride 1
  (the channel-last copies had cost more than the product). Few channels at stride 1
  and fewer filters (per group) run on the wide grid of the padded input
  (`kernels/direct.py`). One-group layers with at most 16 output pixels per image
  (ResNet-18's last stage at 64x64 input: 2x2) take im2col and one BLAS product, in
  both directions: the blocked kernels would spend their time on the padding.
  Depthwise layers (`groups == C`, any stride) have a kernel of their own
  (`kernels/depthwise.py`): a channel plane at a time in the core's cache, split into
  column phases for strides, a vector of output columns by four rows with the sums in
  registers.
- Convolution, backward. With stride 1, `dx` is itself a stride-1 convolution of `dout`
  (flipped filters, filters and channels swapped within each group) on the same
  forward kernels, for any number of groups; `dw` is summed by its own register-blocked
  kernel (`kernels/weight_grad.py`), a group at a time for grouped layers; its threads
  share out the rows, or, for a `dw` over 1 MB, the taps and blocks of filters. These
  paths call no BLAS, so Numba's and BLAS's thread pools never take turns on the
  cores. 1x1 layers without padding take two BLAS products per image. Strided layers
  without dilation compute `dx` as one stride-1 convolution per stride phase (one
  group: every phase on the channel-last kernel, from one copy of `dout`). Depthwise
  layers get `dx`, `dw` and `db` from one pass of their own kernel over `dout`, at any
  stride (`dx` gathered by stride phase with the sums in registers). Strided
  one-group layers with fewer than 8 channels (AlexNet's conv1) or dilation still use
  im2col, two BLAS products and col2im.
- Warm-up. Every block of runs starts with 0.3 s of untimed calls, so that neither
  library's first calls after a change of sizes (thread pools, allocator) count.
- Pooling. cnnlab's kernels loop over the taps of the window and, for each tap, over
  every window of a channel plane at once (wide rows, the plane split into stride
  phases), which the compiler turns into vector instructions; the planes are shared
  out among the threads. The backward passes are bound by memory: the last column
  of a pooling row is the bytes its arrays hold (input and output: `x` and `out`,
  `dout` and `dx`) over its time, as a share of the measured copy speed of that pass,
  and the targets' table gives, for the worst case, the ratio a kernel running at the
  copy speed would reach; where that is above 0.5x, PyTorch itself ran near the speed
  of memory and no kernel can meet the target there. A `dx` of 32 MB or
  more reuses the memory of an earlier `dx` that nothing refers to any more
  (`cnnlab/layers/_recycled.py`; a training step, like the timed calls here, drops
  each gradient soon after making it): fresh memory is zeroed by the operating system
  on first touch, and on a virtual machine that hands idle free memory back to its
  host (free page reporting, as this one does) is fetched back from the host as well,
  which costs ten to twenty times more (a fresh 51 MB array: 6-7 ms of system time,
  40-120 ms if that memory had been free for a few seconds). PyTorch takes fresh
  memory at every call. Max pooling keeps each window's winner as its tap in the
  window, one byte, rather than a four-byte index in the plane, which the backward
  pass reads again; 3x3 stride 1 on 64x64x56x56 still reads and writes about 110 MB
  (`dout`, the winners and `dx`), and the scatter of each window's gradient to its
  winner, one window at a time, costs about as much again.
- Whole networks: the forward pass is in evaluation mode (running statistics), the
  training step is forward, softmax cross-entropy, backward and one SGD update with
  momentum, on the same weights in both libraries (`cnnlab/net/torch_twin.py`). Batch
  norm runs on Numba kernels (`kernels/norm.py`, sums in float64). A network's passes
  run BLAS on one thread (`cnnlab/net/_threads.py`): between a network's BLAS products
  and Numba's kernels, each pool's idle threads kept spinning on the cores the other
  then needed (ResNet-18's forward pass, 2 cores, runs interleaved at load 10: 612 ms
  of wall time with BLAS on 2 threads, 478 ms on one; its CPU time 294 and 251 ms).
- Naive loops: `cnnlab.naive` is Python loops over output positions, timed on one image
  where that image takes less than 1e8 multiply-adds, so the gap is largest for pooling
  (one Python iteration per window) and smallest for many-channel convolutions.
"""


#: The engine's part of RESULTS.md lies between these lines; anything outside them
#: (other benchmarks' sections) is kept as it is.
BEGIN = "<!-- engine benchmark: written by benchmarks/run.py -->"
END = "<!-- end of the engine benchmark -->"


def _splice(path: Path, section: list[str]) -> str:
    """The file's text with the engine section replaced (or put first)."""
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        before, rest = old.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
    else:  # an older file written whole by this script: keep only others' sections
        before, after = "", ""
        heads = [i for i, line in enumerate(old.splitlines()) if line.startswith("# ")]
        if len(heads) > 1:
            after = "\n" + "\n".join(old.splitlines()[heads[1]:]) + "\n"
    return before + BEGIN + "\n" + "\n".join(section) + "\n" + END + after


def write_results(path: Path, info, rows, single, cold, table, peak, speed, quick) -> None:
    threads = numba.get_num_threads()
    lines = [
        "# Benchmark results",
        "",
        f"Written by `benchmarks/run.py{' --quick' if quick else ''}` on "
        f"{datetime.date.today().isoformat()}. Float32 unless a case says float64, "
        "median of two rounds of timed blocks per library, each block after "
        f"{WARMUP_SECONDS} s of untimed warm-up calls; ratios are cnnlab time / other "
        "time (below 1: cnnlab is faster). PyTorch forward runs under `torch.no_grad()`, "
        "backward is "
        "`torch.autograd.grad` (dx, dw, db) of a retained graph. Pass A uses every core "
        "(PyTorch gets as many threads as cnnlab) and wall-clock time; pass B gives "
        "everybody one thread and measures the process's CPU time, which other programs "
        "on the machine disturb much less. The naive loops run in pass B on one image, "
        "scaled linearly to the batch. The fraction of peak is cnnlab's GFLOP/s over the "
        "machine's measured peak for that pass (below).",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
        "## Measured peak (float32 GFLOP/s)",
        "",
        *[f"- {k}: {v:.0f}" for k, v in peak.items()],
        "",
        "## Measured memory copy speed (GB/s read + written, 64 MB arrays)",
        "",
        *[f"- {k}: {v:.1f}" for k, v in speed.items()],
        "",
        "## Targets",
        "",
        "| target | wanted | pass A (all cores, wall) | pass B (1 thread, CPU) | verdict |",
        "| --- | --- | --- | --- | --- |",
        *["| " + " | ".join(line) + " |" for line in table],
        "",
        f"## Pass A: every core ({threads} threads), wall-clock time",
        "",
        *case_table(rows, peak["peak, all threads"], speed["all threads"]),
        "",
        "## Pass B: one thread each, CPU time",
        "",
        *case_table(single, peak["peak, 1 thread"], speed["1 thread"]),
        "",
        "## Start-up",
        "",
        *[f"- {k}: {v:.2f}" for k, v in cold.items()],
        "",
        *NOTES.splitlines(),
    ]
    path.write_text(_splice(path, lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="a subset of the convolutions (a few minutes in all)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(numba.get_num_threads())
    except ImportError:
        torch = None
        print("PyTorch is not installed: only cnnlab, NumPy and the naive loops are timed.")
    from cnnlab import warmup

    warmup()
    info = machine()
    if torch is not None:
        info["PyTorch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    for k, v in info.items():
        print(f"{k}: {v}")
    peak = machine_peak()
    for k, v in peak.items():
        print(f"{k}: {v:.0f} GFLOP/s")
    speed = memory_speed()
    for k, v in speed.items():
        print(f"memory copy, {k}: {v:.1f} GB/s")
    global CLOCK
    threads = numba.get_num_threads()
    repeat = 3 if args.quick else args.repeat

    def suite(with_naive: bool) -> list[Row]:
        rows = bench_convs(torch, repeat, with_naive, args.quick)
        rows += bench_pools(torch, repeat, with_naive)
        return rows + (bench_networks(torch, repeat) if torch is not None else [])

    print(f"\npass A: {threads} threads, wall-clock time")
    rows = suite(False)
    print("\npass B: one thread each, CPU time")
    from threadpoolctl import threadpool_limits

    CLOCK = time.process_time
    numba.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    with threadpool_limits(1):
        single = suite(True)
    CLOCK = time.perf_counter
    numba.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    cold = cold_start()
    for k, v in cold.items():
        print(f"{k}: {v:.2f}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    info["load average at end (1, 5, 15 min)"] = ", ".join(f"{v:.2f}" for v in load)
    table = verdicts(rows, single, cold, peak, speed) if torch is not None else []
    for line in table:
        print(" | ".join(line))
    write_results(args.out, info, rows, single, cold, table, peak, speed, args.quick)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
