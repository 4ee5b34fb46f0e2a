"""The model zoo against the lecture tables and the published totals (FACTS.md)."""

from __future__ import annotations

import pytest

from cnnlab import examples
from cnnlab.models import summary, zoo
from cnnlab.params import conv2d_params, dense_params
from cnnlab.shapes import resolve_padding

# VGG16 as tabulated in the CS231n / Hacettepe slides ("not counting biases"): layer,
# [H x W x C], the memory label and the weights written on the slide.
VGG16_TABLE = [
    ("input", (224, 224, 3), "150K", 0),
    ("conv1_1", (224, 224, 64), "3.2M", (3 * 3 * 3) * 64),
    ("conv1_2", (224, 224, 64), "3.2M", (3 * 3 * 64) * 64),
    ("pool1", (112, 112, 64), "800K", 0),
    ("conv2_1", (112, 112, 128), "1.6M", (3 * 3 * 64) * 128),
    ("conv2_2", (112, 112, 128), "1.6M", (3 * 3 * 128) * 128),
    ("pool2", (56, 56, 128), "400K", 0),
    ("conv3_1", (56, 56, 256), "800K", (3 * 3 * 128) * 256),
    ("conv3_2", (56, 56, 256), "800K", (3 * 3 * 256) * 256),
    ("conv3_3", (56, 56, 256), "800K", (3 * 3 * 256) * 256),
    ("pool3", (28, 28, 256), "200K", 0),
    ("conv4_1", (28, 28, 512), "400K", (3 * 3 * 256) * 512),
    ("conv4_2", (28, 28, 512), "400K", (3 * 3 * 512) * 512),
    ("conv4_3", (28, 28, 512), "400K", (3 * 3 * 512) * 512),
    ("pool4", (14, 14, 512), "100K", 0),
    ("conv5_1", (14, 14, 512), "100K", (3 * 3 * 512) * 512),
    ("conv5_2", (14, 14, 512), "100K", (3 * 3 * 512) * 512),
    ("conv5_3", (14, 14, 512), "100K", (3 * 3 * 512) * 512),
    ("pool5", (7, 7, 512), "25K", 0),
    ("fc6", (1, 1, 4096), "4096", 7 * 7 * 512 * 4096),
    ("fc7", (1, 1, 4096), "4096", 4096 * 4096),
    ("fc8", (1, 1, 1000), "1000", 4096 * 1000),
]

# The slide's weights, as printed.
VGG16_SLIDE_WEIGHTS = [
    0, 1_728, 36_864, 0, 73_728, 147_456, 0, 294_912, 589_824, 589_824, 0, 1_179_648,
    2_359_296, 2_359_296, 0, 2_359_296, 2_359_296, 2_359_296, 0, 102_760_448, 16_777_216,
    4_096_000,
]  # fmt: skip


def _label_value(label: str) -> float:
    scale = {"K": 1e3, "M": 1e6}.get(label[-1], 1)
    return float(label.rstrip("KM")) * scale


def _table_rows(s):
    """Rows that the lecture tables list: no ReLU, Dropout or Flatten."""
    return [row for row in s.rows if row.kind not in ("ReLU", "Dropout", "Flatten")]


# --- published totals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "total"),
    [
        ("cs109b_example", examples.CS109B_TOTAL_PARAMS),
        ("lenet5", 61_706),
        ("alexnet", 62_378_344),
        ("alexnet_torchvision", 61_100_840),  # FACTS.md, torchvision
        ("vgg16", 138_357_544),  # FACTS.md, torchvision and Keras
        ("vgg19", 143_667_240),
        ("resnet18", 11_689_512),  # FACTS.md, torchvision
        ("resnet34", 21_797_672),
        ("resnet50", 25_557_032),  # FACTS.md, torchvision
        ("mobilenet_v1", 4_231_976),  # Keras' trainable params
    ],
)
def test_published_totals(name, total):
    s = summary(name)
    assert s.total_params == total
    assert s.trainable_params == total
    assert s.output_shape == ((4,) if name == "cs109b_example" else (10,) if name == "lenet5"
                              else (1000,))  # fmt: skip


