"""Tests of cnnlab.net: layer objects, Sequential, save/load and the shipped models."""

from __future__ import annotations

import importlib.resources
import io

import numpy as np
import pytest

from cnnlab.gradcheck import numerical_gradient, rel_error
from cnnlab.layers import softmax_cross_entropy
from cnnlab.net import (
    PRETRAINED,
    AvgPool2d,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2d,
    ReLU,
    Sequential,
    build,
    digits_cnn,
    load_weights,
    pretrained,
    save_weights,
)
from cnnlab.net._threads import limited_threads


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny arrays: thread pools cost more than the arithmetic (see cnnlab.net._threads)."""
    with limited_threads(1):
        yield


def small_model(dtype=np.float64, seed=0, dropout=False):
    """Every layer kind, strides, padding, dilation and groups, on a 2x7x7 input."""
    layers = [
        Conv2d(2, 4, 3, padding=1),
        ReLU(),
        MaxPool2d(3, stride=1),  # overlapping windows: gradients must add up
        Conv2d(4, 4, 2, stride=2, dilation=1, groups=2),
        ReLU(),
        AvgPool2d(2, stride=1, padding=1),
        Conv2d(4, 3, (2, 1), padding=(0, 1), dilation=(1, 2)),
        Flatten(),
    ]
    if dropout:
        layers.append(Dropout(0.5))
    layers.append(Dense(3 * 2 * 5, 5))
    return Sequential(layers, seed=seed, dtype=dtype, input_shape=(2, 7, 7))


# -- layers ------------------------------------------------------------------------


def test_layer_shapes_match_output_shape():
    model = small_model()
    x = np.random.default_rng(0).normal(size=(3, 2, 7, 7))
    out = x
    for layer, shape in zip(model, model.output_shapes((2, 7, 7)), strict=True):
        out = layer(out)
        assert out.shape[1:] == shape, layer
    assert out.shape == (3, 5)


def test_he_initialisation_statistics():
    conv = Conv2d(16, 64, 3, seed=1)
    std = conv.weight.value.std()
    assert abs(std - np.sqrt(2 / (16 * 9))) < 0.01
    assert conv.weight.value.dtype == np.float32
    np.testing.assert_array_equal(conv.bias.value, 0)
    dense = Dense(200, 100, seed=1)
    assert dense.weight.shape == (100, 200)  # (F, D), the layout of cnnlab.layers
    assert abs(dense.weight.value.std() - np.sqrt(2 / 200)) < 0.005


def test_conv_without_bias_has_one_parameter():
    conv = Conv2d(1, 2, 3, bias=False)
    assert [p.name for p in conv.parameters()] == ["conv.weight"]
    out = conv(np.ones((1, 1, 3, 3), np.float32))
    np.testing.assert_allclose(out.ravel(), conv.weight.value.sum(axis=(1, 2, 3)), rtol=1e-6)


def test_conv_channel_mismatch_names_layer_and_counts():
    model = Sequential([Conv2d(3, 4, 3)], seed=0)
    with pytest.raises(ValueError, match=r"'conv1' expects 3 input channels, found 1"):
        model(np.zeros((1, 1, 5, 5), np.float32))


def test_dense_mismatch_blames_flatten():
    expected = r"'dense1' expects 64 input features, found 128.*Flatten"
    with pytest.raises(ValueError, match=expected):
        Sequential(
            [Conv2d(1, 8, 3, padding=1), MaxPool2d(2), Flatten(), Dense(64, 10)],
            input_shape=(1, 8, 8),
        )
    model = Sequential([Flatten(), Dense(64, 10)])
    with pytest.raises(ValueError, match="expects 64 input features, found 128"):
        model(np.zeros((2, 2, 8, 8), np.float32))


def test_dense_on_feature_map_asks_for_flatten():
    with pytest.raises(ValueError, match="put a Flatten"):
        Dense(4, 2)(np.zeros((1, 1, 2, 2), np.float32))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="divisible by groups=2"):
        Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        Dense(0, 3)
    with pytest.raises(TypeError, match="kernel must be an int or a pair"):
        MaxPool2d(2.5)
    with pytest.raises(ValueError, match=r"drop probability in \[0, 1\)"):
        Dropout(1.0)


def test_backward_before_forward_is_explained():
    with pytest.raises(RuntimeError, match="before forward"):
        ReLU().backward(np.ones(3))


def test_dropout_train_and_eval():
    drop = Dropout(0.25, seed=3)
    x = np.ones((200, 50))
    out = drop(x)
    dropped = out == 0
    assert abs(dropped.mean() - 0.25) < 0.02
    np.testing.assert_allclose(out[~dropped], 1 / 0.75)  # inverted dropout keeps the mean
    dout = np.arange(x.size, dtype=float).reshape(x.shape)
    np.testing.assert_allclose(drop.backward(dout), np.where(dropped, 0, dout / 0.75), rtol=1e-15)
    drop.eval()
    assert drop(x) is x
    assert drop.backward(dout) is dout


# -- Sequential ----------------------------------------------------------------------


def test_layer_names_repr_and_parameter_names():
    model = digits_cnn()
    assert [layer.name for layer in model] == [
        "conv1", "relu1", "maxpool1", "conv2", "relu2", "maxpool2", "flatten1", "dense1",
    ]
    assert list(model.named_parameters()) == [
        "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "dense1.weight", "dense1.bias",
    ]
    text = repr(model.freeze("conv1"))
    assert "(conv1): Conv2d(1, 8, kernel=3, padding=1)  [frozen]" in text
    assert "(dense1): Dense(64, 10)" in text


def test_explicit_names_and_duplicates():
    model = Sequential([Conv2d(1, 2, 3, name="stem"), ReLU(), Conv2d(2, 2, 3)])
    assert [layer.name for layer in model] == ["stem", "relu1", "conv1"]
    assert model["stem"] is model[0]
    clash = Sequential([Conv2d(1, 2, 3), Conv2d(2, 2, 3, name="conv1"), Conv2d(2, 2, 1)])
    assert [layer.name for layer in clash] == ["conv2", "conv1", "conv3"]  # as cnnlab.models
    with pytest.raises(ValueError, match="unique"):
        Sequential([ReLU(name="a"), ReLU(name="a")])
    relu = ReLU()
    with pytest.raises(ValueError, match="appears twice"):
        Sequential([relu, relu])
    with pytest.raises(TypeError, match="not a layer"):
        Sequential([np.zeros(3)])


def test_summary_counts_match_cnnlab_models():
    from cnnlab.models import Conv2d as C
    from cnnlab.models import Dense as D
    from cnnlab.models import Flatten as Fl
    from cnnlab.models import Input, summary
    from cnnlab.models import MaxPool2d as M
    from cnnlab.models import ReLU as R
    from cnnlab.models import Sequential as S

    spec = S(Input(1, 8, 8), C(8, 3, padding=1), R(), M(2), C(16, 3, padding=1), R(), M(2),
             Fl(), D(10))
    model = digits_cnn()
    assert model.num_parameters() == summary(spec).total_params == 80 + 1168 + 650
    text = model.freeze("conv2").summary()
    assert "conv2     Conv2d(8, 16, kernel=3, padding=1)  (16, 4, 4)     1,168          0" in text
    assert text.endswith("total parameters: 1,898 (trainable 730, frozen 1,168)")


def test_seeded_initialisation_is_reproducible_and_positional():
    a, b, c = digits_cnn(seed=0), digits_cnn(seed=0), digits_cnn(seed=1)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        np.testing.assert_array_equal(pa.value, pb.value)
        if pa.name.endswith("weight"):
            assert not np.array_equal(pa.value, pc.value)
    # replacing the head re-draws only the head, from the same seed and position
    d = digits_cnn(seed=0)
    d.replace_head(Dense(64, 10), seed=0)
    for pa, pd in zip(a.parameters(), d.parameters(), strict=True):
        np.testing.assert_array_equal(pa.value, pd.value)


def test_model_dtype_is_enforced():
    model = digits_cnn()
    with pytest.raises(TypeError, match="float32 but x is float64"):
        model(np.zeros((1, 1, 8, 8)))
    with pytest.raises(TypeError, match="astype"):
        model(np.zeros((1, 1, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"built for examples of shape \(1, 8, 8\)"):
        model(np.zeros((1, 1, 9, 9), np.float32))
    assert digits_cnn(dtype=np.float64).parameters()[0].value.dtype == np.float64


@pytest.mark.parametrize("dropout", [False, True])
def test_whole_network_gradients_match_finite_differences(dropout):
    model = small_model(dropout=dropout)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 2, 7, 7))
    y = np.array([0, 3, 4])
    if dropout:
        model.eval()  # a fixed function: the mask would change between evaluations

    def loss_of(_):
        return softmax_cross_entropy(model.forward(x), y)[0]

    model.zero_grad()
    _, dscores = softmax_cross_entropy(model.forward(x), y)
    dx = model.backward(dscores)
    assert rel_error(dx, numerical_gradient(loss_of, x)) < 1e-7
    for param in model.parameters():
        numeric = numerical_gradient(loss_of, param.value)
        assert rel_error(param.grad, numeric) < 1e-7, param.name


def test_dropout_gradient_uses_the_forward_mask():
    model = small_model(dropout=True, seed=4)
    x = np.random.default_rng(2).normal(size=(2, 2, 7, 7))
    scores = model(x)
    dx = model.backward(np.ones_like(scores))
    mask = model["dropout1"]._cache
    assert (mask == 0).any()
    # with the mask fixed, the network is a fixed function: compare with a copy whose
    # dropout is replaced by the same multiplication in eval mode
    frozen_mask = model.copy().eval()

    def summed(_):
        h = x
        for layer in frozen_mask:
            h = layer(h) * mask if layer.name == "dropout1" else layer(h)
        return h.sum()

    assert rel_error(dx, numerical_gradient(summed, x)) < 1e-7


def test_gradients_accumulate_until_zero_grad():
    model = small_model()
    x = np.random.default_rng(0).normal(size=(2, 2, 7, 7))
    model.backward(np.ones_like(model(x)))
    once = model.parameters()[0].grad.copy()
    model.backward(np.ones_like(model(x)))
    np.testing.assert_allclose(model.parameters()[0].grad, 2 * once)
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


def test_frozen_layers_pass_gradient_but_keep_no_grad():
    x = np.random.default_rng(0).normal(size=(2, 2, 7, 7))
    free, frozen = small_model(), small_model().freeze(slice(0, 5))
    dx_free = free.backward(np.ones_like(free(x)))
    dx_frozen = frozen.backward(np.ones_like(frozen(x)))
    np.testing.assert_array_equal(dx_free, dx_frozen)
    for p_free, p_frozen in zip(free.parameters(), frozen.parameters(), strict=True):
        if p_frozen.name.startswith(("conv1", "conv2")):
            assert not p_frozen.trainable
            assert not p_frozen.grad.any()
        else:
            np.testing.assert_array_equal(p_free.grad, p_frozen.grad)
    # without the input gradient, backward stops at the first trainable layer
    frozen.zero_grad()
    assert frozen.backward(np.ones((2, 5)), input_grad=False) is None
    assert frozen["conv3"].weight.grad.any()
    frozen["conv2"]._cache = None  # would raise if backward reached it
    frozen.backward(np.ones((2, 5)), input_grad=False)


def test_freeze_unfreeze_and_lr_scale_selectors():
    model = digits_cnn()
    model.freeze().unfreeze("dense1")
    assert [p.trainable for p in model.parameters()] == [False] * 4 + [True] * 2
    model.unfreeze(slice(0, 4)).freeze(["conv1.bias", 3])
    assert [p.trainable for p in model.parameters()] == [True, False, False, False, True, True]
    model.set_lr_scale(0, 0.01).set_lr_scale("conv2", 0.1)
    assert [p.lr_scale for p in model.parameters()] == [0.01, 0.01, 0.1, 0.1, 1.0, 1.0]
    assert "lr_scale=0.01" in repr(model)
    assert model.num_parameters(trainable_only=True) == 8 * 9 + 650
    with pytest.raises(KeyError, match="no layer or parameter named 'conv9'"):
        model.freeze("conv9")
    with pytest.raises(IndexError):
        model.freeze(8)
    with pytest.raises(ValueError, match="lr_scale must be >= 0"):
        model.set_lr_scale(None, -1)


def test_replace_head_copy_and_slices():
    source = digits_cnn(seed=3).freeze(slice(0, 4))
    model = source.copy()
    model.replace_head([Dense(64, 32), ReLU(), Dense(32, 3)], seed=1)
    assert [layer.name for layer in model][-3:] == ["dense1", "relu3", "dense2"]
    assert model(np.zeros((2, 1, 8, 8), np.float32)).shape == (2, 3)
    assert not model["conv1"].weight.trainable  # kept layers keep their flags
    assert model["conv1"].weight is not source["conv1"].weight  # copy() is deep
    np.testing.assert_array_equal(model["conv1"].weight.value, source["conv1"].weight.value)
    with pytest.raises(ValueError, match="expects 10 input features, found 64"):
        model.replace_head(Dense(10, 3), n=3)
    base = source[:6]
    assert base[0] is source[0]
    assert len(base) == 6
    assert base(np.zeros((1, 1, 8, 8), np.float32)).shape == (1, 16, 2, 2)


def test_build_from_a_models_spec():
    from cnnlab import models

    spec = models.Sequential(
        models.Input(3, 16, 16),
        models.Conv2d(8, 3, padding="same"),
        models.ReLU(),
        models.DepthwiseConv2d(3, stride=2, padding=1, depth_multiplier=2),
        models.MaxPool2d(2),
        models.Conv2d(4, 1, trainable=False),
        models.GlobalAvgPool2d(),
        models.Dropout(0.3),
        models.Dense(5),
    )
    net = build(spec, seed=0)
    table = models.summary(spec)
    assert net.num_parameters() == table.total_params == 224 + 160 + 68 + 25
    assert net.num_parameters(trainable_only=True) == table.total_params - 68
    assert net["dwconv1"].groups == 8
    assert net(np.zeros((2, 3, 16, 16), np.float32)).shape == (2, 5)
    shapes = dict(zip([layer.name for layer in net], net.output_shapes((3, 16, 16)), strict=True))
    assert shapes["conv2"] == table.row("conv2").output_shape
    with pytest.raises(TypeError, match=r"Tanh, which cnnlab\.net cannot train"):
        build(models.Sequential(models.Input(1, 4, 4), models.Tanh()))
    with pytest.raises(ValueError, match="pass input_shape"):
        build(models.Sequential(models.Dense(3)))


# -- save / load ---------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    model = small_model(dtype=np.float32, seed=5)
    save_weights(model, tmp_path / "w.npz")
    other = load_weights(small_model(dtype=np.float32, seed=6), tmp_path / "w.npz")
    x = np.random.default_rng(0).normal(size=(2, 2, 7, 7)).astype(np.float32)
    np.testing.assert_array_equal(model(x), other(x))
    with np.load(tmp_path / "w.npz") as data:
        assert sorted(data.files) == sorted(model.named_parameters())
    as64 = load_weights(small_model(dtype=np.float64), tmp_path / "w.npz")  # cast on load
    assert as64.parameters()[0].value.dtype == np.float64


def test_load_mismatch_lists_every_problem(tmp_path):
    save_weights(digits_cnn(), tmp_path / "w.npz")
    wider = Sequential([Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
                        Dense(64, 10), Dense(10, 2)])
    with pytest.raises(ValueError, match="does not fit this architecture") as info:
        load_weights(wider, tmp_path / "w.npz")
    message = str(info.value)
    assert "missing from the file: ['dense2.weight', 'dense2.bias']" in message
    assert "in the file but not in the model: ['conv2.weight', 'conv2.bias']" in message
    assert "conv1.weight: file (8, 1, 3, 3), model (4, 1, 3, 3)" in message
    # strict=False loads what matches (dense1) and leaves the rest
    before = wider["conv1"].weight.value.copy()
    load_weights(wider, tmp_path / "w.npz", strict=False)
    np.testing.assert_array_equal(wider["conv1"].weight.value, before)
    with np.load(tmp_path / "w.npz") as data:
        np.testing.assert_array_equal(wider["dense1"].weight.value, data["dense1.weight"])
    with pytest.raises(ValueError, match="no parameter of the file matches"):
        load_weights(Sequential([Flatten(), Dense(3, 1)]), tmp_path / "w.npz", strict=False)


def test_load_from_file_object():
    buffer = io.BytesIO()
    model = digits_cnn(seed=2)
    save_weights(model, buffer)
    buffer.seek(0)
    loaded = load_weights(digits_cnn(seed=9), buffer)
    np.testing.assert_array_equal(loaded["dense1"].bias.value, model["dense1"].bias.value)


# -- shipped models ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_shipped_weights_are_small_and_load(name):
    ref = PRETRAINED[name]
    path = importlib.resources.files("cnnlab").joinpath("data", ref.filename)
    assert path.is_file()
    assert len(path.read_bytes()) < 200_000
    model = pretrained(name)
    assert not model.training
    split = ref.data()
    accuracy = float(np.mean(model(split.x_test).argmax(axis=1) == split.y_test))
    assert accuracy > 0.95, f"{name}: held-out accuracy {accuracy:.3f}"


def test_pretrained_unknown_name_lists_choices():
    with pytest.raises(KeyError, match="available: \\['digits_cnn', 'digits_source_cnn'\\]"):
        pretrained("vgg16")


# -- residual networks: BatchNorm2d, ResidualBlock, GlobalAvgPool2d ---------------------


def _tiny_resnet_spec():
    from cnnlab import models

    return models.Sequential(
        models.Input(3, 8, 8),
        models.Conv2d(8, 3, padding=1, bias=False, name="conv1"),
        models.BatchNorm2d(name="bn1"),
        models.ReLU(name="relu"),
        models.BasicBlock(8, name="layer1.0"),
        models.BasicBlock(16, 2, name="layer2.0"),
        models.Bottleneck(4, 1, name="layer3.0"),
        models.GlobalAvgPool2d(name="avgpool"),
        models.Dense(5, name="fc"),
        name="tiny_resnet",
    )


def test_residual_network_matches_torch_in_training_and_evaluation():
    torch = pytest.importorskip("torch", reason="PyTorch is the optional cross-check")
    from cnnlab import models
    from cnnlab.net.torch_twin import torch_twin

    spec = _tiny_resnet_spec()
    net = build(spec, seed=3, dtype=np.float64)
    assert net.num_parameters() == models.summary(spec).total_params
    assert [layer.name for layer in net][:5] == ["conv1", "bn1", "relu", "layer1_0", "layer2_0"]
    assert "layer2_0.downsample_0.weight" in net.named_parameters()
    twin = torch_twin(net)
    rng = np.random.default_rng(0)
    for _ in range(3):  # training mode: batch statistics, running statistics updated
        x = rng.standard_normal((4, 3, 8, 8))
        out = net(x)
        t = torch.tensor(x, requires_grad=True)
        expected = twin(t)
        np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-10)
        dout = rng.standard_normal(out.shape)
        net.zero_grad()
        twin.zero_grad()
        dx = net.backward(dout)
        expected.backward(torch.tensor(dout))
        np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-9, atol=1e-10)
    grads = dict(zip(net.named_parameters(), [p.grad for p in net.parameters()], strict=True))
    torch_conv = twin[3].main[0].weight.grad.numpy()  # layer1_0.conv1
    np.testing.assert_allclose(grads["layer1_0.conv1.weight"], torch_conv, rtol=1e-9, atol=1e-10)
    for name, value in net.named_buffers().items():
        assert np.all(np.isfinite(value)), name
    torch_stats = [m.running_var.numpy() for m in twin.modules()
                   if isinstance(m, torch.nn.BatchNorm2d)]
    ours = [v for k, v in net.named_buffers().items() if k.endswith("running_var")]
    assert len(ours) == len(torch_stats)
    for got, want in zip(ours, torch_stats, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    net.eval()
    twin.eval()
    x = rng.standard_normal((2, 3, 8, 8))
    np.testing.assert_allclose(net(x), twin(torch.tensor(x)).detach().numpy(), rtol=1e-10,
                               atol=1e-10)
    # Evaluation mode: one image gives the same scores alone or in a batch.
    np.testing.assert_allclose(net(x[:1]), net(x)[:1], rtol=1e-12)


def test_residual_block_module_matches_the_layer_function():
    from cnnlab.layers import basic_block_backward, basic_block_forward
    from cnnlab.net import BatchNorm2d, ResidualBlock

    block = ResidualBlock(
        [Conv2d(3, 6, 3, 2, 1, bias=False), BatchNorm2d(6, dtype=np.float64), ReLU(),
         Conv2d(6, 6, 3, 1, 1, bias=False), BatchNorm2d(6, dtype=np.float64)],
        [Conv2d(3, 6, 1, 2, bias=False), BatchNorm2d(6, dtype=np.float64)],
        name="down",
    )
    model = Sequential([block], seed=1, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 7))
    out = model(x)
    conv1, bn1, _, conv2, bn2 = block.main
    skip_conv, skip_bn = block.shortcut
    arrays = [conv1.weight, bn1.weight, bn1.bias, conv2.weight, bn2.weight, bn2.bias,
              skip_conv.weight, skip_bn.weight, skip_bn.bias]
    expected, cache = basic_block_forward(x, *(p.value for p in arrays), stride=2)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    dx = model.backward(dout)
    grads = basic_block_backward(dout, cache)
    np.testing.assert_allclose(dx, grads[0], rtol=1e-12, atol=1e-14)
    for param, grad in zip(arrays, grads[1:], strict=True):
        np.testing.assert_allclose(param.grad, grad, rtol=1e-12, atol=1e-14, err_msg=param.name)
    assert [p.name for p in block.parameters()][-3:] == [
        "down.downsample_conv1.weight", "down.downsample_bn1.weight", "down.downsample_bn1.bias"
    ]


def test_residual_network_gradients_match_finite_differences():
    net = build(_tiny_resnet_spec(), seed=0, dtype=np.float64)
    x = np.random.default_rng(4).standard_normal((3, 3, 8, 8))
    y = np.array([0, 3, 4])

    def loss(v):
        return softmax_cross_entropy(net(v), y)[0]

    loss(x)
    net.zero_grad()
    _, dscores = softmax_cross_entropy(net(x), y)
    dx = net.backward(dscores)
    numeric = numerical_gradient(loss, x.copy())
    assert rel_error(dx, numeric) < 1e-6


def test_identity_block_needs_matching_shapes_and_save_load_keeps_running_stats(tmp_path):
    from cnnlab.net import BatchNorm2d, ResidualBlock

    block = ResidualBlock([Conv2d(3, 4, 3, padding=1)])
    with pytest.raises(ValueError, match="needs a projection shortcut"):
        block(np.zeros((1, 3, 5, 5), np.float32))
    net = build(_tiny_resnet_spec(), seed=0)
    net(np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32))
    save_weights(net, tmp_path / "tiny.npz")
    copy = load_weights(build(_tiny_resnet_spec(), seed=5), tmp_path / "tiny.npz")
    for name, value in net.named_buffers().items():
        np.testing.assert_array_equal(copy.named_buffers()[name], value, err_msg=name)
    assert not np.allclose(net.named_buffers()["bn1.running_mean"], 0)
    with pytest.raises(ValueError, match="num_features must equal"):
        BatchNorm2d(4)(np.zeros((2, 3, 2, 2), np.float32))


def test_torch_twin_of_a_plain_cnn_matches_in_evaluation_and_refuses_what_it_cannot_copy():
    torch = pytest.importorskip("torch", reason="PyTorch is the optional cross-check")
    from cnnlab.net.torch_twin import torch_twin

    model = Sequential([Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2),
                        AvgPool2d(2, padding=1), Dropout(0.5), Flatten(), Dense(4 * 3 * 3, 3)])
    twin = torch_twin(model)
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(np.float32)
    model.eval()
    twin.eval()
    np.testing.assert_allclose(model(x), twin(torch.tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(ValueError, match="'same' has no fixed PyTorch twin"):
        torch_twin(Sequential([Conv2d(1, 2, 3, padding="same")]))

    class Unknown(Layer):
        def forward(self, x):
            return x

        def output_shape(self, in_shape):
            return in_shape

    with pytest.raises(TypeError, match="no PyTorch twin for Unknown"):
        torch_twin(Sequential([Unknown()]))
