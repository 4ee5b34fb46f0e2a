"""Max and average pooling, forward and backward, a few channel planes per call.

The kernels take the *unpadded* input and the padding per side. Window ``(i, j)``
covers rows ``i*stride_h - pad_top ... + KH - 1`` and columns
``j*stride_w - pad_left ... + KW - 1`` of the input; max pooling pads with ``-inf``
(padding never wins), average pooling with zeros (the padded zeros add nothing to the
sum; whether they count in the divisor is ``count_include_pad``).

Each kernel works on the (n, c) planes ``p0 <= n*C + c < p1``, serially; the
``parallel`` function below it splits the planes into ``chunks`` ranges and runs one
``prange`` iteration per range. An iteration owns its planes of the output and of
``dx``, so the ``+=`` of overlapping windows never races. The public wrappers call
the serial kernel on small inputs, where starting threads would cost more than the
work (a gradient check calls a layer thousands of times on a few hundred numbers).

How the loops run fast
----------------------
The lecture's loop, "for each output (i, j), for each tap (kh, kw)", does a handful
of operations per output, too few for the compiler to use vector instructions. The
kernels turn it inside out: **for each tap, for every output of the plane at once**.

1. *Wide rows.* When both strides are equal (``s``), output ``(i, j)`` is stored at
   ``q = i*Wp + j`` of a scratch row as wide as the (padded) input, ``Wp``: then tap
   ``(kh, kw)`` of every window is the single run ``flat[s*q + kh*Wp + kw]`` of the
   flattened plane, one long loop per tap. The ``Wp - W_out`` extra outputs per row
   read real pixels and are thrown away. With unequal strides each output row is its
   own run.
2. *Phases.* With stride ``s > 1`` that run has gaps. The plane is first split into
   ``s`` phases, ``phases[r % s, r // s] = flat[r]``, so that the run becomes the
   contiguous ``phases[off % s, off // s + q]`` with ``off = kh*Wp + kw``.
3. *Padding.* A padded (or ``ceil_mode``) plane is first copied into a scratch plane
   whose border holds the pad value, so no window needs clipping.

The order of the taps is still row-major within each window, so max pooling keeps the
first maximum and average pooling adds in PyTorch's order. The backward pass of
average pooling runs the same loops the other way, ``+=`` into the phases.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _wide_layout(H, W, KH, KW, stride_h, stride_w, pad_top, pad_left, H_out, W_out):
    """Shape of the scratch plane and of the runs of outputs.

    Returns
    -------
    Hp, Wp : int
        Rows and columns of the padded plane: the input plus the top/left padding,
        extended to the bottom/right as far as the last window reaches.
    direct : bool
        True if no window leaves the input: the input plane is used as it is.
    rows, n : int
        Output rows per run and the run's length: all ``H_out`` rows in one run of
        ``(H_out - 1)*Wp + W_out`` wide-row slots when the strides are equal, else
        one row of ``W_out``.
    """
    Hp = max(pad_top + H, (H_out - 1) * stride_h + KH)
    Wp = max(pad_left + W, (W_out - 1) * stride_w + KW)
    direct = pad_top == 0 and pad_left == 0 and Hp == H and Wp == W
    if stride_h == stride_w:
        return Hp, Wp, direct, H_out, (H_out - 1) * Wp + W_out
    return Hp, Wp, direct, 1, W_out


@njit(cache=True)
def _split_phases(flat, step, phases):
    """``phases[r % step, r // step] = flat[r]`` for every ``r``."""
    size = flat.shape[0]
    if step == 2:  # the common case, spelled out so that it vectorizes
        for r in range(size // 2):
            phases[0, r] = flat[2 * r]
            phases[1, r] = flat[2 * r + 1]
        if size % 2:
            phases[0, size // 2] = flat[size - 1]
        return
    for phase in range(step):
        for r in range((size - phase + step - 1) // step):
            phases[phase, r] = flat[step * r + phase]


@njit(cache=True)
def _merge_phases(phases, step, flat):
    """The inverse of :func:`_split_phases`: ``flat[r] = phases[r % step, r // step]``."""
    size = flat.shape[0]
    if step == 2:
        for r in range(size // 2):
            flat[2 * r] = phases[0, r]
            flat[2 * r + 1] = phases[1, r]
        if size % 2:
            flat[size - 1] = phases[0, size // 2]
        return
    for phase in range(step):
        for r in range((size - phase + step - 1) // step):
            flat[step * r + phase] = phases[phase, r]


@njit(cache=True)
def _load_plane(plane, direct, padded, pad_top, pad_left, step, phases):
    """The (H, W) plane flattened, after copying it into the scratch ``padded`` plane
    unless ``direct``; with ``step > 1`` also split into ``phases``."""
    H, W = plane.shape
    if direct:
        flat = plane.reshape(H * W)
    else:
        padded[pad_top : pad_top + H, pad_left : pad_left + W] = plane
        flat = padded.reshape(padded.size)
    if step > 1:
        _split_phases(flat, step, phases)
    return flat


@njit(cache=True)
def _run_of_tap(flat, phases, step, offset):
    """The run of pixels that one tap reads: ``flat[offset + step*q]`` as ``run[q]``."""
    if step == 1:
        return flat[offset:]
    return phases[offset % step, offset // step:]


@njit(cache=True, inline="always")
def _max_tap(run, n, best_in, arg_in, best_out, arg_out, tap):
    """One tap of every window: keep the larger value and the tap it came from.

    ``best_out`` and ``arg_out`` are other arrays than ``best_in`` and ``arg_in``
    (the kernel alternates two buffers): a loop that overwrote its input only where
    the tap wins would compile to masked stores, which are slow on some CPUs.
    """
    for q in range(n):
        v = run[q]
        best = best_in[q]
        arg = arg_in[q]
        wins = (v > best) | (v != v)  # v != v: v is NaN, which always wins
        best_out[q] = v if wins else best
        arg_out[q] = tap if wins else arg


@njit(cache=True, inline="always")
def _sum_tap(run, n, total):
    """One tap of every window: ``total[q] += run[q]``."""
    for q in range(n):
        total[q] += run[q]


@njit(cache=True)
def max_pool_forward(x, KH, KW, stride_h, stride_w, pad_top, pad_left, out, argmax, p0, p1):
    """Max of every window and where it was (the slide's forward pass).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    KH, KW, stride_h, stride_w, pad_top, pad_left : int
    out : ndarray, shape (N, C, H_out, W_out)
        Written in place.
    argmax : ndarray of uint8 or int32, shape (N, C, H_out, W_out)
        Written in place: the winner's tap in its window, ``kh*KW + kw`` (uint8 for
        windows of at most 256 taps: a quarter of the memory an index in the plane
        takes, read again by the backward pass).
    p0, p1 : int
        The planes to pool: ``p0 <= n*C + c < p1``.

    Notes
    -----
    Tie rule (PyTorch's): each window is scanned in row-major order from ``-inf`` and
    a value wins only if it is strictly greater than the best so far, so the *first*
    maximum wins, padding never wins, and a window of ``-inf`` values reports its
    first real pixel. A NaN always wins (NaN propagates, as in PyTorch).
    """
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    H_out, W_out = out.shape[2], out.shape[3]
    Hp, Wp, direct, rows, n = _wide_layout(
        H, W, KH, KW, stride_h, stride_w, pad_top, pad_left, H_out, W_out
    )
    step = stride_w
    padded = np.full((Hp, Wp), -np.inf, dtype=x.dtype)  # the border stays -inf
    phases = np.empty((step, (Hp * Wp + step - 1) // step), dtype=x.dtype)
    best = np.empty((2, n), dtype=x.dtype)  # two buffers, used in turn (see _max_tap)
    arg = np.empty((2, n), dtype=np.int32)  # the winning tap kh*KW + kw; -1: none
    for nc in range(p0, p1):
        nn, c = nc // C, nc % C
        flat = _load_plane(x[nn, c], direct, padded, pad_top, pad_left, step, phases)
        for i0 in range(0, H_out, rows):
            best[0, :] = -np.inf
            arg[0, :] = -1
            now = 0
            for kh in range(KH):
                for kw in range(KW):
                    run = _run_of_tap(flat, phases, step, (i0 * stride_h + kh) * Wp + kw)
                    _max_tap(
                        run, n, best[now], arg[now], best[1 - now], arg[1 - now],
                        np.int32(kh * KW + kw),
                    )
                    now = 1 - now
            for i in range(i0, min(i0 + rows, H_out)):
                q0 = (i - i0) * Wp
                top = max(pad_top - i * stride_h, 0) * KW  # first real row's taps
                for j in range(W_out):
                    tap = arg[now, q0 + j]
                    out[nn, c, i, j] = best[now, q0 + j]
                    if tap < 0:  # nothing beat -inf: the window's first real pixel
                        tap = top + max(pad_left - j * stride_w, 0)
                    argmax[nn, c, i, j] = tap


@njit(cache=True, parallel=True)
def max_pool_forward_parallel(
    x, KH, KW, stride_h, stride_w, pad_top, pad_left, out, argmax, chunks
):
    """:func:`max_pool_forward` on every plane, in ``chunks`` ranges run in parallel."""
    P = x.shape[0] * x.shape[1]
    for k in prange(chunks):
        max_pool_forward(
            x, KH, KW, stride_h, stride_w, pad_top, pad_left, out, argmax,
            k * P // chunks, (k + 1) * P // chunks,
        )


@njit(cache=True)
def max_pool_backward(
    dout, argmax, KH, KW, stride_h, stride_w, pad_top, pad_left, dx, p0, p1
):
    """Route each upstream gradient to its window's winner, adding up on overlaps.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H_out, W_out)
    argmax : ndarray of uint8 or int32, shape (N, C, H_out, W_out)
        From :func:`max_pool_forward`: each window's winning tap ``kh*KW + kw``.
    KH, KW, stride_h, stride_w, pad_top, pad_left : int
        The forward pass's window, stride and padding.
    dx : ndarray, shape (N, C, H, W)
        Written in place: each plane is zeroed, then accumulated (``+=``). Zeroing
        here rather than with ``np.zeros`` saves a pass over memory.
    p0, p1 : int
        The planes: ``p0 <= n*C + c < p1``.

    Notes
    -----
    ``dx[n, c, i*sh - top + kh, j*sw - left + kw] += dout[n, c, i, j]`` with
    ``(kh, kw)`` the winning tap of window ``(i, j)``: a pixel that wins several
    overlapping windows collects the *sum* of their gradients (the ``+=`` is the
    lesson of the CS109B 3x3 stride-1 walk-through). A table gives each tap's offset
    ``kh*W + kw`` in the flattened plane, so no division runs per window. The index is
    never negative and is used as an unsigned number: a signed index costs a test per
    window (Python's ``a[-1]``), about a quarter of the loop's time.
    """
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    H_out, W_out = dout.shape[2], dout.shape[3]
    offset = np.empty(KH * KW, dtype=np.int64)
    for t in range(KH * KW):
        offset[t] = (t // KW) * W + t % KW
    for nc in range(p0, p1):
        n, c = nc // C, nc % C
        plane = dx[n, c].reshape(H * W)  # a view: the winners are found by flat index
        plane[:] = 0
        for i in range(H_out):
            corner = (i * stride_h - pad_top) * W - pad_left
            winners, grads = argmax[n, c, i], dout[n, c, i]
            for j in range(W_out):
                plane[np.uintp(corner + j * stride_w + offset[winners[j]])] += grads[j]


@njit(cache=True, parallel=True)
def max_pool_backward_parallel(
    dout, argmax, KH, KW, stride_h, stride_w, pad_top, pad_left, dx, chunks
):
    """:func:`max_pool_backward` on every plane, in ``chunks`` ranges run in parallel."""
    P = dx.shape[0] * dx.shape[1]
    for k in prange(chunks):
        max_pool_backward(
            dout, argmax, KH, KW, stride_h, stride_w, pad_top, pad_left, dx,
            k * P // chunks, (k + 1) * P // chunks,
        )


@njit(cache=True)
def _fill_divisors(
    divisors, H, W, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
    count_include_pad,
):
    """PyTorch's average-pool divisor of every window, into ``divisors[i, j]``.

    The window clipped to the padded input (a ``ceil_mode`` window hanging past the
    padding counts fewer pixels), or to the real input if padding does not count.
    """
    for i in range(divisors.shape[0]):
        h0 = i * stride_h - pad_top
        h1 = min(h0 + KH, H + pad_bottom)
        for j in range(divisors.shape[1]):
            w0 = j * stride_w - pad_left
            w1 = min(w0 + KW, W + pad_right)
            if count_include_pad:
                divisors[i, j] = (h1 - h0) * (w1 - w0)
            else:
                divisors[i, j] = (min(h1, H) - max(h0, 0)) * (min(w1, W) - max(w0, 0))


# error_model="numpy": no zero-division test per output (which would stop the division
# loop from vectorizing); a divisor is never zero.
@njit(cache=True, error_model="numpy")
def avg_pool_forward(
    x, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
    count_include_pad, out, p0, p1,
):
    """Mean of every window.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right : int
    count_include_pad : bool
        Divide by the window size counted inside the padded input (PyTorch's
        default, True) or by the number of real pixels (False).
    out : ndarray, shape (N, C, H_out, W_out)
        Written in place.
    p0, p1 : int
        The planes: ``p0 <= n*C + c < p1``.

    Notes
    -----
    ``out[n, c, i, j] = sum(x[n, c, window]) / divisor``, the sum taken in row-major
    window order, with the divisor of :func:`_fill_divisors`.
    """
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    H_out, W_out = out.shape[2], out.shape[3]
    Hp, Wp, direct, rows, n = _wide_layout(
        H, W, KH, KW, stride_h, stride_w, pad_top, pad_left, H_out, W_out
    )
    step = stride_w
    divisors = np.empty((H_out, W_out), dtype=out.dtype)
    _fill_divisors(
        divisors, H, W, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom,
        pad_right, count_include_pad,
    )
    padded = np.zeros((Hp, Wp), dtype=x.dtype)  # the border stays 0
    phases = np.empty((step, (Hp * Wp + step - 1) // step), dtype=x.dtype)
    total = np.empty(n, dtype=x.dtype)
    for nc in range(p0, p1):
        nn, c = nc // C, nc % C
        flat = _load_plane(x[nn, c], direct, padded, pad_top, pad_left, step, phases)
        for i0 in range(0, H_out, rows):
            total[:] = 0
            for kh in range(KH):
                for kw in range(KW):
                    run = _run_of_tap(flat, phases, step, (i0 * stride_h + kh) * Wp + kw)
                    _sum_tap(run, n, total)
            for i in range(i0, min(i0 + rows, H_out)):
                q0 = (i - i0) * Wp
                out_row, divisor_row = out[nn, c, i], divisors[i]
                for j in range(W_out):
                    out_row[j] = total[q0 + j] / divisor_row[j]


@njit(cache=True, parallel=True)
def avg_pool_forward_parallel(
    x, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
    count_include_pad, out, chunks,
):
    """:func:`avg_pool_forward` on every plane, in ``chunks`` ranges run in parallel."""
    P = x.shape[0] * x.shape[1]
    for k in prange(chunks):
        avg_pool_forward(
            x, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
            count_include_pad, out, k * P // chunks, (k + 1) * P // chunks,
        )


@njit(cache=True, error_model="numpy")
def avg_pool_backward(
    dout, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
    count_include_pad, dx, p0, p1,
):
    """Spread each upstream gradient evenly over its window, adding up on overlaps.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H_out, W_out)
    KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right : int
    count_include_pad : bool
    dx : ndarray, shape (N, C, H, W)
        Written in place, every element once.
    p0, p1 : int
        The planes: ``p0 <= n*C + c < p1``.

    Notes
    -----
    ``dx[n, c, window] += dout[n, c, i, j] / divisor`` with the divisor of
    :func:`avg_pool_forward`; the share that fell on padding is dropped. Each window's
    share is first written at its wide-row slot (the extra slots hold 0), then every
    tap adds all the shares into its run of the plane, in phases when ``s > 1``.
    """
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    H_out, W_out = dout.shape[2], dout.shape[3]
    Hp, Wp, direct, rows, n = _wide_layout(
        H, W, KH, KW, stride_h, stride_w, pad_top, pad_left, H_out, W_out
    )
    step = stride_w
    divisors = np.empty((H_out, W_out), dtype=dx.dtype)
    _fill_divisors(
        divisors, H, W, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom,
        pad_right, count_include_pad,
    )
    padded = np.empty((Hp, Wp), dtype=dx.dtype)
    phases = np.empty((step, (Hp * Wp + step - 1) // step), dtype=dx.dtype)
    share = np.zeros(n, dtype=dx.dtype)  # the slots past W_out in a wide row stay 0
    for nc in range(p0, p1):
        nn, c = nc // C, nc % C
        flat = dx[nn, c].reshape(H * W) if direct else padded.reshape(Hp * Wp)
        if step == 1:
            flat[:] = 0
        else:
            phases[:, :] = 0
        for i0 in range(0, H_out, rows):
            for i in range(i0, min(i0 + rows, H_out)):
                q0 = (i - i0) * Wp
                dout_row, divisor_row = dout[nn, c, i], divisors[i]
                for j in range(W_out):
                    share[q0 + j] = dout_row[j] / divisor_row[j]
            for kh in range(KH):
                for kw in range(KW):
                    run = _run_of_tap(flat, phases, step, (i0 * stride_h + kh) * Wp + kw)
                    _sum_tap(share, n, run)  # run[q] += share[q]
        if step > 1:
            _merge_phases(phases, step, flat)
        if not direct:
            dx[nn, c] = padded[pad_top:pad_top + H, pad_left:pad_left + W]


@njit(cache=True, parallel=True)
def avg_pool_backward_parallel(
    dout, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
    count_include_pad, dx, chunks,
):
    """:func:`avg_pool_backward` on every plane, in ``chunks`` ranges run in parallel."""
    P = dx.shape[0] * dx.shape[1]
    for k in prange(chunks):
        avg_pool_backward(
            dout, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
            count_include_pad, dx, k * P // chunks, (k + 1) * P // chunks,
        )
