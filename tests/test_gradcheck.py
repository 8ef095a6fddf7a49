"""Backprop against central finite differences (Nielsen ch. 2), float64:
relative error < 1e-7 for every activation x cost x 1-3 hidden layers x
batch 1 and 7 x 1 and 2 threads; and check_gradients itself can fail."""
import numpy as np
import pytest

import fastbp
from fastbp.network import Network

from conftest import COSTS, HIDDEN, make_data, make_net

SMALL = {1: [4, 5, 3], 2: [4, 5, 3, 3], 3: [3, 4, 1, 3, 2]}
# Central differences in float64 err by ~eps² (truncation) plus ~1e-16·C/eps
# (rounding of C). Deep sigmoid nets have first-layer gradients near 1e-4, where
# the rounding term at eps=1e-6 alone is ~1e-7 relative; eps=1e-5, near the
# optimal (ε_mach)^(1/3), keeps the check at the 1e-9 level.
EPS = 1e-5


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("hidden", [1, 2, 3])
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_backprop_matches_finite_differences(activation, cost, hidden, batch, threads):
    net = make_net(SMALL[hidden], activation, cost, seed=hidden, init="auto")
    net.params[...] += 0.1  # nonzero biases: their gradients are checked too
    X, Y = make_data(net, batch, seed=batch)
    before = net.params.copy()
    err = fastbp.check_gradients(net, X, Y, eps=EPS)
    assert err < 1e-7
    assert np.array_equal(net.params, before)


@pytest.mark.parametrize("out_act", ["softmax", "identity", "tanh"])
def test_quadratic_with_other_outputs(out_act):
    net = make_net([4, 6, 3], "sigmoid", "quadratic", output_activation=out_act)
    X, Y = make_data(net, 5)
    assert fastbp.check_gradients(net, X, Y) < 1e-7


def test_float32_network_is_checked_in_float64():
    net = make_net([4, 5, 3], "tanh", "cross_entropy", dtype="float32")
    X, Y = make_data(net, 7)
    assert fastbp.check_gradients(net, X, Y) < 1e-7


def test_check_gradients_detects_a_wrong_gradient(monkeypatch):
    # A test that cannot fail is a defect: a 1% error in backprop must show.
    net = make_net([4, 5, 3], "sigmoid", "quadratic")
    X, Y = make_data(net, 7)
    real = Network.flat_gradients

    def off_by_one_percent(self, X, Y):
        loss, grads = real(self, X, Y)
        return loss, grads * 1.01

    monkeypatch.setattr(Network, "flat_gradients", off_by_one_percent)
    err = fastbp.check_gradients(net, X, Y)
    assert err == pytest.approx(0.01 / 1.01, rel=1e-3)
