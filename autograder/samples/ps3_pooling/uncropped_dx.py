"""Max-pool backward returns the padded dx."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps3_pooling",
    answer__max_backward='''
def max_pool2d_backward(dout, cache):
    """Max pooling backward: dout (N, C, H_out, W_out) -> dx (N, C, H, W)."""
    x, kernel, stride, padding = cache
    N, C, H, W = x.shape
    pads = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    xp = np.pad(x, pads, constant_values=-np.inf)
    dxp = np.zeros_like(xp)
    H_out, W_out = dout.shape[2:]
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = i * stride, j * stride
                    window = xp[n, c, top : top + kernel, left : left + kernel]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dxp[n, c, top + a, left + b] += dout[n, c, i, j]
    return dxp
''',
)
