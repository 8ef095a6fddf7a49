"""Full-batch classics: iRprop+, iRprop−, Quickprop (compiled) and L-BFGS
(SciPy over the compiled loss and gradient).

The compiled rules are checked step by step against fastbp.reference driven
by hand (so iRprop+'s backtracking is seen to happen), L-BFGS's objective
against finite differences, and all of them on wheat seeds against the
accuracy plain SGD reaches.
"""
import numpy as np
import pytest

import fastbp
from fastbp import optim, reference
from fastbp.datasets import load_wheat_seeds, standardize
from fastbp import trainer

from conftest import DTYPES, as64, make_data, make_net, rel_err


def reference_full_batch(net, X, Y, epochs, opt, l2=0.0):
    """Full-batch epochs of opt on a float64 twin, with the cost of each
    step and whether iRprop+ backtracked. Returns (params, backtracks)."""
    oracle = as64(net)
    state = opt._initial_state(oracle.params)
    prev_loss, backtracks = np.inf, 0
    for t in range(1, epochs + 1):
        loss, gw, gb = reference.gradients(oracle, X, Y)
        # iRprop+ compares the objective: the cost plus the L2 penalty
        loss += l2 / 2 * sum(np.sum(W ** 2) for W in oracle.weights)
        for l, W in enumerate(oracle.weights):
            gw[l] = gw[l] + l2 * W
        g = np.concatenate([a.ravel() for pair in zip(gw, gb) for a in pair])
        worse = loss > prev_loss
        backtracks += worse and bool(np.any(g * state[0] < 0))
        p = oracle.params.copy()
        reference.optimizer_step(opt, p, g, state, t, opt.lr, worse=worse, n_samples=len(X))
        oracle.params[...] = p
        prev_loss = loss
    return oracle.params, backtracks


CLASSICS = {
    "irprop+": lambda: optim.IRpropPlus(lr=0.2, etas=(0.3, 2.0)),
    "irprop-": lambda: optim.IRpropMinus(lr=0.05),
    "quickprop": lambda: optim.Quickprop(lr=0.5),
    "quickprop-decay": lambda: optim.Quickprop(lr=0.3, mu=1.5, decay=-0.01),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(CLASSICS))
def test_classic_rules_match_reference(name, dtype, threads):
    net = make_net([5, 7, 3], "tanh", "cross_entropy", dtype, init="auto", seed=1)
    X, Y = make_data(net, 37)
    # 12 steps: Quickprop's quadratic step divides by a difference of
    # slopes, so rounding differences grow (1e-16 -> 1e-10 over 25 steps)
    expected, backtracks = reference_full_batch(net, X, Y, 12, CLASSICS[name](), l2=0.01)
    if name == "irprop+":
        assert backtracks > 0  # the test covers the weight backtracking
    net.fit(X, Y, epochs=12, optimizer=CLASSICS[name](), l2=0.01)
    assert rel_err(net.params, expected) <= (1e-12 if dtype == "float64" else 1e-4)


def test_irprop_minus_is_torchs_rprop():
    a = make_net([5, 7, 3], "sigmoid", "quadratic", seed=2)
    b = a.copy()
    X, Y = make_data(a, 20)
    a.fit(X, Y, epochs=10, optimizer=optim.Rprop(lr=0.02))
    b.fit(X, Y, epochs=10, optimizer="irprop-", lr=0.02)
    assert np.array_equal(a.params, b.params)


