"""Tests of cnnlab.net.train: fit, evaluate, predict and History."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.datasets import load_digits, train_test_split
from cnnlab.layers import softmax_cross_entropy
from cnnlab.net import (
    SGD,
    Dropout,
    History,
    StepDecay,
    digits_cnn,
    evaluate,
    fit,
    predict,
    predict_logits,
)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits()
    split = train_test_split(x, y, test_size=0.25, seed=0)
    # a few hundred examples keep each test to a fraction of a second
    return split.x_train[:400], split.y_train[:400], split.x_test[:200], split.y_test[:200]


def test_short_training_reduces_loss_and_learns(digits):
    x, y, x_val, y_val = digits
    model = digits_cnn(seed=0)
    loss0, acc0 = evaluate(model, x_val, y_val)
    history = fit(model, SGD(model, lr=0.05, momentum=0.9), x, y, epochs=4, batch_size=32,
                  val=(x_val, y_val), progress=False)
    assert len(history) == 4
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.val_loss[-1] < 0.5 * loss0
    assert acc0 < 0.3
    assert history.val_accuracy[-1] > 0.8
    assert history.val_loss[-1] == pytest.approx(evaluate(model, x_val, y_val)[0], rel=1e-6)
    assert "4 epochs" in repr(history)


def test_training_is_deterministic(digits):
    x, y, _, _ = digits

    def run(model_seed, fit_seed):
        model = digits_cnn(seed=model_seed)
        model.replace_head([Dropout(0.2), *model.layers[-1:]], seed=model_seed)
        history = fit(model, SGD(model, lr=0.05, momentum=0.9, weight_decay=1e-4),
                      x, y, epochs=2, batch_size=50, seed=fit_seed, progress=False)
        return model, history

    (a, ha), (b, hb), (c, hc) = run(0, 0), run(0, 0), run(0, 1)
    assert ha.loss == hb.loss
    assert ha.loss != hc.loss
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        np.testing.assert_array_equal(pa.value, pb.value)
        assert not np.array_equal(pa.value, pc.value)


def test_frozen_parameters_do_not_change_during_fit(digits):
    x, y, _, _ = digits
    model = digits_cnn(seed=0).freeze(slice(0, 6))
    before = model.state_dict()
    fit(model, SGD(model, lr=0.1, momentum=0.9, weight_decay=0.01), x, y, epochs=1,
        progress=False)
    after = model.state_dict()
    for name in before:
        changed = not np.array_equal(before[name], after[name])
        assert changed == name.startswith("dense1"), name


def test_evaluate_and_predict_agree_with_the_loss(digits):
    _, _, x_val, y_val = digits
    model = digits_cnn(seed=1)
    scores = predict_logits(model, x_val, batch_size=64)
    assert scores.shape == (200, 10)
    np.testing.assert_allclose(scores, model.eval()(x_val), atol=1e-5)  # BLAS blocking
    model.train()
    loss, accuracy = evaluate(model, x_val, y_val, batch_size=7)
    assert loss == pytest.approx(float(softmax_cross_entropy(scores, y_val)[0]), rel=1e-5)
    assert accuracy == np.mean(scores.argmax(axis=1) == y_val)
    np.testing.assert_array_equal(predict(model, x_val), scores.argmax(axis=1))
    assert model.training  # mode restored


def test_callbacks_schedule_and_early_stop(digits):
    x, y, _, _ = digits
    model = digits_cnn()
    opt = SGD(model, lr=0.1)
    seen = []

    def stop_after_three(epoch, history):
        seen.append((epoch, len(history)))
        return epoch == 2

    history = fit(model, opt, x, y, epochs=10, batch_size=100, progress=False,
                  callbacks=[StepDecay(opt, every=2, factor=0.5), stop_after_three])
    assert seen == [(0, 1), (1, 2), (2, 3)]
    assert history.lr == [0.1, 0.1, 0.05]
    assert len(history.seconds) == 3


def test_progress_bar_goes_to_stderr_only_when_asked(digits, capsys):
    x, y, _, _ = digits
    model = digits_cnn()
    fit(model, SGD(model, lr=0.01), x[:64], y[:64], epochs=1, batch_size=32, progress=False)
    assert capsys.readouterr() == ("", "")
    fit(model, SGD(model, lr=0.01), x[:64], y[:64], epochs=2, batch_size=32, progress=True)
    err = capsys.readouterr().err
    assert "4/4" in err
    assert "epoch 2/2" in err


def test_bad_data_is_explained(digits):
    x, y, _, _ = digits
    model = digits_cnn(num_classes=5)
    opt = SGD(model, lr=0.1)
    with pytest.raises(ValueError, match="labels go up to 9 but the model outputs 5"):
        fit(model, opt, x, y, epochs=1, progress=False)
    with pytest.raises(ValueError, match="integer class labels"):
        fit(model, opt, x, y.astype(float), epochs=1, progress=False)
    with pytest.raises(ValueError, match="400 examples but y has 399"):
        fit(model, opt, x, y[:-1], epochs=1, progress=False)
    with pytest.raises(ValueError, match="4-D array"):
        fit(model, opt, x.reshape(400, -1), y, epochs=1, progress=False)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        fit(model, opt, x, y % 5, epochs=1, batch_size=0, progress=False)


def test_history_plot_and_extend():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = History(loss=[1.0, 0.5], accuracy=[0.5, 0.8], val_loss=[1.1, 0.7],
                val_accuracy=[0.4, 0.7], lr=[0.1, 0.1], seconds=[1.0, 1.0])
    b = History(loss=[0.4], accuracy=[0.9], val_loss=[0.6], val_accuracy=[0.75], lr=[0.01],
                seconds=[1.0])
    fig = a.plot(label="run")
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()] == ["run train", "run validation"]
    np.testing.assert_array_equal(acc_ax.get_lines()[1].get_ydata(), [0.4, 0.7])
    plt.close(fig)
    a.extend(b)
    assert a.val_accuracy == [0.4, 0.7, 0.75]
    assert len(a) == 3
