"""same_padding never returns (only it loses points; ans_same is computed inline)."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps1_shapes_params",
    answer__same_padding='''
def same_padding(n, k, s):
    """'same' padding (before, after) along one axis: TensorFlow's rule."""
    while True:
        pass
''',
    answer__same="""
n, k, s = VARIANT["n_same"], VARIANT["k_same"], VARIANT["s_same"]
out = -(-n // s)
total = max((out - 1) * s + k - n, 0)
ans_same = (out, total // 2, total - total // 2)
""",
)
