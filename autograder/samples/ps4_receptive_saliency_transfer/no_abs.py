"""Saliency without the absolute value."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps4_receptive_saliency_transfer",
    answer__saliency='''
def saliency_map(params, x, target):
    """|d score[target] / d x|, max over channels: (N, C, H, W) -> (N, H, W)."""
    scores, cache = tiny_cnn_forward(params, x)
    dscores = np.zeros_like(scores)
    dscores[np.arange(len(x)), target] = 1.0
    dx, _ = tiny_cnn_backward(dscores, cache)
    return dx.max(axis=1)
''',
)
