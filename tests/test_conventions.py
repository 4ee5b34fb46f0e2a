"""docs/conventions.md's table of summary tools, kept true by the tools themselves.

For every tool the table lists what the tool adds to cnnlab's per-layer MACs. Here each
row is written once more as a function of cnnlab's summary rows, a PyTorch copy of a
cnnlab network is measured with the tool, and the tool's total must equal cnnlab's
MACs plus those extras exactly. A tool that is not installed skips with the reason
(torchinfo and fvcore come with the test extra; they need PyTorch, which the Makefile
installs from a local CPU wheel when it can).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from cnnlab.models import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dense,
    DepthwiseConv2d,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    Input,
    LocalResponseNorm,
    MaxPool2d,
    ReLU,
    Sequential,
    spec,
    summary,
    zoo,
)
from cnnlab.models.summarize import LayerRow
from cnnlab.shapes import resolve_padding

DOC = Path(__file__).resolve().parents[1] / "docs" / "conventions.md"


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def _bias_extras(rows: list[LayerRow]) -> int:
    """A convolution's bias added at every output position; a dense layer's biases."""
    extra = 0
    for row in rows:
        if row.kind == "Conv2d":
            extra += row.biases * _numel(row.output_shape[1:])
        elif row.kind == "Dense":
            extra += row.biases
    return extra


def _torchinfo_extras(rows: list[LayerRow]) -> int:
    batchnorm = sum(2 * row.output_shape[0] for row in rows if row.kind == "BatchNorm2d")
    return _bias_extras(rows) + batchnorm


def _fvcore_extras(rows: list[LayerRow]) -> int:
    extra = 0
    for previous, row in itertools.pairwise(rows):
        if row.kind == "BatchNorm2d":
            extra += 2 * _numel(row.output_shape)
        elif row.kind == "GlobalAvgPool2d":
            extra += _numel(previous.output_shape)
    return extra


#: tool -> (the row of the docs' table, what the tool adds to cnnlab's MACs)
TABLE: dict[str, tuple[str, Callable[[list[LayerRow]], int]]] = {
    "torchinfo": (
        "| torchinfo 1.8 | conv bias x H_out x W_out, dense biases, 2C per BatchNorm |",
        _torchinfo_extras,
    ),
    "fvcore": (
        "| fvcore 0.1.5 | 2 x numel per BatchNorm (eval mode), input numel per adaptive "
        "average pool |",
        _fvcore_extras,
    ),
}


def _networks() -> list[Sequential]:
    small = Sequential(
        Input(3, 32, 32),
        Conv2d(16, 3, padding=1),
        BatchNorm2d(),
        ReLU(),
        MaxPool2d(2),
        Conv2d(32, 3, stride=2, padding="same", bias=False),
        BatchNorm2d(),
        ReLU(),
        GlobalAvgPool2d(),
        Dense(10),
        name="conv_bn_gap",
    )
    # Odd, non-square input; 'same' at stride 2; padded, rounded-up average and max
    # pools; a dilated convolution without bias; depthwise and pointwise convolutions.
    odd = Sequential(
        Input(3, 37, 29),
        Conv2d(8, 3, stride=2, padding="same"),
        BatchNorm2d(),
        ReLU(),
        AvgPool2d(3, 2, padding=1, ceil_mode=True),
        DepthwiseConv2d(3, padding=1, depth_multiplier=2, bias=False),
        BatchNorm2d(),
        Conv2d(16, 1),
        LocalResponseNorm(),
        Conv2d(16, 3, dilation=2, padding=2, bias=False),
        MaxPool2d(3, 2, ceil_mode=True),
        GlobalAvgPool2d(),
        Dropout(),
        Dense(7),
        name="odd_depthwise_ceil",
    )
    # Almost every MAC and every bias in dense layers.
    dense = Sequential(Input(1, 28, 28), Flatten(), Dense(512), ReLU(), Dense(512),
                       Dropout(), Dense(10), name="dense_heavy")
    return [small, odd, dense, zoo.get("cs109b_example"), zoo.get("lenet5")]


def _torch_copy(model: Sequential):
    """The same network in PyTorch, layer by layer ('same' padding made explicit)."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    nn = torch.nn
    modules = []
    x = torch.zeros(1, *model.input_shape)
    for _name, layer in model.named_layers()[1:]:
        channels = x.shape[1]
        if isinstance(layer, (spec.Conv2d, spec.DepthwiseConv2d)):
            if isinstance(layer, spec.DepthwiseConv2d):
                filters, groups = channels * layer.depth_multiplier, channels
            else:
                filters, groups = layer.out_channels, layer.groups
            (top, bottom), (left, right) = resolve_padding(
                tuple(x.shape[2:]), layer.kernel, layer.stride, layer.padding, layer.dilation
            )
            if top == bottom and left == right:
                module = nn.Conv2d(channels, filters, layer.kernel, layer.stride,
                                   (top, left), layer.dilation, groups, layer.bias)
            else:
                module = nn.Sequential(
                    nn.ZeroPad2d((left, right, top, bottom)),
                    nn.Conv2d(channels, filters, layer.kernel, layer.stride, 0,
                              layer.dilation, groups, layer.bias),
                )
        elif isinstance(layer, spec.BatchNorm2d):
            module = nn.BatchNorm2d(channels)
        elif isinstance(layer, spec.AvgPool2d):  # before MaxPool2d: it is a subclass
            module = nn.AvgPool2d(layer.kernel, layer.stride, layer.padding, layer.ceil_mode)
        elif isinstance(layer, spec.MaxPool2d):
            module = nn.MaxPool2d(layer.kernel, layer.stride, layer.padding,
                                  ceil_mode=layer.ceil_mode)
        elif isinstance(layer, spec.LocalResponseNorm):
            module = nn.LocalResponseNorm(layer.size)
        elif isinstance(layer, spec.Dropout):
            module = nn.Dropout(layer.p)
        elif isinstance(layer, spec.GlobalAvgPool2d):
            module = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        elif isinstance(layer, spec.Dense):
            module = nn.Linear(x.shape[1], layer.out_features, layer.bias)
        elif isinstance(layer, spec.Flatten):
            module = nn.Flatten()
        elif isinstance(layer, spec.Tanh):
            module = nn.Tanh()
        elif isinstance(layer, spec.ReLU):
            module = nn.ReLU(inplace=True)
        else:
            raise AssertionError(f"no PyTorch copy for {layer.kind}")
        with torch.no_grad():
            x = module(x)
        modules.append(module)
    return nn.Sequential(*modules).eval(), torch.zeros(1, *model.input_shape)


