"""fit warns, once per calling line and before training, when its inputs are
far from unit scale for the hidden activation (issue 15: raw wheat seeds
trained to 0.333, raw MNIST pixels to 0.114); scaled inputs train quietly."""
import warnings

import numpy as np
import pytest

import fastbp
from fastbp.datasets import load_mnist_5k, load_wheat_seeds, standardize

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def fit_warnings(X, y, sizes, activation="sigmoid", **kw):
    net = fastbp.Network(sizes, activation=activation, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.fit(X, y, epochs=1, **kw)
    return [w for w in caught if issubclass(w.category, fastbp.InputScaleWarning)]


def test_raw_wheat_seeds_warn_saying_what_to_do():
    X, y = load_wheat_seeds()
    caught = fit_warnings(X, y, [7, 10, 3])
    assert len(caught) == 1  # one per fit, not one per epoch or batch
    message = str(caught[0].message)
    assert "sigmoid units saturate" in message and "Standardize" in message
    assert caught[0].filename == __file__  # points at the caller's fit line


def test_raw_pixels_warn_for_relu_too():
    X, y = load_mnist_5k()
    caught = fit_warnings(X[:200] * 255, y[:200], [784, 10, 10], activation="relu")
    assert len(caught) == 1 and "relu units" in str(caught[0].message)
    caught = fit_warnings(X[:200] * 1e-4, y[:200], [784, 10, 10])
    assert len(caught) == 1 and "close to 0" in str(caught[0].message)


# x² overflows in X's precision (the column sums are taken in it): inf, far
# from 1 all the same, and no overflow warning of NumPy's on the way
@pytest.mark.parametrize("dtype,huge", [("float32", 1e20), ("float64", 1e160)])
def test_inputs_whose_squares_overflow_warn_of_scale_only(dtype, huge):
    X = np.random.default_rng(0).uniform(-1, 1, (40, 3)).astype(dtype)
    X[::3, 1] = huge
    net = fastbp.Network([3, 4, 2], activation="relu", output_activation="softmax",
                         cost="cross_entropy", dtype=dtype, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.fit(X, np.arange(40) % 2, epochs=1, lr=1e-30)
    assert [w.category for w in caught] == [fastbp.InputScaleWarning]
    assert "far larger than 1" in str(caught[0].message)


@pytest.mark.parametrize("scaled", ["standardized wheat", "pixels in [0, 1]", "[-1, 1]"])
def test_scaled_inputs_do_not_warn(scaled):
    if scaled == "standardized wheat":
        X, y = load_wheat_seeds()
        X, sizes = standardize(X)[0], [7, 10, 3]
    elif scaled == "pixels in [0, 1]":
        X, y = load_mnist_5k()
        X, y, sizes = X[:300], y[:300], [784, 10, 10]
    else:
        rng = np.random.default_rng(0)
        X, y, sizes = rng.uniform(-1, 1, (50, 4)), rng.integers(0, 2, 50), [4, 3, 2]
    assert fit_warnings(X, y, sizes, activation=["tanh"]) == []


def test_the_default_filter_shows_it_once_per_line(recwarn):
    X, y = load_wheat_seeds()
    net = fastbp.Network([7, 10, 3], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        for _ in range(3):
            net.fit(X, y, epochs=1)
    assert sum(issubclass(w.category, fastbp.InputScaleWarning) for w in recwarn) == 1


def test_fastbp_sklearn_keeps_scikit_learns_warnings_only():
    pytest.importorskip("sklearn")
    from fastbp.sklearn import MLPClassifier
    X, y = load_wheat_seeds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MLPClassifier((5,), max_iter=3, random_state=0).fit(X, y)
    assert not [w for w in caught if issubclass(w.category, fastbp.InputScaleWarning)]
    assert caught  # scikit-learn's own ConvergenceWarning is still there
