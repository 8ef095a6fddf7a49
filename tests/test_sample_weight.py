"""Sample weights: the mean cost becomes Σ w_i c_i / Σ w_i, in the core.

Checked against fastbp.reference (gradients and whole epochs with every
optimizer), against finite differences of the weighted loss, and against
the unweighted computation on repeated rows (integer weights = copies).
"""
import numpy as np
import pytest

import fastbp
from fastbp import optim, reference

from conftest import COSTS, DTYPES, TOL, as64, loss_close, make_data, make_net, rel_err


def weights_for(n, seed=3):
    w = np.random.default_rng(seed).uniform(0, 2, n)
    w[::4] = 0                      # zero weights are allowed
    return w


@pytest.mark.parametrize("batch", [1, 9])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
def test_weighted_gradients_match_reference(activation, cost, dtype, batch, threads):
    net = make_net([5, 7, 4, 3], activation, cost, dtype, init="auto")
    X, Y = make_data(net, batch)
    w = weights_for(batch) + (batch == 1)  # one sample: its weight must be > 0
    ref_loss, ref_gw, ref_gb = reference.gradients(as64(net), X, Y, sample_weight=w)
    loss, gw, gb = net.gradients(X, Y, sample_weight=w)
    assert loss_close(loss, ref_loss, dtype)
    assert loss_close(net.loss(X, Y, sample_weight=w), ref_loss, dtype)
    for mine, ref in zip(gw + gb, ref_gw + ref_gb):
        assert rel_err(mine, ref) <= TOL[dtype]


@pytest.mark.parametrize("cost", COSTS)
def test_weighted_gradients_match_finite_differences(cost):
    net = make_net([4, 6, 3], "tanh", cost)
    X, Y = make_data(net, 7)
    w = weights_for(7)
    _, gw, gb = net.gradients(X, Y, sample_weight=w)
    analytic = np.concatenate([a.ravel() for pair in zip(gw, gb) for a in pair])
    numeric = np.empty_like(net.params)
    eps = 1e-5
    for i in range(net.params.size):
        keep = net.params[i]
        net.params[i] = keep + eps
        up = net.loss(X, Y, sample_weight=w)
        net.params[i] = keep - eps
        down = net.loss(X, Y, sample_weight=w)
        net.params[i] = keep
        numeric[i] = (up - down) / (2 * eps)
    assert rel_err(analytic, numeric) < 1e-7


def test_integer_weights_equal_repeated_rows():
    net = make_net([4, 6, 3], "sigmoid", "cross_entropy")
    X, Y = make_data(net, 6)
    w = np.array([2, 0, 1, 3, 1, 1])
    loss, gw, gb = net.gradients(X, Y, sample_weight=w)
    rep_loss, rep_gw, rep_gb = net.gradients(np.repeat(X, w, axis=0), np.repeat(Y, w, axis=0))
    assert rel_err(loss, rep_loss) <= 1e-14
    for a, b in zip(gw + gb, rep_gw + rep_gb):
        assert rel_err(a, b) <= 1e-13


@pytest.mark.parametrize("opt", [None, "adam", "rmsprop"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_weighted_fit_matches_reference_epoch(opt, dtype, threads):
    net = make_net([5, 8, 3], "relu", "cross_entropy", dtype, init="auto")
    X, Y = make_data(net, 29)
    w = weights_for(29)
    w[5:10] = 0                      # batch 1 (rows 5-9) has no weight: skipped
    order = np.arange(29)
    optimizer = None if opt is None else optim.get(opt, 0.01)
    state = None if optimizer is None else optimizer._initial_state(net.params)
    ws, bs, _ = reference.train_epoch(as64(net), X, Y, order, 5, 0.01, optimizer, state,
                                      sample_weight=w)
    hist = net.fit(X, Y, epochs=1, batch_size=5, lr=0.01, shuffle=False,
                   optimizer=opt or "sgd", sample_weight=w)
    for mine, ref in zip(list(net.weights) + list(net.biases), ws + bs):
        assert rel_err(mine, ref) <= TOL[dtype] * (10 if dtype == "float32" else 1)
    assert np.isfinite(hist["loss"][0])


def test_unit_weights_change_nothing(threads):
    a = make_net([5, 8, 3], "sigmoid", "quadratic")
    b = a.copy()
    X, Y = make_data(a, 23)
    ha = a.fit(X, Y, epochs=2, batch_size=4, lr=0.5, seed=1, optimizer="adam")
    hb = b.fit(X, Y, epochs=2, batch_size=4, lr=0.5, seed=1, optimizer="adam",
               sample_weight=np.ones(23))
    assert np.array_equal(a.params, b.params)
    assert ha["loss"] == hb["loss"]


def test_weighted_history_and_evaluate():
    net = make_net([4, 6, 3], "sigmoid", "cross_entropy")
    X, Y = make_data(net, 12)
    w = weights_for(12)
    hist = net.fit(X, Y, epochs=1, batch_size=12, lr=1e-9, sample_weight=w,
                   validation_data=(X, Y, w))
    cost = net._per_sample(*net._data(X, Y))[0]
    expected = float(np.sum(w * cost) / w.sum())
    # lr ~ 0: the loss measured before the update is that of the weights now
    assert abs(hist["loss"][0] - expected) < 1e-8
    assert abs(hist["val_loss"][0] - expected) < 1e-8
    assert abs(net.evaluate(X, Y, sample_weight=w)["loss"] - expected) < 1e-8
    correct = net.predict(X) == Y.argmax(1)
    assert net.evaluate(X, Y, sample_weight=w)["accuracy"] == pytest.approx(
        np.sum(w * correct) / w.sum())


@pytest.mark.parametrize("w,exc,words", [
    (-np.ones(5), ValueError, "must not be negative"),
    (np.zeros(5), ValueError, "all zero"),
    (np.ones(4), ValueError, "shape (5,)"),
    (np.array([1, 1, np.nan, 1, 1]), ValueError, "NaN"),
    (np.ones((5, 1)), ValueError, "shape (5,)"),
    ("heavy", TypeError, "sample_weight"),
])
def test_bad_weights_are_refused_and_change_nothing(w, exc, words):
    net = make_net([4, 6, 3], "sigmoid", "cross_entropy")
    X, Y = make_data(net, 5)
    before = net.params.copy()
    for call in (lambda: net.fit(X, Y, epochs=1, sample_weight=w),
                 lambda: net.gradients(X, Y, sample_weight=w),
                 lambda: net.loss(X, Y, sample_weight=w)):
        with pytest.raises(exc) as info:
            call()
        assert words in str(info.value) and "sample_weight" in str(info.value)
    assert np.array_equal(net.params, before)