def test_irprop_plus_backtracking_resumes_across_fits():
    """Split fits continue the loss memory: 10 + 15 epochs equal 25."""
    a = make_net([5, 7, 3], "tanh", "cross_entropy", init="auto", seed=1)
    b = a.copy()
    X, Y = make_data(a, 37)
    a.fit(X, Y, epochs=25, optimizer=CLASSICS["irprop+"](), shuffle=False)
    opt = CLASSICS["irprop+"]()
    b.fit(X, Y, epochs=10, optimizer=opt, shuffle=False)
    b.fit(X, Y, epochs=15, optimizer=opt, shuffle=False)
    assert np.array_equal(a.params, b.params)


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy", "binary_cross_entropy"])
def test_lbfgs_objective_is_loss_and_gradient(cost):
    net = make_net([4, 6, 3], "tanh", cost, init="auto", seed=3)
    X, Y = make_data(net, 9)
    w = np.random.default_rng(0).uniform(0.5, 2, 9)
    f = trainer.objective(net, X, Y, w, l2=0.3)
    p0 = net.params.copy()
    value, grad = f(p0)
    ws = net.unflatten(p0)[0]
    assert value == pytest.approx(net.loss(X, Y, sample_weight=w)
                                  + 0.15 * sum(np.sum(W ** 2) for W in ws), rel=1e-13)
    eps, numeric = 1e-6, np.empty_like(p0)
    for i in range(p0.size):
        step = np.zeros_like(p0)
        step[i] = eps
        numeric[i] = (f(p0 + step)[0] - f(p0 - step)[0]) / (2 * eps)
    assert rel_err(grad, numeric) < 1e-7


def test_lbfgs_blocks_equal_one_block(monkeypatch):
    net = make_net([4, 6, 3], "sigmoid", "cross_entropy", init="auto", seed=3)
    X, Y = make_data(net, 50)
    whole = trainer.objective(net, X, Y, None, 0.0)(net.params.copy())
    monkeypatch.setattr(trainer, "LBFGS_BLOCK", 7)
    blocks = trainer.objective(net, X, Y, None, 0.0)(net.params.copy())
    assert whole[0] == pytest.approx(blocks[0], rel=1e-13)
    assert rel_err(whole[1], blocks[1]) < 1e-13


def test_lbfgs_fit_history_result_and_save(tmp_path):
    net = make_net([4, 6, 3], "tanh", "cross_entropy", init="auto", seed=3)
    X, Y = make_data(net, 30)
    opt = optim.LBFGS(tol=1e-8, max_fun=500)
    hist = net.fit(X, Y, epochs=40, optimizer=opt, l2=1e-3, validation_data=(X, Y))
    assert opt.result.nit == len(hist) <= 40 and opt.steps == opt.result.nit
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["val_loss"][-1] == pytest.approx(net.loss(X, Y), rel=1e-12)
    net.save(tmp_path / "m.npz", include_optimizer=True)
    back = fastbp.load(tmp_path / "m.npz")
    assert isinstance(back.optimizer, optim.LBFGS) and back.optimizer.max_fun == 500
    assert np.array_equal(back.params, net.params)


@pytest.mark.parametrize("kw,words", [
    (dict(l1=0.1), "l1"), (dict(dropout=0.5), "dropout"), (dict(max_norm=2.0), "max_norm"),
    (dict(lr_schedule="step"), "lr_schedule"),
])
def test_lbfgs_refuses_what_it_cannot_do(kw, words):
    net = make_net([4, 6, 3], "tanh", "cross_entropy")
    X, Y = make_data(net, 10)
    before = net.params.copy()
    with pytest.raises(ValueError, match=words):
        net.fit(X, Y, epochs=3, optimizer="lbfgs", **kw)
    assert np.array_equal(before, net.params)


@pytest.mark.parametrize("name", ["irprop+", "quickprop"])
def test_classic_states_save_and_resume(name, tmp_path):
    a = make_net([5, 7, 3], "tanh", "cross_entropy", init="auto", seed=1)
    X, Y = make_data(a, 37)
    b = a.copy()
    # shuffle=False: the order of the rows in the full batch changes the
    # rounding of its sums, which Quickprop's quadratic step amplifies
    a.fit(X, Y, epochs=12, optimizer=CLASSICS[name](), shuffle=False)
    b.fit(X, Y, epochs=5, optimizer=CLASSICS[name](), shuffle=False)
    b.save(tmp_path / "m.npz", include_optimizer=True)
    c = fastbp.load(tmp_path / "m.npz")
    if name == "irprop+":  # the last cost, for backtracking, is in the file too
        assert c.optimizer._loss_memory[0] == b.optimizer._loss_memory[0] < np.inf
    c.fit(X, Y, epochs=7, optimizer=c.optimizer, shuffle=False)
    assert np.array_equal(a.params, c.params)


