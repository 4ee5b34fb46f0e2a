"""conv2d_backward never returns (only its question loses points)."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps2_conv",
    answer__conv_backward='''
def conv2d_backward(dout, cache):
    """Convolution backward: dout (N, F, H_out, W_out) -> (dx, dw, db)."""
    while True:
        pass
''',
)
