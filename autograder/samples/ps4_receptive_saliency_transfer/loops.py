"""input_region never returns (only its question loses points)."""

from autograder.samples import _common as common

ANSWERS = common.with_changes(
    "ps4_receptive_saliency_transfer",
    answer__input_region='''
def input_region(layers, i):
    """Input pixels [start, stop) seen by unit i of the last layer (may reach into padding)."""
    while True:
        pass
''',
)
