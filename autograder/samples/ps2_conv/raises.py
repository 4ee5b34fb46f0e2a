"""conv2d_backward unpacks the cache wrongly and raises ValueError."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps2_conv",
    answer__conv_backward='''
def conv2d_backward(dout, cache):
    """Convolution backward: dout (N, F, H_out, W_out) -> (dx, dw, db)."""
    x, w, stride, padding = cache
    H, W = x.shape[2:]
    KH, KW = w.shape[2:]
    H_out, W_out = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(H_out):
        for j in range(W_out):
            rows = slice(i * stride, i * stride + KH)
            cols = slice(j * stride, j * stride + KW)
            dw += np.tensordot(dout[:, :, i, j], xp[:, :, rows, cols], axes=([0], [0]))
            dxp[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
    db = dout.sum(axis=(0, 2, 3))
    return dxp[:, :, padding : padding + H, padding : padding + W], dw, db
''',
)
