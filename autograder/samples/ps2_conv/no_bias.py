"""Forgets to add the bias in the forward pass."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps2_conv",
    answer__conv_forward='''
def conv2d_forward(x, w, b, stride=1, padding=0):
    """Convolution forward: x (N, C, H, W), w (F, C, KH, KW), b (F,) -> (out, cache)."""
    N, _, H, W = x.shape
    F, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    H_out = (H + 2 * padding - KH) // stride + 1
    W_out = (W + 2 * padding - KW) // stride + 1
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = xp[:, :, i * stride : i * stride + KH, j * stride : j * stride + KW]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    cache = (x, w, b, stride, padding)
    return out, cache
''',
)
