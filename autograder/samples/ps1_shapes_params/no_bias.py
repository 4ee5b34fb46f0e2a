"""Leaves the biases out of conv and dense parameter counts."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps1_shapes_params",
    answer__conv_params='''
def conv_params(c_in, c_out, k):
    """Parameters of a k x k convolution from c_in to c_out channels, biases included."""
    return c_out * k * k * c_in
''',
    answer__dense_params='''
def dense_params(n_in, n_out):
    """Parameters of a dense layer from n_in to n_out units, biases included."""
    return n_in * n_out
''',
)
