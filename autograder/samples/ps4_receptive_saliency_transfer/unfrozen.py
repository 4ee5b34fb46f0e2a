"""Fine-tunes with a new head but forgets to freeze the convolution."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps4_receptive_saliency_transfer",
    answer__fine_tune='''
def fine_tune(params, x, y, seed):
    """Freeze the convolution, train a new head on (x, y); return the new parameters."""
    n_classes = int(np.max(y)) + 1
    params = new_head(params, n_classes, seed)
    return train(params, x, y, lr=0.1, epochs=50, batch_size=8, seed=seed)
''',
)
