"""Tests of cnnlab.datasets: the digits, seeded stratified splits, the transfer tasks."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.datasets import load_digits, place_randomly, train_test_split, transfer_split


def test_load_digits_shapes_range_and_labels():
    x, y = load_digits()
    assert x.shape == (1797, 1, 8, 8)
    assert x.dtype == np.float32
    assert x.flags.c_contiguous
    assert (x.min(), x.max()) == (0.0, 1.0)
    assert y.dtype == np.int64
    counts = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    np.testing.assert_array_equal(np.bincount(y), counts)
    # pixel values are counts 0..16 divided by 16
    np.testing.assert_array_equal(x * 16, np.round(x * 16))


def test_load_digits_variants():
    flat, _ = load_digits(as_images=False, dtype=np.float64)
    x, _ = load_digits()
    assert flat.shape == (1797, 64)
    assert flat.dtype == np.float64
    np.testing.assert_array_equal(flat.reshape(x.shape), x)
    big, _ = load_digits(upsample=2)
    assert big.shape == (1797, 1, 16, 16)
    np.testing.assert_array_equal(big[:, :, ::2, ::2], x)
    np.testing.assert_array_equal(big[:, :, 1::2, 1::2], x)
    x[0, 0, 0, 0] = 5.0  # callers get their own copy
    assert load_digits()[0][0, 0, 0, 0] == 0.0
    with pytest.raises(ValueError, match="upsample must be a positive int"):
        load_digits(upsample=0)


def test_digits_are_scikit_learns_whichever_way_they_are_read(monkeypatch):
    """The CSV read directly (no scikit-learn import) and scikit-learn's own loader
    (used when the file is not where it is expected) give the same digits."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits as sklearn_load_digits

    from cnnlab import datasets

    bunch = sklearn_load_digits()
    datasets._raw_digits.cache_clear()
    direct = datasets._raw_digits()
    monkeypatch.setattr(datasets, "_DIGITS_FILE", ("no", "such", "file.csv.gz"))
    datasets._raw_digits.cache_clear()
    fallback = datasets._raw_digits()
    datasets._raw_digits.cache_clear()
    for images, labels in (direct, fallback):
        np.testing.assert_array_equal(images, bunch.images / 16.0)
        np.testing.assert_array_equal(labels, bunch.target)
        assert not images.flags.writeable
        assert not labels.flags.writeable
    imported = subprocess.run(
        [sys.executable, "-c", "import sys; from cnnlab.datasets import load_digits; "
         "load_digits(); print('sklearn' in sys.modules)"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert imported == "False"


def test_train_test_split_is_stratified_seeded_and_disjoint():
    _, y = load_digits()
    ids = np.arange(len(y))
    split = train_test_split(ids, y, test_size=0.2, seed=0)
    assert len(split.x_test) == sum(round(0.2 * c) for c in np.bincount(y))
    per_class = [round(0.2 * c) for c in np.bincount(y)]
    np.testing.assert_array_equal(np.bincount(split.y_test), per_class)
    assert not set(split.x_train) & set(split.x_test)
    assert len(split.x_train) + len(split.x_test) == len(y)
    np.testing.assert_array_equal(y[split.x_train], split.y_train)  # rows stay paired
    again = train_test_split(ids, y, test_size=0.2, seed=0)
    np.testing.assert_array_equal(again.x_test, split.x_test)
    other = train_test_split(ids, y, test_size=0.2, seed=1)
    assert not np.array_equal(np.sort(other.x_test), np.sort(split.x_test))
    x_train, x_test, y_train, y_test = split  # scikit-learn's order
    assert split.test == (x_test, y_test)
    assert split.train == (x_train, y_train)
    assert len(train_test_split(ids, y, test_size=300, seed=0).x_test) == pytest.approx(300, abs=5)


def test_train_test_split_errors():
    with pytest.raises(ValueError, match="test_size must be a fraction"):
        train_test_split(np.zeros(10), np.zeros(10, int), test_size=1.5)
    with pytest.raises(ValueError, match="one label per example"):
        train_test_split(np.zeros(10), np.zeros(9, int))


def test_place_randomly_moves_whole_images():
    x, _ = load_digits()
    out = place_randomly(x[:100], canvas=12, seed=0)
    assert out.shape == (100, 1, 12, 12)
    np.testing.assert_allclose(out.sum(axis=(1, 2, 3)), x[:100].sum(axis=(1, 2, 3)), rtol=1e-6)
    # every image is somewhere: recover it from one of the 25 positions
    for n in range(5):
        crops = [out[n, :, r : r + 8, c : c + 8] for r in range(5) for c in range(5)]
        assert any(np.array_equal(crop, x[n]) for crop in crops)
    np.testing.assert_array_equal(out, place_randomly(x[:100], canvas=12, seed=0))
    with pytest.raises(ValueError, match="canvas must be an int >= the image size 8"):
        place_randomly(x, canvas=6)


def test_transfer_split_tasks():
    split = transfer_split(shots=4, seed=0)
    source, target = split.source, split.target
    assert split.source_classes == (0, 1, 2, 3, 4)
    assert split.target_classes == (5, 6, 7, 8, 9)
    assert source.x_train.shape[1:] == (1, 12, 12)
    np.testing.assert_array_equal(np.bincount(target.y_train), [4] * 5)
    n_target = sum(np.bincount(load_digits()[1])[5:])
    assert len(target.y_test) == n_target - 20
    n_source = sum(np.bincount(load_digits()[1])[:5])
    assert len(source.y_train) == 3 * (n_source - len(source.y_test))  # 3 placements each
    assert set(np.unique(source.y_train)) == set(range(5))
    # no target image appears in the source: compare position-free pixel multisets
    ink = {np.sort(img.ravel()).tobytes() for img in source.x_train}
    assert not any(np.sort(img.ravel()).tobytes() in ink for img in target.x_test)
    moved = np.roll(source.x_train[0], (1, 2), axis=(-2, -1))  # the check ignores position
    assert np.sort(moved.ravel()).tobytes() in ink


def test_transfer_split_options_and_determinism():
    a, b = transfer_split(seed=2), transfer_split(seed=2)
    np.testing.assert_array_equal(a.target.x_train, b.target.x_train)
    centred = transfer_split(canvas=8, source_classes=[1, 7], target_classes=[4, 9], shots=2)
    assert centred.target.x_train.shape == (4, 1, 8, 8)
    assert centred.target_classes == (4, 9)
    x, y = load_digits()
    ours = {img.tobytes() for img in x[y == 9]}
    picked = centred.target.x_train[centred.target.y_train == 1]
    assert all(img.tobytes() in ours for img in picked)  # label 1 is the digit 9
    with pytest.raises(ValueError, match="must be disjoint"):
        transfer_split(source_classes=[1, 2], target_classes=[2, 3])
    with pytest.raises(ValueError, match="leaves none for testing"):
        transfer_split(shots=500)
    with pytest.raises(ValueError, match="digits are 0-9"):
        transfer_split(target_classes=[10])
