"""Per-layer hidden activations: Network(sizes, activation=["relu", "tanh"]).

The core already takes an activation code per layer; these tests check that
a list reaches it in order (against fastbp.reference and finite
differences), and that repr, save/load, copy and the CLI keep the list.
"""
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp import reference

from conftest import COSTS, DTYPES, TOL, as64, loss_close, make_data, rel_err

MIXES = [["relu", "tanh"], ["tanh", "sigmoid"], ["identity", "leaky_relu"],
         ["sigmoid", "relu", "identity"]]


def mixed_net(activation, cost, dtype="float64", seed=0):
    sizes = [5, 9, 7, 4, 3][:len(activation) + 1] + [3]
    net = fastbp.Network(sizes, activation=activation, cost=cost, dtype=dtype, seed=seed)
    net.params[...] += net.dtype.type(0.05)  # nonzero biases
    return net


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", MIXES, ids="-".join)
def test_mixed_activations_match_reference(activation, cost, dtype, batch, threads):
    net = mixed_net(activation, cost, dtype)
    X, Y = make_data(net, batch)
    oracle = as64(net)
    assert oracle.activation == activation
    tol = TOL[dtype]
    assert rel_err(net.forward(X), reference.forward(oracle, X)) <= tol
    ref_loss, ref_gw, ref_gb = reference.gradients(oracle, X, Y)
    loss, gw, gb = net.gradients(X, Y)
    assert loss_close(loss, ref_loss, dtype)
    for mine, ref in zip(gw + gb, ref_gw + ref_gb):
        assert rel_err(mine, ref) <= tol


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", MIXES, ids="-".join)
def test_mixed_activations_match_finite_differences(activation, cost):
    net = mixed_net(activation, cost)
    X, Y = make_data(net, 5)
    assert fastbp.check_gradients(net, X, Y, eps=1e-5) < 1e-7


def test_the_order_of_the_list_matters():
    """A list applied in the wrong order would still pass a symmetric test."""
    a = mixed_net(["relu", "tanh"], "quadratic")
    b = fastbp.Network(a.sizes, activation=["tanh", "relu"], cost="quadratic")
    b.params[...] = a.params
    X, _ = make_data(a, 4)
    assert rel_err(a.forward(X), b.forward(X)) > 1e-3


def test_fit_matches_reference_epoch(threads):
    net = mixed_net(["relu", "tanh"], "cross_entropy")
    X, Y = make_data(net, 23)
    ws, bs, _ = reference.train_epoch(net, X, Y, np.arange(23), 5, 0.1)
    net.fit(X, Y, epochs=1, batch_size=5, lr=0.1, shuffle=False)
    for mine, ref in zip(list(net.weights) + list(net.biases), ws + bs):
        assert rel_err(mine, ref) <= 1e-12


def test_structure_is_kept(tmp_path):
    net = mixed_net(["relu", "tanh", "identity"], "quadratic")
    assert "activation=['relu', 'tanh', 'identity']" in repr(net)
    assert net.output_activation == "identity"   # default: the last hidden layer's
    net.save(tmp_path / "m.npz")
    back = fastbp.load(tmp_path / "m.npz")
    assert back.activation == ["relu", "tanh", "identity"]
    assert np.array_equal(back.params, net.params)
    assert net.copy().activation == net.activation
    net.activation.append("sigmoid")             # a copy: the structure is fixed
    assert len(net.activation) == 3


@pytest.mark.parametrize("activation,exc,words", [
    (["relu"], ValueError, "one name per hidden layer (2)"),
    (["relu", "softmax"], ValueError, "activation[1]"),
    (["relu", 3], TypeError, "activation[1]"),
    ({"relu"}, TypeError, "activation must be"),
])
def test_bad_lists_are_refused(activation, exc, words):
    with pytest.raises(exc, match=None) as info:
        fastbp.Network([3, 4, 4, 2], activation=activation)
    assert words in str(info.value)


def test_cli_takes_one_activation_per_hidden_layer(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    data = np.column_stack([X, (X[:, 0] > 0).astype(int)])
    np.savetxt(tmp_path / "d.csv", data, delimiter=",", fmt="%.6f")
    out = tmp_path / "m.npz"
    run = subprocess.run([sys.executable, "-m", "fastbp", "train", str(tmp_path / "d.csv"),
                          "--layers", "6,5,2", "--activation", "relu,tanh", "--epochs", "2",
                          "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert fastbp.load(out).activation == ["relu", "tanh"]
    bad = subprocess.run([sys.executable, "-m", "fastbp", "train", str(tmp_path / "d.csv"),
                          "--activation", "relu,soft"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "'soft' is not one of" in bad.stderr
