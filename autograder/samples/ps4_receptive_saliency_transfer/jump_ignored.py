"""Widens the receptive field by d*(k - 1) without the jump."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps4_receptive_saliency_transfer",
    answer__receptive_field='''
def receptive_field(layers):
    """(receptive field, jump) of a stack of (kernel, stride, padding, dilation) layers."""
    r, j = 1, 1
    for k, s, _, d in layers:
        r += d * (k - 1)
        j *= s
    return r, j
''',
)
