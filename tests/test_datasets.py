"""Tests for fastbp.datasets: bundled data loaders and split/scaling helpers."""

import numpy as np
import pytest

from fastbp.datasets import load_mnist_5k, load_wheat_seeds, standardize, train_test_split


def _check_set(X, y, rows, features, per_class):
    """Shapes and dtypes of a bundled set, and its rows per class."""
    assert X.shape == (rows, features) and X.dtype == np.float64
    assert y.shape == (rows,) and y.dtype == np.int64
    assert np.array_equal(np.bincount(y), per_class)
    assert np.isfinite(X).all()


def test_wheat_seeds_shape_dtype_labels():
    _check_set(*load_wheat_seeds(), 210, 7, [70, 70, 70])


def test_wheat_seeds_values_are_raw_file_values():
    X, y = load_wheat_seeds()
    # First and last rows of wheat-seeds.csv; catches standardising or reordering.
    np.testing.assert_allclose(X[0], [15.26, 14.84, 0.871, 5.763, 3.312, 2.221, 5.22])
    assert y[0] == 0
    assert y[-1] == 2
    # Compactness is 4*pi*A/P^2 by definition (to the file's rounding).
    np.testing.assert_allclose(X[:, 2], 4 * np.pi * X[:, 0] / X[:, 1] ** 2, atol=2e-3)


def test_mnist_5k_shape_dtype_labels_range():
    X, y = load_mnist_5k()
    _check_set(X, y, 5000, 784, [500] * 10)
    assert X.min() == 0.0
    assert X.max() == 1.0
    # Scaled by 255: every value is k/255 for an integer k.
    np.testing.assert_allclose(X * 255, np.rint(X * 255), atol=1e-9)
    # Digits are drawn in the middle, the corner pixel is always blank.
    assert X[:, 0].max() == 0.0
    assert X.reshape(-1, 28, 28)[:, 10:18, 10:18].mean() > 0.2


def test_mnist_5k_rows_come_in_a_fixed_shuffled_order():
    X, y = load_mnist_5k()
    # pinned: the order is part of the API (X[:1000] is a fair sample)
    assert y[:12].tolist() == [1, 8, 9, 2, 8, 6, 2, 7, 1, 2, 8, 2]
    assert np.bincount(y[:1000], minlength=10).min() >= 80
    X2, y2 = load_mnist_5k()
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(X, X2)
    # the same images as the file (stored sorted by digit), only reordered
    from fastbp.datasets import _raw_mnist_5k
    raw = _raw_mnist_5k()
    order = np.lexsort((np.round(X * 255) @ np.arange(784.0), y))
    file_order = np.lexsort((raw[:, :-1] @ np.arange(784.0), raw[:, -1]))
    np.testing.assert_array_equal(np.round(X[order] * 255), raw[file_order, :-1])


@pytest.mark.parametrize("loader", [load_wheat_seeds, load_mnist_5k])
def test_loaders_return_fresh_writable_copies(loader):
    X1, y1 = loader()
    X0, y0 = X1.copy(), y1.copy()
    assert X1.flags.writeable and y1.flags.writeable
    X1[:] = -7.0
    y1[:] = -7
    X2, y2 = loader()
    assert not np.shares_memory(X1, X2)
    assert not np.shares_memory(y1, y2)
    np.testing.assert_array_equal(X2, X0)
    np.testing.assert_array_equal(y2, y0)


def test_split_sizes_stratified_disjoint_and_complete():
    X, y = load_wheat_seeds()
    # Tag each row with its index so the split can be traced back.
    Xi = np.column_stack([np.arange(len(y)), X])
    X_tr, X_te, y_tr, y_te = train_test_split(Xi, y, test_fraction=0.25, seed=3)
    # 70 * 0.25 = 17.5 -> 18 test rows per class.
    assert np.array_equal(np.bincount(y_te, minlength=3), [18, 18, 18])
    assert np.array_equal(np.bincount(y_tr, minlength=3), [52, 52, 52])
    idx_tr = X_tr[:, 0].astype(int)
    idx_te = X_te[:, 0].astype(int)
    assert np.intersect1d(idx_tr, idx_te).size == 0
    assert np.array_equal(np.sort(np.concatenate([idx_tr, idx_te])), np.arange(210))
    # Rows keep their own labels and features.
    np.testing.assert_array_equal(y_tr, y[idx_tr])
    np.testing.assert_array_equal(y_te, y[idx_te])
    np.testing.assert_array_equal(X_tr[:, 1:], X[idx_tr])
    # Classes are interleaved, not grouped in blocks.
    assert not np.all(np.diff(y_tr) >= 0)


def test_split_mnist_stratified():
    X, y = load_mnist_5k()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_fraction=0.2, seed=0)
    assert X_tr.shape == (4000, 784) and X_te.shape == (1000, 784)
    assert np.array_equal(np.bincount(y_te), [100] * 10)
    assert np.array_equal(np.bincount(y_tr), [400] * 10)


def test_split_deterministic_per_seed():
    X, y = load_wheat_seeds()
    a = train_test_split(X, y, seed=11)
    b = train_test_split(X, y, seed=11)
    c = train_test_split(X, y, seed=12)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_split_returns_copies():
    X, y = load_wheat_seeds()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y)
    assert not np.shares_memory(X_tr, X)
    assert not np.shares_memory(y_te, y)


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_bad_fraction(frac):
    X, y = load_wheat_seeds()
    with pytest.raises(ValueError):
        train_test_split(X, y, test_fraction=frac)


def test_split_rejects_length_mismatch():
    X, y = load_wheat_seeds()
    with pytest.raises(ValueError):
        train_test_split(X[:-1], y)


def test_standardize_uses_training_statistics():
    X, y = load_wheat_seeds()
    X_tr, X_te, _, _ = train_test_split(X, y, seed=0)
    out = standardize(X_tr, X_te)
    assert isinstance(out, tuple) and len(out) == 2
    X_tr_s, X_te_s = out
    np.testing.assert_allclose(X_tr_s.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X_tr_s.std(axis=0), 1.0, rtol=1e-12)
    # The test part uses the training mean/std, not its own.
    expected = (X_te - X_tr.mean(axis=0)) / X_tr.std(axis=0)
    np.testing.assert_allclose(X_te_s, expected, rtol=1e-12)
    assert abs(X_te_s.mean(axis=0)).max() > 1e-3
    # Inputs are left untouched.
    assert X_tr.mean() > 1.0


def test_standardize_constant_columns_and_single_array():
    X, _ = load_mnist_5k()
    (X_s,) = standardize(X)
    assert np.isfinite(X_s).all()
    const = X.std(axis=0) == 0
    assert const.any()
    # Constant columns are only centred.
    np.testing.assert_array_equal(X_s[:, const], 0.0)
    np.testing.assert_allclose(X_s[:, ~const].std(axis=0), 1.0, rtol=1e-9)
