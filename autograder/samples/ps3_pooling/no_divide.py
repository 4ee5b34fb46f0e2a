"""Average-pool backward forgets to divide the gradient by kernel**2."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps3_pooling",
    answer__avg_backward='''
def avg_pool2d_backward(dout, cache):
    """Average pooling backward: dout (N, C, H_out, W_out) -> dx (N, C, H, W)."""
    x, kernel, stride, padding = cache
    N, C, H, W = x.shape
    dxp = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    H_out, W_out = dout.shape[2:]
    for i in range(H_out):
        for j in range(W_out):
            share = dout[:, :, i, j][:, :, None, None]
            dxp[:, :, i * stride : i * stride + kernel, j * stride : j * stride + kernel] += share
    return dxp[:, :, padding : padding + H, padding : padding + W]
''',
)
