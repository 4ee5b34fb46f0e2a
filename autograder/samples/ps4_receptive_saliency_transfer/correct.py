"""Every answer right: full marks."""

from autograder.samples import _common as common

ANSWERS = common.solutions("ps4_receptive_saliency_transfer")
