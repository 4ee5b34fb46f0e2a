"""separable_params raises NameError (math is never imported); so does the cell using it."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps1_shapes_params",
    answer__separable_params='''
def separable_params(c_in, c_out, k):
    """Parameters of a depthwise k x k plus pointwise 1 x 1 convolution, biases included."""
    return math.prod((k, k, c_in)) + c_in + c_in * c_out + c_out
''',
)
