"""Every answer right: full marks."""

from autograder.samples import _common as common

ANSWERS = common.solutions("ps1_shapes_params")
