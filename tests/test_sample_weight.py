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
    cost = net.per_sample(*net.checked_data(X, Y))[0]
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


def test_skipped_batches_take_no_optimizer_step_across_epochs(threads):
    """A zero-weight batch neither updates nor counts as an Adam step, in
    every epoch: three epochs equal the reference's, steps carried over."""
    net = make_net([5, 8, 3], "tanh", "cross_entropy", init="auto")
    X, Y = make_data(net, 25)
    w = weights_for(25)
    w[5:10] = 0
    oracle, opt = as64(net), optim.Adam(lr=0.01)
    state, step = opt._initial_state(oracle.params), 1
    for epoch in range(3):
        ws, bs, _ = reference.train_epoch(oracle, X, Y, np.arange(25), 5, 0.01, opt, state,
                                          step=step, sample_weight=w)
        oracle.params[...] = np.concatenate([a.ravel() for pair in zip(ws, bs) for a in pair])
        step += 4                                      # 5 batches, one skipped
    mine = optim.Adam(lr=0.01)
    net.fit(X, Y, epochs=3, batch_size=5, shuffle=False, optimizer=mine, sample_weight=w)
    assert mine.steps == 12
    assert rel_err(net.params, oracle.params) <= 1e-12


def test_divergence_after_a_skipped_batch_keeps_the_updates_before_it():
    """Batches [no weight, A, B diverges, C]: fit stops with A's update kept."""
    net = fastbp.Network([1, 1], activation="identity", cost="quadratic", seed=0)
    net.params[...] = [0.5, 0.0]
    X = np.array([[1.0], [1.0], [1e200], [1.0]])
    Y = np.array([[-30.0], [-30.0], [0.0], [0.0]])
    w = np.array([0.0, 1.0, 1.0, 1.0])
    after_a = net.copy()
    after_a.fit(X[1:2], Y[1:2], epochs=1, batch_size=1, lr=1.0, shuffle=False)
    with pytest.warns(RuntimeWarning, match="batch 3.*after 2 batches"):
        net.fit(X, Y, epochs=1, batch_size=1, lr=1.0, shuffle=False, sample_weight=w,
                on_nonfinite="stop")
    assert np.array_equal(net.params, after_a.params)
    assert net.optimizer.steps == 1


def test_grad_norm_is_nan_when_the_last_batch_is_skipped():
    net = make_net([4, 6, 3], "sigmoid", "cross_entropy")
    X, Y = make_data(net, 12)
    w = np.ones(12)
    w[8:] = 0
    hist = net.fit(X, Y, epochs=2, batch_size=4, shuffle=False, sample_weight=w)
    assert all(np.isnan(g).all() for g in hist["grad_norm"])
    hist = net.fit(X, Y, epochs=2, batch_size=4, shuffle=False, sample_weight=w[::-1].copy())
    assert all(np.isfinite(g).all() for g in hist["grad_norm"])


@pytest.mark.parametrize("scale", [1e300, 1e-320])
def test_extreme_weights_are_their_ratios(scale):
    """Weights are divided by their largest: 1e300 or subnormal weights give
    the weighted mean of their ratios, with no overflow."""
    net = make_net([4, 6, 3], "sigmoid", "cross_entropy")
    X, Y = make_data(net, 6)
    w = np.array([1, 2, 0, 1, 3, 1.0])
    expected = net.gradients(X, Y, sample_weight=w)
    got = net.gradients(X, Y, sample_weight=w * scale)
    assert rel_err(got[0], expected[0]) <= 1e-14
    for a, b in zip(got[1] + got[2], expected[1] + expected[2]):
        assert rel_err(a, b) <= 1e-14
    net.fit(X, Y, epochs=2, batch_size=3, sample_weight=w * scale)
    assert np.isfinite(net.params).all()