def _measure(tool: str, network, x) -> int:
    if tool == "torchinfo":
        torchinfo = pytest.importorskip("torchinfo", reason="torchinfo is not installed")
        return int(torchinfo.summary(network, input_data=x, verbose=0).total_mult_adds)
    fvcore_nn = pytest.importorskip("fvcore.nn", reason="fvcore is not installed")
    logging.getLogger("fvcore").setLevel(logging.ERROR)  # "unsupported operator relu"
    analysis = fvcore_nn.FlopCountAnalysis(network, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return int(analysis.total())


def test_the_docs_table_lists_each_measured_convention():
    text = DOC.read_text(encoding="utf-8")
    for row, _ in TABLE.values():
        assert row in text, f"docs/conventions.md lost its row: {row}"


@pytest.mark.parametrize("tool", sorted(TABLE))
@pytest.mark.parametrize("model", _networks(), ids=lambda m: m.name)
def test_tool_total_is_cnnlab_macs_plus_the_stated_extras(tool, model):
    network, x = _torch_copy(model)
    rows = list(summary(model).rows)
    assert sum(p.numel() for p in network.parameters()) == summary(model).total_params
    with pytest.importorskip("torch").no_grad():
        assert tuple(network(x).shape[1:]) == rows[-1].output_shape
    expected = summary(model).total_macs + TABLE[tool][1](rows)
    assert _measure(tool, network, x) == expected


def test_lenet5_counts_its_tanh_outputs():
    lenet = summary("lenet5")
    tanh = [row for row in lenet.rows if row.kind == "Tanh"]
    assert [row.activations for row in tanh] == [4_704, 1_600, 120, 84]
    assert lenet.total_activations == 9_118 + 6_508 == 15_626


def test_tanh_stores_its_output_and_relu_can_work_in_place():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    x = torch.randn(4)
    assert torch.nn.Tanh()(x).data_ptr() != x.data_ptr()
    assert torch.nn.ReLU(inplace=True)(x).data_ptr() == x.data_ptr()
    assert "inplace" not in torch.nn.Tanh.__init__.__code__.co_varnames
