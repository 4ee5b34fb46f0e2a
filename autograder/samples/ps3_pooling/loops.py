"""avg_pool2d_backward never returns (only its question loses points)."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps3_pooling",
    answer__avg_backward='''
def avg_pool2d_backward(dout, cache):
    """Average pooling backward: dout (N, C, H_out, W_out) -> dx (N, C, H, W)."""
    while True:
        pass
''',
)
