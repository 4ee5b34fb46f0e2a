"""A plain NumPy im2col convolution, the comparison point between the naive loops and
cnnlab's Numba path (CS231n's ``conv_forward_im2col`` without the Cython).

Forward: ``sliding_window_view`` + one copy builds the whole batch's columns, then one
``@``. Backward: two ``@`` and a col2im made of ``KH*KW`` strided slice additions.
Stride and padding only (no dilation or groups): enough for the benchmark shapes.
"""

from __future__ import annotations

import numpy as np


def conv_forward(x, w, b, stride, padding):
    N, C = x.shape[:2]
    F, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (N, C, H_out, W_out, KH, KW)
    H_out, W_out = windows.shape[2:4]
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * KH * KW, N * H_out * W_out)
    out = w.reshape(F, -1) @ cols + b[:, None]
    out = out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), (xp.shape, w, cols, stride, padding)


def conv_backward(dout, cache):
    xp_shape, w, cols, stride, padding = cache
    N, C, Hp, Wp = xp_shape
    F, _, KH, KW = w.shape
    H_out, W_out = dout.shape[2:]
    db = dout.sum(axis=(0, 2, 3))
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    dw = (dout_mat @ cols.T).reshape(w.shape)
    dcols = (w.reshape(F, -1).T @ dout_mat).reshape(C, KH, KW, N, H_out, W_out)
    dxp = np.zeros(xp_shape, dtype=dout.dtype)
    for kh in range(KH):
        for kw in range(KW):
            rows = slice(kh, kh + stride * (H_out - 1) + 1, stride)
            columns = slice(kw, kw + stride * (W_out - 1) + 1, stride)
            dxp[:, :, rows, columns] += dcols[:, kh, kw].transpose(1, 0, 2, 3)
    dx = dxp[:, :, padding : Hp - padding, padding : Wp - padding]
    return np.ascontiguousarray(dx), dw, db