def test_full_batch_optimizers_reach_sgds_accuracy_on_wheat():
    """5-fold cross-validated accuracy on wheat seeds (210 samples, 7-10-3):
    seen 96.2% for SGD, 95.2% L-BFGS, 93.8-96.2% Quickprop (its result
    depends on the rounding of the full-batch sums), 93.8% iRprop±."""
    X, y = load_wheat_seeds()
    folds = np.array_split(np.random.default_rng(0).permutation(len(X)), 5)
    runs = {"sgd": lambda: dict(optimizer="sgd", lr=0.5, epochs=100, batch_size=10, seed=0),
            "lbfgs": lambda: dict(optimizer=optim.LBFGS(), epochs=100),
            "quickprop": lambda: dict(optimizer=optim.Quickprop(), epochs=200),
            "irprop+": lambda: dict(optimizer=optim.IRpropPlus(lr=0.01), epochs=100, l2=1e-3),
            "irprop-": lambda: dict(optimizer=optim.IRpropMinus(lr=0.01), epochs=100, l2=1e-3)}
    accuracy = {}
    for name, settings in runs.items():
        scores = []
        for k, test in enumerate(folds):
            train = np.concatenate(folds[:k] + folds[k + 1:])
            X_train, X_test = standardize(X[train], X[test])
            net = fastbp.Network([7, 10, 3], activation="sigmoid", cost="cross_entropy", seed=0)
            net.fit(X_train, y[train], **settings())
            scores.append(net.evaluate(X_test, y[test])["accuracy"])
        accuracy[name] = float(np.mean(scores))
    print(accuracy)
    assert accuracy["sgd"] > 0.93
    for name in runs:
        assert accuracy[name] >= accuracy["sgd"] - 0.03, accuracy


def test_refused_lbfgs_leaves_the_network_as_it_was():
    net = make_net([4, 6, 3], "tanh", "cross_entropy")
    X, Y = make_data(net, 10)
    net.fit(X, Y, epochs=1, l2=0.5)
    before = (net.optimizer, net._penalty, net.loss(X, Y, regularized=True))
    with pytest.raises(ValueError, match="l1"):
        net.fit(X, Y, epochs=3, optimizer="lbfgs", l1=0.1)
    assert (net.optimizer, net._penalty, net.loss(X, Y, regularized=True)) == before


def test_lbfgs_interrupted_mid_line_search_keeps_an_accepted_iterate(monkeypatch):
    net = make_net([4, 6, 3], "tanh", "cross_entropy", init="auto")
    X, Y = make_data(net, 30)
    iterates = [net.params.copy()]
    calls = [0]
    real = type(net).flat_gradients

    def flaky(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 12:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(net), "flat_gradients", flaky)
    with pytest.raises(KeyboardInterrupt) as info:
        net.fit(X, Y, epochs=50, optimizer="lbfgs",
                callbacks=[lambda epoch, logs: iterates.append(net.params.copy())])
    assert any(np.array_equal(net.params, p) for p in iterates)
    assert len(info.value.history) == len(iterates) - 1


def test_apply_gradients_is_fits_update_for_full_batch_rules():
    for make in (CLASSICS["quickprop-decay"], CLASSICS["irprop-"]):
        a = make_net([5, 7, 3], "tanh", "cross_entropy", init="auto", seed=1)
        b = a.copy()
        X, Y = make_data(a, 37)
        opt_a, opt_b = make(), make()
        for _ in range(3):
            a.fit(X, Y, epochs=1, optimizer=opt_a, shuffle=False)
            _, gw, gb = b.gradients(X, Y)
            b.apply_gradients([gw, gb], optimizer=opt_b, n_samples=len(X))
        assert rel_err(a.params, b.params) <= 1e-13
    with pytest.raises(TypeError, match="optimizer"):
        a.apply_gradients(a.params * 0, optimizer=optim.LBFGS())
