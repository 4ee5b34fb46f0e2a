"""saliency_map builds dscores with the wrong shape; the backward pass raises."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps4_receptive_saliency_transfer",
    answer__saliency='''
def saliency_map(params, x, target):
    """|d score[target] / d x|, max over channels: (N, C, H, W) -> (N, H, W)."""
    scores, cache = tiny_cnn_forward(params, x)
    dscores = np.zeros(scores.shape[1])
    dscores[target] = 1.0
    dx, _ = tiny_cnn_backward(dscores, cache)
    return np.abs(dx).max(axis=1)
''',
)
