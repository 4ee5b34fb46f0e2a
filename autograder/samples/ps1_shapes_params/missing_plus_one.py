"""Forgets the +1 of the output-size formula (and uses that function everywhere)."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps1_shapes_params",
    answer__output_size='''
def output_size(n, k, s=1, p=0, d=1):
    """Output size along one axis: input n, kernel k, stride s, padding p per side, dilation d."""
    return (n + 2 * p - d * (k - 1) - 1) // s
''',
)
