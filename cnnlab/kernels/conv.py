"""Convolution as matrix products: im2col, col2im and two reshuffles.

A convolution of ``x`` (N, C, H, W) with ``w`` (F, C, KH, KW) is a matrix product once
every receptive field is unrolled into a column ("im2col", the slide that turns a
conv layer into a fully connected layer applied at every position)::

    cols   (C*KH*KW, n*H_out*W_out)   one column per output position of n images
    w_mat  (F, C*KH*KW)               one row per filter: w.reshape(F, -1)
    out    = w_mat @ cols             (F, n*H_out*W_out), reshuffled to NCHW

and the backward pass is two more products and the inverse unrolling::

    dw_mat += dout_mat @ cols.T       (F, C*KH*KW)
    dcols   = w_mat.T @ dout_mat      (C*KH*KW, n*H_out*W_out)
    dx      = col2im(dcols)           overlapping fields ADD their gradients

Row ``r = (c*KH + kh)*KW + kw`` of ``cols`` holds input channel ``c`` seen through
kernel tap ``(kh, kw)``, so the rows of one group of channels are contiguous and a
grouped convolution is one product per group. The products are NumPy's ``@`` (BLAS);
these kernels only move numbers around.

Every kernel works on the images ``n0 <= n < n1`` of the batch, so the caller can
stream the batch through a ``cols`` buffer small enough to stay in cache (a whole
batch of 64 images of 64x56x56 would need 460 MB of columns for a 3x3 kernel).
All kernels take an already padded input: padding is the public wrapper's job.

Stride 1 has a faster layout, "wide" columns (:func:`im2col_wide`): the output is
computed on a grid as wide as the padded input, ``H_out x Wp`` instead of
``H_out x W_out``. Then the column of tap ``(c, kh, kw)`` for one image is a single
contiguous run of the flattened padded image, copied in one go instead of ``H_out``
short rows. The ``Wp - W_out`` extra columns of each output row are computed and
thrown away by :func:`mat_to_nchw` (a few percent more arithmetic); in the backward
pass their upstream gradient is set to zero, so they add nothing anywhere.

The reshuffles take the row width ``Wq`` of the matrix layout: ``W_out`` for ordinary
columns, ``Wp`` for wide ones.

These kernels are deliberately serial: the matrix products between them already use
every core through BLAS's own threads. Numba's parallel workers and BLAS's workers
taking turns on two cores spin against each other, which made the whole layer up to
ten times slower on a busy machine (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def im2col(xp, n0, n1, KH, KW, stride_h, stride_w, dil_h, dil_w, H_out, W_out, cols):
    """Unroll every receptive field of images ``n0..n1-1`` into a column of ``cols``.

    Parameters
    ----------
    xp : ndarray, shape (N, C, Hp, Wp)
        Padded input, C-contiguous.
    n0, n1 : int
        The images to unroll.
    KH, KW, stride_h, stride_w, dil_h, dil_w, H_out, W_out : int
        Kernel size, stride and dilation per axis, and the output size.
    cols : ndarray, shape (C*KH*KW, >= (n1 - n0)*H_out*W_out)
        Filled in place.

    Notes
    -----
    ``cols[(c*KH + kh)*KW + kw, ((n - n0)*H_out + i)*W_out + j] =
    xp[n, c, i*stride_h + kh*dil_h, j*stride_w + kw*dil_w]``.
    """
    C = xp.shape[1]
    P = H_out * W_out
    last = (W_out - 1) * stride_w + 1
    for r in range(C * KH * KW):
        c = r // (KH * KW)
        kh = (r // KW) % KH
        kw = r % KW
        for n in range(n0, n1):
            for i in range(H_out):
                start = (n - n0) * P + i * W_out
                row = xp[n, c, i * stride_h + kh * dil_h]
                cols[r, start : start + W_out] = row[kw * dil_w : kw * dil_w + last : stride_w]


@njit(cache=True)
def col2im(dcols, n0, n1, KH, KW, stride_h, stride_w, dil_h, dil_w, H_out, W_out, dxp):
    """Fold columns back onto images ``n0..n1-1``, adding where receptive fields overlap.

    The inverse bookkeeping of :func:`im2col`: each entry of ``dcols`` is added
    (``+=``) to the input pixel it was copied from. A pixel seen by several output
    positions (overlapping windows) collects the sum of their gradients.

    Parameters
    ----------
    dcols : ndarray, shape (C*KH*KW, >= (n1 - n0)*H_out*W_out)
    n0, n1, KH, KW, stride_h, stride_w, dil_h, dil_w, H_out, W_out : int
    dxp : ndarray, shape (N, C, Hp, Wp)
        Zero-filled by the caller; accumulated in place.

    Notes
    -----
    ``dxp[n, c, i*stride_h + kh*dil_h, j*stride_w + kw*dil_w] +=
    dcols[(c*KH + kh)*KW + kw, ((n - n0)*H_out + i)*W_out + j]``.
    """
    C = dxp.shape[1]
    P = H_out * W_out
    for nc in range((n1 - n0) * C):
        n = n0 + nc // C
        c = nc % C
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                src = dcols[r]
                for i in range(H_out):
                    start = (n - n0) * P + i * W_out
                    row = dxp[n, c, i * stride_h + kh * dil_h]
                    for j in range(W_out):
                        row[kw * dil_w + j * stride_w] += src[start + j]


@njit(cache=True)
def im2col_wide(xp, n0, n1, KH, KW, dil_h, dil_w, H_out, cols):
    """Stride-1 im2col on the wide grid: one contiguous copy per (tap, image).

    Parameters
    ----------
    xp : ndarray, shape (N, C, Hp, Wp)
    n0, n1, KH, KW, dil_h, dil_w, H_out : int
    cols : ndarray, shape (C*KH*KW, >= (n1 - n0)*H_out*Wp)
        Filled in place.

    Notes
    -----
    With ``flat = xp[n, c].ravel()`` and ``start = kh*dil_h*Wp + kw*dil_w``::

        cols[(c*KH + kh)*KW + kw, (n - n0)*H_out*Wp + q] = flat[start + q]

    for ``0 <= q < H_out*Wp``: column ``q = i*Wp + j`` is output position ``(i, j)``,
    and ``j >= W_out`` are the thrown-away columns. The last few of them would read
    past the end of the image and are set to zero instead.
    """
    C, Hp, Wp = xp.shape[1], xp.shape[2], xp.shape[3]
    Pq = H_out * Wp
    for r in range(C * KH * KW):
        c = r // (KH * KW)
        kh = (r // KW) % KH
        kw = r % KW
        start = kh * dil_h * Wp + kw * dil_w
        length = min(Pq, Hp * Wp - start)
        for n in range(n0, n1):
            flat = xp[n, c].reshape(Hp * Wp)
            base = (n - n0) * Pq
            cols[r, base : base + length] = flat[start : start + length]
            cols[r, base + length : base + Pq] = 0


@njit(cache=True)
def col2im_wide(dcols, n0, n1, KH, KW, dil_h, dil_w, H_out, dxp):
    """Stride-1 col2im on the wide grid: one contiguous ``+=`` per (tap, image).

    The inverse of :func:`im2col_wide`. The thrown-away columns carry zero gradient
    (the caller zeroes them in ``dout``), so adding them where they wrap onto the next
    image row changes nothing.

    Parameters
    ----------
    dcols : ndarray, shape (C*KH*KW, >= (n1 - n0)*H_out*Wp)
    n0, n1, KH, KW, dil_h, dil_w, H_out : int
    dxp : ndarray, shape (N, C, Hp, Wp)
        Zero-filled by the caller; accumulated in place.

    Notes
    -----
    ``dxp[n, c].ravel()[start + q] += dcols[(c*KH + kh)*KW + kw, (n - n0)*H_out*Wp + q]``
    with ``start = kh*dil_h*Wp + kw*dil_w``.
    """
    C, Hp, Wp = dxp.shape[1], dxp.shape[2], dxp.shape[3]
    Pq = H_out * Wp
    for nc in range((n1 - n0) * C):
        n = n0 + nc // C
        c = nc % C
        flat = dxp[n, c].reshape(Hp * Wp)
        base = (n - n0) * Pq
        for kh in range(KH):
            for kw in range(KW):
                src = dcols[(c * KH + kh) * KW + kw]
                start = kh * dil_h * Wp + kw * dil_w
                length = min(Pq, Hp * Wp - start)
                for q in range(length):
                    flat[start + q] += src[base + q]


@njit(cache=True)
def mat_to_nchw(mat, b, n0, n1, Wq, out):
    """Reshuffle the product ``(F, n*H_out*Wq)`` into images ``n0..n1-1`` of ``out``.

    Parameters
    ----------
    mat : ndarray, shape (F, >= (n1 - n0)*H_out*Wq)
    b : ndarray, shape (F,)
        Bias (zeros when the layer has none).
    n0, n1 : int
    Wq : int
        Row width of the layout: ``W_out``, or ``Wp`` for wide columns (the columns
        ``j >= W_out`` of each row are skipped).
    out : ndarray, shape (N, F, H_out, W_out)
        Written in place: ``out[n, f, i, j] = mat[f, ((n - n0)*H_out + i)*Wq + j] + b[f]``.
    """
    F, H_out, W_out = out.shape[1], out.shape[2], out.shape[3]
    Pq = H_out * Wq
    for kf in range((n1 - n0) * F):
        k = kf // F
        f = kf % F
        plane = out[n0 + k, f]
        src = mat[f]
        bf = b[f]
        for i in range(H_out):
            row = src[k * Pq + i * Wq : k * Pq + i * Wq + W_out]
            for j in range(W_out):
                plane[i, j] = row[j] + bf


@njit(cache=True)
def nchw_to_mat(dout, n0, n1, Wq, mat):
    """Lay images ``n0..n1-1`` of the upstream gradient out as ``(F, n*H_out*Wq)``,
    the inverse of :func:`mat_to_nchw` (without the bias; thrown-away columns get 0).

    Parameters
    ----------
    dout : ndarray, shape (N, F, H_out, W_out)
    n0, n1, Wq : int
    mat : ndarray, shape (F, >= (n1 - n0)*H_out*Wq)
        Written in place: ``mat[f, ((n - n0)*H_out + i)*Wq + j] = dout[n, f, i, j]``
        for ``j < W_out``, and 0 for ``W_out <= j < Wq``.
    """
    F, H_out, W_out = dout.shape[1], dout.shape[2], dout.shape[3]
    Pq = H_out * Wq
    for kf in range((n1 - n0) * F):
        k = kf // F
        f = kf % F
        for i in range(H_out):
            start = k * Pq + i * Wq
            mat[f, start : start + W_out] = dout[n0 + k, f, i]
            mat[f, start + W_out : start + Wq] = 0