@pytest.mark.parametrize(
    ("name", "gmacs"),
    # torchvision's model cards ("GFLOPS", counted as multiply-adds, biases excluded)
    [
        ("alexnet_torchvision", 0.71),
        ("vgg16", 15.47),
        ("vgg19", 19.63),
        ("resnet18", 1.81),
        ("resnet34", 3.66),
        ("resnet50", 4.09),
    ],
)
def test_published_macs(name, gmacs):
    assert round(summary(name).total_macs / 1e9, 2) == gmacs


def test_mobilenet_paper_and_keras_figures():
    s = summary("mobilenet_v1")
    assert round(s.total_macs / 1e6) == 569  # "569 million mult-adds" (table 8)
    assert round(s.total_params / 1e6, 1) == 4.2  # "4.2 million parameters"
    assert s.total_buffers == 21_888  # Keras' "non-trainable params"
    assert s.total_params + s.total_buffers == 4_253_864  # Keras' "Total params"


# --- the lecture tables, row by row -------------------------------------------------------------


def test_vgg16_table_every_row():
    s = summary("vgg16")
    rows = _table_rows(s)
    assert [row.name for row in rows] == [name for name, _, _, _ in VGG16_TABLE]
    for row, (name, (h, w, c), label, weights), printed in zip(
        rows, VGG16_TABLE, VGG16_SLIDE_WEIGHTS, strict=True
    ):
        expected_shape = (c,) if (h, w) == (1, 1) else (c, h, w)
        assert row.output_shape == expected_shape, name
        assert row.activations == h * w * c, name  # "memory: 224*224*64"
        assert abs(row.activations - _label_value(label)) / row.activations < 0.05, name
        assert row.weights == weights == printed, name  # "params: (3*3*3)*64 = 1,728"
        assert row.params == weights + (c if weights else 0), name  # + biases


def test_vgg16_memory_total_and_the_slides_slip():
    s = summary("vgg16")
    table_memory = sum(h * w * c for _, (h, w, c), _, _ in VGG16_TABLE)
    assert s.total_activations == table_memory == examples.VGG16_ACTIVATIONS == 15_237_608
    assert s.activation_bytes == 60_950_432
    assert round(s.activation_bytes / 2**20, 1) == 58.1  # MiB
    assert "58.13 MiB" in s.to_text()
    # "TOTAL memory: 24M * 4 bytes ~= 93MB / image" does not follow from the rows.
    assert examples.VGG16_SLIDE_MEMORY_CLAIM_BYTES / s.activation_bytes > 1.5
    assert sum(weights for _, _, _, weights in VGG16_TABLE) == 138_344_128  # "138M"


def test_alexnet_lecture_rows():
    s = summary("alexnet")
    expected = {
        "input": (3, 227, 227),
        "conv1": (96, 55, 55),
        "pool1": (96, 27, 27),
        "norm1": (96, 27, 27),
        "conv2": (256, 27, 27),
        "pool2": (256, 13, 13),
        "norm2": (256, 13, 13),
        "conv3": (384, 13, 13),
        "conv4": (384, 13, 13),
        "conv5": (256, 13, 13),
        "pool3": (256, 6, 6),
        "fc6": (4096,),
        "fc7": (4096,),
        "fc8": (1000,),
    }
    assert {row.name: row.output_shape for row in _table_rows(s)} == expected
    assert s.row("conv1").output_shape[1] == examples.ALEXNET_CONV1_OUTPUT
    assert s.row("pool1").output_shape[1] == examples.ALEXNET_POOL1_OUTPUT
    assert s.row("conv1").weights == examples.ALEXNET_CONV1_WEIGHTS == 34_848
    assert s.row("conv1").params == 34_944
    assert s.row("pool1").params == 0  # "Parameters: 0!"
    assert s.row("norm1").params == 0


