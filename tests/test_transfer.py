"""Tests of cnnlab.net.transfer: new heads, freezing, discriminative rates, the payoff."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.datasets import transfer_split
from cnnlab.net import (
    Conv2d,
    Dense,
    ReLU,
    Sequential,
    digits_cnn,
    discriminative_lr,
    evaluate,
    fine_tune,
    layer_groups,
    pretrained,
    scratch_vs_transfer,
    transfer_model,
)


@pytest.fixture(scope="module")
def source():
    return pretrained("digits_source_cnn")


@pytest.fixture(scope="module")
def target():
    return transfer_split(shots=10, seed=0).target


def test_transfer_model_has_new_head_and_frozen_base(source):
    model = transfer_model(source, 3, seed=1)
    assert model[-1].out_features == 3
    assert model[-1].in_features == source[-1].in_features
    assert [p.name for p in model.parameters(trainable_only=True)] == [
        "dense1.weight", "dense1.bias",
    ]
    np.testing.assert_array_equal(model["conv2"].weight.value, source["conv2"].weight.value)
    assert model["conv2"].weight is not source["conv2"].weight
    assert all(p.trainable for p in source.parameters())  # the source is untouched
    assert source[-1].out_features == 5
    with pytest.raises(ValueError, match="must end in a Dense layer"):
        transfer_model(Sequential([Conv2d(1, 2, 3), ReLU()]), 3)


def test_discriminative_lr_scales_each_earlier_group_down():
    model = discriminative_lr(digits_cnn(), factor=3)
    assert layer_groups(model) == ["conv1", "conv2", "dense1"]
    scales = [p.lr_scale for p in model.parameters()]
    np.testing.assert_allclose(scales, [1 / 9, 1 / 9, 1 / 3, 1 / 3, 1, 1])
    model = discriminative_lr(digits_cnn(), [["conv1", "conv2"], "dense1"], factor=10)
    np.testing.assert_allclose([p.lr_scale for p in model.parameters()], [0.1] * 4 + [1, 1])
    with pytest.raises(ValueError, match="factor must be >= 1"):
        discriminative_lr(digits_cnn(), factor=0.5)


def test_head_stage_leaves_the_base_unchanged(source, target):
    model = transfer_model(source, 5)
    base_before = {k: v for k, v in model.state_dict().items() if not k.startswith("dense1")}
    head_before = model["dense1"].weight.value.copy()
    history = fine_tune(model, *target.train, head_epochs=3, finetune_epochs=0, lr=0.05)
    assert len(history) == 3
    for name, value in base_before.items():
        np.testing.assert_array_equal(model.state_dict()[name], value, err_msg=name)
    assert not np.array_equal(model["dense1"].weight.value, head_before)


def test_fine_tuning_moves_earlier_layers_less(source, target):
    model = transfer_model(source, 5)
    fine_tune(model, *target.train, head_epochs=2, finetune_epochs=0)
    before = model.state_dict()
    fine_tune(model, *target.train, head_epochs=0, finetune_epochs=3, lr=0.05, factor=10,
              unfreeze=["conv2", "dense1"])
    after = model.state_dict()
    np.testing.assert_array_equal(after["conv1.weight"], before["conv1.weight"])  # still frozen
    assert [p.lr_scale for p in model.parameters()] == [1.0, 1.0, 0.1, 0.1, 1.0, 1.0]

    def relative_change(name):
        return np.abs(after[name] - before[name]).mean() / np.abs(before[name]).mean()

    assert 0 < relative_change("conv2.weight") < relative_change("dense1.weight")


def test_transfer_beats_training_from_scratch_on_few_examples(source):
    # 10 digits per class of 5-9, on a 12x12 canvas. Single runs vary: over 8 runs
    # (4 splits x 2 seeds) transfer won every time, by 3 to 11 points, 7 on average. These
    # 4 runs: scratch 0.545, transfer 0.615 on average.
    scratch, transferred = [], []
    for split_seed in (0, 1):
        split = transfer_split(shots=10, seed=split_seed).target
        for seed in (0, 1):
            result = scratch_vs_transfer(source, *split.train, seed=seed, epochs=30)
            scratch.append(evaluate(result.scratch_model, *split.test)[1])
            transferred.append(evaluate(result.transfer_model, *split.test)[1])
            assert len(result.scratch) == len(result.transfer) == 30
    margin = np.mean(transferred) - np.mean(scratch)
    assert margin > 0.04, (scratch, transferred)
    assert np.mean(scratch) > 0.4  # the baseline trained: the margin is not a broken scratch


def test_comparison_is_deterministic_and_plots(source, target):
    x, y = target.x_train[:20], target.y_train[:20]
    a = scratch_vs_transfer(source, x, y, val=target.test, epochs=2, seed=3)
    b = scratch_vs_transfer(source, x, y, val=target.test, epochs=2, seed=3)
    assert a.scratch.val_accuracy == b.scratch.val_accuracy
    assert a.transfer.loss == b.transfer.loss
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = a.plot()
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["from scratch train", "from scratch validation", "transfer train",
                      "transfer validation"]
    plt.close(fig)
    with pytest.raises(ValueError, match="head_epochs must be between 0 and epochs=2"):
        scratch_vs_transfer(source, x, y, epochs=2, head_epochs=3)


def test_replace_head_with_hidden_layer_for_transfer(source, target):
    model = source.copy().freeze()
    model.replace_head([Dense(source[-1].in_features, 16), ReLU(), Dense(16, 5)], seed=0)
    assert model.num_parameters(trainable_only=True) == 288 * 16 + 16 + 16 * 5 + 5
    loss, _ = evaluate(model, *target.test)
    assert np.isfinite(loss)
