"""The worked examples of the lecture notes, as data.

Each constant is a number or array that a slide works out by hand; tests, notebooks and
assignments import them from here so that the course quotes one source.

Max-pool backward walk-through (CS109B lecture 11, 3x3 window, stride 1)
-------------------------------------------------------------------------
The slides lost their layout in text extraction; the example is rebuilt from the 5x5
input. Forward, each 3x3 window keeps its largest value::

    MAXPOOL_INPUT          MAXPOOL_OUTPUT
    2 4 8 3 6              9 8 8
    9 3 4 2 5              9 6 6
    5 4 6 3 1              7 7 7
    2 3 1 3 4
    2 7 4 5 7

Backward, each upstream gradient ``MAXPOOL_DOUT[i, j]`` is routed to the position of
its window's maximum, and gradients *add up* where windows overlap: the 8 in the top
row wins two windows and collects ``3 + 1 = 4`` (the slides' "+1", "+3", "+4").

Examples
--------
>>> from cnnlab.examples import MAXPOOL_DX
>>> int(MAXPOOL_DX.sum())
21
"""

from __future__ import annotations

import numpy as np

# --- CS109B lecture 11: max pooling 3x3, stride 1, on a 5x5 activation map ----------
MAXPOOL_KERNEL = 3
MAXPOOL_STRIDE = 1
MAXPOOL_INPUT = np.array(
    [
        [2, 4, 8, 3, 6],
        [9, 3, 4, 2, 5],
        [5, 4, 6, 3, 1],
        [2, 3, 1, 3, 4],
        [2, 7, 4, 5, 7],
    ],
    dtype=np.float64,
)
MAXPOOL_OUTPUT = np.array([[9, 8, 8], [9, 6, 6], [7, 7, 7]], dtype=np.float64)
# Upstream gradients, one per output unit (the large numbers on the backward slides).
MAXPOOL_DOUT = np.array([[1, 3, 1], [1, 4, 2], [6, 2, 1]], dtype=np.float64)
# Where they land: the 9 collects 1 + 1, the top 8 collects 3 + 1, the 6 collects 4 + 2,
# the left 7 collects 6 + 2 and the right 7 collects 1.
MAXPOOL_DX = np.array(
    [
        [0, 0, 4, 0, 0],
        [2, 0, 0, 0, 0],
        [0, 0, 6, 0, 0],
        [0, 0, 0, 0, 0],
        [0, 8, 0, 0, 1],
    ],
    dtype=np.float64,
)

# --- Parameter counts worked on the slides -----------------------------------------
#: CS109B: one 3x3 filter on an RGB 32x32 input, 'same' padding: 1*(3*3*3) + 1.
ONE_FILTER_PARAMS = 28
#: CS109B: 16 filters of 3x3 on an RGB image: 16*3*3*3 + 16.
SIXTEEN_FILTERS_PARAMS = 448
#: CS109B example network, conv1: 8 filters 3x3 on 3 channels.
CS109B_CONV1_PARAMS = 224
#: CS109B example network, conv2: 16 filters 5x5 on 8 channels, stride 2, 'same'.
CS109B_CONV2_PARAMS = 3216
#: CS109B example network, the dense part: (16*16*16)*512 + 512 + 512*4 + 4.
CS109B_DENSE_PARAMS = 2_099_716
#: CS109B example network, all four layers: 224 + 3216 + 2,099,716.
CS109B_TOTAL_PARAMS = 2_103_156
#: CS231n: 10 filters of 5x5x3 (with biases): 10 * (5*5*3 + 1).
CS231N_TEN_FILTERS_PARAMS = 760
#: EECS 442: fully connected 2 -> 4 -> 1 network (weights 2*4 + 4*1 = 12, biases 5).
EECS442_TWO_LAYER_PARAMS = 17
#: EECS 442: fully connected 2 -> 4 -> 4 -> 3 network (weights 8 + 16 + 12 = 36, biases 11).
EECS442_THREE_LAYER_PARAMS = 47

# --- Output sizes worked on the slides ---------------------------------------------
#: CS231n / EECS 442: 32x32 input, 5x5 filter, stride 1, no padding.
CS231N_32_K5_OUTPUT = 28
#: CS231n: 7x7 input, 3x3 filter: stride 1 gives 5, stride 2 gives 3, stride 3 doesn't fit.
CS231N_7_K3_S1_OUTPUT = 5
CS231N_7_K3_S2_OUTPUT = 3
#: AlexNet conv1: (227 - 11)/4 + 1 = 55; pool1: (55 - 3)/2 + 1 = 27.
ALEXNET_CONV1_OUTPUT = 55
ALEXNET_POOL1_OUTPUT = 27
#: AlexNet conv1 weights without biases: (11*11*3)*96 = 34,848 ("35K" on the slide).
ALEXNET_CONV1_WEIGHTS = 34_848

# --- VGG16 memory (Hacettepe lecture 14 / CS231n table) -----------------------------
#: The table's per-layer rows (input included) add up to 15,237,608 values per image.
VGG16_ACTIVATIONS = 15_237_608
#: The slide's own total, "24M * 4 bytes ~= 93MB", does not match its rows.
VGG16_SLIDE_MEMORY_CLAIM_BYTES = 24_000_000 * 4

# --- MobileNet (CS109B lecture 11): 5x5 conv, 3 -> 256 channels, 12x12 -> 8x8 -------
#: Standard convolution MACs as written on the slide: (5*5)*3*256*(12*12).
MOBILENET_SLIDE_STANDARD_MACS = 5 * 5 * 3 * 256 * 12 * 12
#: Depthwise-separable MACs as written on the slide: (5*5)*3*(12*12) + 3*256*(8*8).
MOBILENET_SLIDE_SEPARABLE_MACS = 5 * 5 * 3 * 12 * 12 + 3 * 256 * 8 * 8
#: Standard convolution parameters: (5*5*3)*256 + 256.
MOBILENET_STANDARD_PARAMS = 5 * 5 * 3 * 256 + 256
#: Depthwise-separable parameters: (5*5*3 + 3) + (1*1*3*256 + 256).
MOBILENET_SEPARABLE_PARAMS = (5 * 5 * 3 + 3) + (1 * 1 * 3 * 256 + 256)
#: The slide mixes output grids: a valid 5x5 conv turns 12x12 into 8x8, so every
#: output position count is 8*8. Correct figures for the same layer:
MOBILENET_STANDARD_MACS = 5 * 5 * 3 * 256 * 8 * 8  # 1,228,800
MOBILENET_SEPARABLE_MACS = 5 * 5 * 3 * 8 * 8 + 3 * 256 * 8 * 8  # 4,800 + 49,152 = 53,952