def test_zfnet_sizes_follow_the_paper():
    s = summary("zfnet")
    sizes = {row.name: row.output_shape for row in _table_rows(s) if len(row.output_shape) == 3}
    assert [shape[1] for shape in sizes.values()] == [224, 110, 55, 55, 26, 13, 13, 13, 13, 13, 6]
    assert [s.row(f"conv{i}").output_shape[0] for i in range(1, 6)] == [96, 256, 512, 1024, 512]
    convs = (
        conv2d_params(3, 96, 7)
        + conv2d_params(96, 256, 5)
        + conv2d_params(256, 512, 3)
        + conv2d_params(512, 1024, 3)
        + conv2d_params(1024, 512, 3)
    )
    fcs = dense_params(6 * 6 * 512, 4096) + dense_params(4096, 4096) + dense_params(4096, 1000)
    assert s.total_params == convs + fcs == 107_627_624


def test_lenet5_rows():
    s = summary("lenet5")
    shapes = [row.output_shape for row in _table_rows(s) if row.kind != "Tanh"]
    assert shapes == [(1, 32, 32), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5),
                      (120, 1, 1), (84,), (10,)]  # fmt: skip
    assert [row.params for row in s.rows if row.params] == [156, 2_416, 48_120, 10_164, 850]


def test_zoo_listing():
    assert zoo.names() == [
        "cs109b_example",
        "lenet5",
        "alexnet",
        "alexnet_torchvision",
        "zfnet",
        "vgg16",
        "vgg19",
        "resnet18",
        "resnet34",
        "resnet50",
        "mobilenet_v1",
    ]
    entry = zoo.describe("VGG-16")
    assert entry.name == "vgg16"
    assert "Simonyan" in entry.reference
    assert zoo.get("vgg16") is not zoo.get("vgg16")


@pytest.mark.torch
@pytest.mark.parametrize("name", ["cs109b_example", "lenet5", "alexnet", "vgg16", "zfnet"])
def test_plain_networks_match_pytorch(name):
    """Build each plain (block-free) network in PyTorch from its spec and compare."""
    torch = pytest.importorskip("torch")
    from cnnlab.models import spec

    nn = torch.nn
    model = zoo.get(name)
    shape = model.input_shape
    meta = {"device": "meta"}  # shapes without allocating or computing anything
    x = torch.zeros(1, *shape, **meta)
    rows = {row.name: row for row in summary(model).rows}
    for layer_name, layer in model.named_layers()[1:]:
        channels = x.shape[1]
        if isinstance(layer, spec.Conv2d):
            (top, bottom), (left, right) = resolve_padding(
                tuple(x.shape[2:]), layer.kernel, layer.stride, layer.padding, layer.dilation
            )
            x = nn.functional.pad(x, (left, right, top, bottom))
            module = nn.Conv2d(channels, layer.out_channels, layer.kernel, layer.stride,
                               0, layer.dilation, layer.groups, layer.bias, **meta)  # fmt: skip
        elif isinstance(layer, spec.AvgPool2d):
            module = nn.AvgPool2d(layer.kernel, layer.stride, layer.padding, layer.ceil_mode)
        elif isinstance(layer, spec.MaxPool2d):
            module = nn.MaxPool2d(layer.kernel, layer.stride, layer.padding,
                                  ceil_mode=layer.ceil_mode)  # fmt: skip
        elif isinstance(layer, spec.Dense):
            module = nn.Linear(x.shape[1], layer.out_features, layer.bias, **meta)
        elif isinstance(layer, spec.Flatten):
            module = nn.Flatten()
        elif isinstance(layer, spec.LocalResponseNorm):
            module = nn.LocalResponseNorm(layer.size)
        else:
            module = nn.Identity()  # ReLU, Tanh, Dropout: shape and parameters unchanged
        with torch.no_grad():
            x = module(x)
        assert tuple(x.shape[1:]) == rows[layer_name].output_shape, layer_name
        assert sum(p.numel() for p in module.parameters()) == rows[layer_name].params
