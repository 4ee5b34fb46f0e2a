"""Convolution as one large matrix product: im2col, col2im and two reshuffles.

A convolution of ``x`` (N, C, H, W) with ``w`` (F, C, KH, KW) is a matrix product once
every receptive field is unrolled into a column ("im2col", the slide that turns a
conv layer into a fully connected one applied at every position)::

    cols   (C*KH*KW, N*H_out*W_out)   one column per output position of every image
    w_mat  (F, C*KH*KW)               one row per filter: w.reshape(F, -1)
    out    = w_mat @ cols             (F, N*H_out*W_out), reshuffled to NCHW

and the backward pass is two more products and the inverse unrolling::

    dw_mat = dout_mat @ cols.T        (F, C*KH*KW)
    dcols  = w_mat.T @ dout_mat       (C*KH*KW, N*H_out*W_out)
    dx     = col2im(dcols)            overlapping fields ADD their gradients

Row ``r = (c*KH + kh)*KW + kw`` of ``cols`` holds input channel ``c`` seen through
kernel tap ``(kh, kw)``, so the rows of one group of channels are contiguous and a
grouped convolution is one product per group. The matrix products themselves are
NumPy's ``@`` (BLAS); these kernels only move numbers around.

All kernels take an already padded input: padding is the public wrapper's job.
"""

from __future__ import annotations

from numba import njit, prange


@njit(cache=True, parallel=True)
def im2col(xp, KH, KW, stride_h, stride_w, dil_h, dil_w, H_out, W_out, cols):
    """Unroll every receptive field of a padded batch into a column of ``cols``.

    Parameters
    ----------
    xp : ndarray, shape (N, C, Hp, Wp)
        Padded input, C-contiguous.
    KH, KW, stride_h, stride_w, dil_h, dil_w, H_out, W_out : int
        Kernel size, stride and dilation per axis, and the output size.
    cols : ndarray, shape (C*KH*KW, N*H_out*W_out)
        Filled in place.

    Notes
    -----
    ``cols[(c*KH + kh)*KW + kw, (n*H_out + i)*W_out + j] =
    xp[n, c, i*stride_h + kh*dil_h, j*stride_w + kw*dil_w]``.
    Parallel over rows: each iteration writes its own row.
    """
    N, C = xp.shape[0], xp.shape[1]
    P = H_out * W_out
    for r in prange(C * KH * KW):
        c = r // (KH * KW)
        kh = (r // KW) % KH
        kw = r % KW
        for n in range(N):
            for i in range(H_out):
                row = i * stride_h + kh * dil_h
                base = n * P + i * W_out
                col0 = kw * dil_w
                for j in range(W_out):
                    cols[r, base + j] = xp[n, c, row, col0 + j * stride_w]


@njit(cache=True, parallel=True)
def col2im(dcols, KH, KW, stride_h, stride_w, dil_h, dil_w, H_out, W_out, dxp):
    """Fold columns back onto a padded batch, adding where receptive fields overlap.

    The inverse bookkeeping of :func:`im2col`: each entry of ``dcols`` is added
    (``+=``) to the input pixel it was copied from. A pixel seen by several output
    positions (overlapping windows) collects the sum of their gradients.

    Parameters
    ----------
    dcols : ndarray, shape (C*KH*KW, N*H_out*W_out)
    KH, KW, stride_h, stride_w, dil_h, dil_w, H_out, W_out : int
    dxp : ndarray, shape (N, C, Hp, Wp)
        Zero-filled by the caller; accumulated in place.

    Notes
    -----
    ``dxp[n, c, i*stride_h + kh*dil_h, j*stride_w + kw*dil_w] +=
    dcols[(c*KH + kh)*KW + kw, (n*H_out + i)*W_out + j]``.
    Parallel over the (n, c) planes: each iteration adds only into its own plane.
    """
    N, C = dxp.shape[0], dxp.shape[1]
    P = H_out * W_out
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                col0 = kw * dil_w
                for i in range(H_out):
                    row = i * stride_h + kh * dil_h
                    base = n * P + i * W_out
                    for j in range(W_out):
                        dxp[n, c, row, col0 + j * stride_w] += dcols[r, base + j]


@njit(cache=True, parallel=True)
def mat_to_nchw(mat, b, out):
    """Reshuffle the product ``(F, N*H_out*W_out)`` to NCHW and add the bias.

    Parameters
    ----------
    mat : ndarray, shape (F, N*H_out*W_out)
    b : ndarray, shape (F,)
        Bias (zeros when the layer has none).
    out : ndarray, shape (N, F, H_out, W_out)
        Written in place: ``out[n, f, i, j] = mat[f, (n*H_out + i)*W_out + j] + b[f]``.

    Notes
    -----
    Parallel over images: each iteration writes its own image.
    """
    N, F = out.shape[0], out.shape[1]
    P = out.shape[2] * out.shape[3]
    flat = out.reshape(N, F, P)
    for n in prange(N):
        for f in range(F):
            bf = b[f]
            for p in range(P):
                flat[n, f, p] = mat[f, n * P + p] + bf


@njit(cache=True, parallel=True)
def nchw_to_mat(dout, mat):
    """Lay the upstream gradient out as ``(F, N*H_out*W_out)``, the inverse of
    :func:`mat_to_nchw` (without the bias).

    Parameters
    ----------
    dout : ndarray, shape (N, F, H_out, W_out)
    mat : ndarray, shape (F, N*H_out*W_out)
        Written in place: ``mat[f, (n*H_out + i)*W_out + j] = dout[n, f, i, j]``.

    Notes
    -----
    Parallel over filters: each iteration writes its own row.
    """
    N, F = dout.shape[0], dout.shape[1]
    P = dout.shape[2] * dout.shape[3]
    flat = dout.reshape(N, F, P)
    for f in prange(F):
        for n in range(N):
            for p in range(P):
                mat[f, n * P + p] = flat[n, f, p]
