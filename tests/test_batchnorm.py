"""Batch normalization of hidden layers: the compiled forward and backward
against fastbp.reference and finite differences, running estimates, both
dtypes, 1 and 2 threads, thread independence, save/load."""
import numpy as np
import pytest

import fastbp
from fastbp import reference

from conftest import COSTS, DTYPES, HIDDEN, make_data, rel_err, set_threads

TOL = {"float64": 1e-12, "float32": 2e-5}


def make_bn(sizes, activation, cost, dtype="float64", seed=0):
    net = fastbp.Network(sizes, activation=activation, cost=cost, dtype=dtype, seed=seed,
                         batch_norm=True)
    rng = np.random.default_rng(seed)
    # non-trivial γ, β and running estimates
    net.params[...] += rng.uniform(-0.2, 0.2, net.params.size).astype(dtype)
    net.running_mean[...] = rng.uniform(-0.5, 0.5, net.running_mean.size)
    net.running_var[...] = rng.uniform(0.5, 2.0, net.running_var.size)
    return net


def twin64(net):
    twin = fastbp.Network(net.sizes, net.activation, net.output_activation, net.cost,
                          batch_norm=True)
    twin.params[...] = net.params
    twin.running_mean[...] = net.running_mean
    twin.running_var[...] = net.running_var
    return twin


def test_layout_and_repr():
    net = fastbp.Network([4, 5, 6, 3], batch_norm=True)
    assert [g.shape for g in net.gammas] == [(5,), (6,)]
    assert all((g == 1).all() for g in net.gammas)
    assert net.params.size == 4 * 5 + 5 + 5 + 5 * 6 + 6 + 6 + 6 * 3 + 3
    assert "batch_norm=True" in repr(net)
    assert np.shares_memory(net.gammas[0], net.params)
    with pytest.raises(TypeError, match="batch_norm"):
        fastbp.Network([4, 3], batch_norm="yes")


@pytest.mark.parametrize("batch", [1, 7, 33])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_gradients_and_inference_match_reference(activation, cost, dtype, batch, threads):
    net = make_bn([5, 7, 6, 3], activation, cost, dtype)
    X, Y = make_data(net, batch)
    oracle = twin64(net)
    if batch > 1:  # one row has no batch statistics worth the name (σ² = 0)
        ref_loss, gw, gb, gg = reference.bn_gradients(oracle, X, Y)
        loss, mw, mb = net.gradients(X, Y)
        _, flat = net.flat_gradients(*net.checked_data(X, Y))
        assert rel_err(loss, ref_loss) <= TOL[dtype]
        # A bias in front of a batch norm has a gradient of exactly 0 (the mean
        # subtraction cancels it), computed as rounding noise on both sides:
        # every array is measured against at least 1e-3 of the largest one
        # (1e-2 in float32: its noise there reached 0.84 and 1.39 of TOL·1e-3
        # of the largest with the BLAS and with csrc/dot.c's products, whose
        # sums are the more exact ones, 2.6× at 784 inputs)
        floor = (1e-3 if dtype == "float64" else 1e-2) * max(np.linalg.norm(g)
                                                              for g in gw + gb + gg)
        for mine, ref in zip(mw + mb + net.gamma_views(flat), gw + gb + gg):
            scale = max(np.linalg.norm(mine), np.linalg.norm(ref), floor)
            assert np.linalg.norm(mine.astype(np.float64) - ref) <= TOL[dtype] * scale
        assert rel_err(net.loss(X, Y, training=True), ref_loss) <= TOL[dtype]
    # inference uses the running estimates
    assert rel_err(net.forward(X), reference.forward(oracle, X)) <= TOL[dtype]
    assert rel_err(net.loss(X, Y), reference.loss(oracle, X, Y)) <= max(TOL[dtype], 1e-6)


# identity hidden units make the bias before a batch norm cancel exactly: its
# gradient is rounding noise on both sides, which no relative check can take
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_finite_differences(activation, cost, threads):
    net = make_bn([4, 5, 6, 3], activation, cost, seed=1)
    X, Y = make_data(net, 9)
    assert fastbp.check_gradients(net, X, Y, eps=1e-5) < 1e-7


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_epoch_and_running_estimates_match_reference(dtype, threads):
    net = make_bn([5, 8, 6, 3], "relu", "cross_entropy", dtype, seed=2)
    X, Y = make_data(net, 50)
    p, running = reference.bn_sgd_epoch(twin64(net), X, Y, np.arange(50), 8, 0.1)
    net.fit(X, Y, epochs=1, batch_size=8, lr=0.1, shuffle=False)
    assert rel_err(net.params, p) <= TOL[dtype] * 10
    assert rel_err(net.running_mean, running[0]) <= TOL[dtype] * 10
    assert rel_err(net.running_var, running[1]) <= TOL[dtype] * 10


@pytest.mark.parametrize("dtype", DTYPES)
def test_identical_for_1_and_2_threads(dtype):
    out = []
    for n in (1, 2):
        set_threads(n)
        net = make_bn([9, 17, 7, 3], "tanh", "cross_entropy", dtype, seed=3)
        X, Y = make_data(net, 45)
        net.fit(X, Y, epochs=2, batch_size=8, optimizer="adam", lr=0.01, dropout=0.2, seed=4)
        out.append((net.params.copy(), net.running_mean.copy(), net.running_var.copy(),
                    net.forward(X)))
    set_threads(2)
    for a, b in zip(*out):
        assert np.array_equal(a, b)


def test_trains_wheat_seeds():
    from fastbp.datasets import load_wheat_seeds, standardize, train_test_split
    X, y = load_wheat_seeds()
    Xtr, Xte, ytr, yte = train_test_split(X, y, 0.25, seed=0)
    Xtr, Xte = standardize(Xtr, Xte)
    net = fastbp.Network([7, 16, 3], activation="relu", cost="cross_entropy", seed=0,
                         batch_norm=True)
    net.fit(Xtr, ytr, epochs=40, batch_size=16, optimizer="adam", lr=0.01, seed=0)
    assert net.evaluate(Xte, yte)["accuracy"] >= 0.9


def test_save_load_round_trip(tmp_path):
    net = make_bn([4, 5, 3], "relu", "cross_entropy", "float32")
    path = tmp_path / "bn.npz"
    net.save(path)
    back = fastbp.load(path)
    assert back.batch_norm
    assert np.array_equal(back.params, net.params)
    assert np.array_equal(back.running_mean, net.running_mean)
    assert np.array_equal(back.running_var, net.running_var)
    X, _ = make_data(net, 5)
    assert np.array_equal(back.forward(X), net.forward(X))


def test_derivative_tools_refuse_batch_norm():
    net = make_bn([4, 5, 3], "relu", "cross_entropy")
    X, Y = make_data(net, 5)
    with pytest.raises(NotImplementedError, match="batch-norm"):
        net.hvp(X, Y, np.zeros(net.params.size))
