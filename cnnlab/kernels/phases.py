"""The filters of a strided convolution's input gradient, split by stride phase.

With stride ``(sh, sw)`` and dilation 1, padded input pixel ``(q*sh + r, p*sw + s)``
met tap ``(r + t*sh, s + u*sw)`` in output pixel ``(q - t, p - u)``: the input pixels
of *phase* ``(r, s)`` get their gradient from a stride-1 convolution of ``dout`` with
that phase's taps only, flipped in space, filters and channels swapped (see
:func:`cnnlab.layers._conv_paths.phase_input_gradient`). Each phase runs on the
channel-last kernel of :mod:`cnnlab.kernels.blocked`, whose filters are laid out in
blocks of ``B = 2*lanes``; :func:`phase_filters` writes every phase's filters in that
layout in one pass over ``w``.

Laying them out from NumPy views instead (a transposed, flipped and sliced view of
``w`` per phase) had cost 10 ms for ResNet's 3x3 stride-2 256->512, against 3.3 ms
for the kernels of the four phases: NumPy's copy walks the target in order and reads
``w`` a number every 36 bytes across a 4.7 MB array.
"""

from __future__ import annotations

from numba import njit, uint64

#: Filters whose numbers :func:`phase_filters` moves together.
FILTERS = 8


@njit(cache=True)
def phase_filters(w, sh, sw, B, Cp, starts, wt):
    """Every phase's filters for :func:`cnnlab.kernels.blocked.conv_rows`, from ``w``.

    Parameters
    ----------
    w : ndarray, shape (F, C, KH, KW)
        The layer's filters (one group), C-contiguous.
    sh, sw : int
        The stride. Phases ``r >= KH`` (or ``s >= KW``) have no taps and no filters.
    B : int
        Filters per block of the channel-last kernel (``2*lanes``).
    Cp : int
        ``C`` rounded up to a multiple of ``B``: the input gradient's convolution has
        ``C`` filters, padded with zero filters to whole blocks.
    starts : ndarray of int64, shape (sh*sw,)
        Where phase ``(r, s)``'s filters start in ``wt`` (index ``r*sw + s``), each
        ``Cp*T*U*F`` numbers long (``T = len(range(r, KH, sh))`` taps in height, ``U``
        in width).
    wt : ndarray, shape (sum of the phases' sizes,)
        Written: phase ``(r, s)``'s tap ``(t', u')`` (flipped: layer tap ``(r + (T - 1
        - t')*sh, s + (U - 1 - u')*sw)``) for channel ``f`` of the input gradient's
        convolution (filter ``f`` of the layer) and its filter ``c`` (channel ``c``
        of the layer) at ``start + ((((c // B)*T + t')*U + u')*F + f)*B + c % B``,
        zero for ``c >= C``.
    """
    F, C, KH, KW = w.shape
    flat = w.reshape(w.size)
    for cb in range(Cp // B):
        count = min(B, C - cb * B)  # channels of the block (the rest are zero)
        # FILTERS filters at a time: their numbers of w (a few KB) stay in the L1 cache
        # while each tap's run of FILTERS*B numbers of wt is written in one go.
        for f0 in range(0, F, FILTERS):
            f1 = min(F, f0 + FILTERS)
            for kh in range(KH):
                r, t = kh % sh, kh // sh
                T = (KH - 1 - r) // sh + 1
                for kw in range(KW):
                    s, u = kw % sw, kw // sw
                    U = (KW - 1 - s) // sw + 1
                    # the phase's flipped tap, block cb of c, filter f0
                    target = starts[r * sw + s] + (((cb * T + T - 1 - t) * U + U - 1 - u) * F
                                                   + f0) * B
                    for f in range(f0, f1):
                        # w[f, cb*B + k, kh, kw], unsigned (no test for negative indices)
                        source = uint64(((f * C + cb * B) * KH + kh) * KW + kw)
                        for k in range(count):
                            wt[uint64(target + k)] = flat[source + uint64(k * KH * KW)]
                        for k in range(count, B):
                            wt[uint64(target + k)] = 0
                        target += B
