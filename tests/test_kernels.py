"""The compiled forward pass, cost and backprop against fastbp.reference.

Every hidden activation x cost x dtype x 1-3 hidden layers x batch sizes
1, 7, 64 x 1 and 2 threads. float64 must agree to 1e-12 (norm-wise relative
error per array), float32 to 1e-5 against a float64 reference.
"""
import numpy as np
import pytest

import fastbp
from fastbp import _core
from fastbp import reference

from conftest import (COSTS, DTYPES, HIDDEN, LAYOUTS, TOL, as64, loss_close, make_data,
                      make_net, rel_err)


@pytest.mark.parametrize("batch", [1, 7, 64])
@pytest.mark.parametrize("hidden", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_matches_reference(activation, cost, dtype, hidden, batch, threads):
    if dtype == "float64":
        net = make_net(LAYOUTS[hidden], activation, cost, dtype)
    else:
        # N(0,1) weights saturate deep sigmoid nets, and 1 − a of a saturated
        # float32 activation keeps few digits: an ill-conditioned problem, not
        # a kernel error. Scaled init (and nonzero biases) as users train.
        net = make_net(LAYOUTS[hidden], activation, cost, dtype, init="auto")
        net.params[...] += np.float32(0.1)
    X, Y = make_data(net, batch)
    oracle = as64(net)
    tol = TOL[dtype]

    out = net.forward(X)
    assert out.dtype == net.dtype and out.shape == (batch, net.sizes[-1])
    assert rel_err(out, reference.forward(oracle, X)) <= tol

    ref_loss, ref_gw, ref_gb = reference.gradients(oracle, X, Y)
    assert loss_close(net.loss(X, Y), ref_loss, dtype)
    loss, gw, gb = net.gradients(X, Y)
    assert loss_close(loss, ref_loss, dtype)
    for mine, ref in zip(gw + gb, ref_gw + ref_gb):
        assert mine.dtype == net.dtype and mine.shape == ref.shape
        assert rel_err(mine, ref) <= tol


@pytest.mark.parametrize("cost,out_act", [("quadratic", "softmax"), ("quadratic", "identity"),
                                          ("quadratic", "sigmoid"), ("quadratic", "relu")])
@pytest.mark.parametrize("dtype", DTYPES)
def test_output_activation_differs_from_hidden(cost, out_act, dtype, threads):
    net = make_net([6, 9, 4], "tanh", cost, dtype, output_activation=out_act)
    X, Y = make_data(net, 11)
    oracle = as64(net)
    ref_loss, ref_gw, ref_gb = reference.gradients(oracle, X, Y)
    loss, gw, gb = net.gradients(X, Y)
    assert loss_close(loss, ref_loss, dtype)
    for mine, ref in zip(gw + gb, ref_gw + ref_gb):
        assert rel_err(mine, ref) <= TOL[dtype]


@pytest.mark.parametrize("cost", ["quadratic", "binary_cross_entropy"])
def test_single_output_unit(cost, threads):
    net = make_net([3, 4, 1], "sigmoid", cost)
    X, Y = make_data(net, 9)
    ref_loss, ref_gw, ref_gb = reference.gradients(net, X, Y)
    loss, gw, gb = net.gradients(X, Y)
    assert rel_err(loss, ref_loss) <= 1e-12
    for mine, ref in zip(gw + gb, ref_gw + ref_gb):
        assert rel_err(mine, ref) <= 1e-12


# Widths cut into one and several pieces of unequal size (pieces_for), wide
# products that cross the BLAS's blocking, and batches from 1 row up.
@pytest.mark.parametrize("sizes,batch", [([1025, 33, 2], 97), ([7, 1025, 3], 33),
                                         ([2100, 3, 2], 7), ([1, 1, 1], 1), ([3, 1025, 1025, 3], 5),
                                         ([9, 129, 259, 2], 45)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_products_at_piece_edges(sizes, batch, dtype, threads):
    net = fastbp.Network(sizes, activation="tanh", cost="cross_entropy" if sizes[-1] > 1 else "quadratic",
                         dtype=dtype, seed=3)
    net.params[...] += 0.01  # nonzero biases
    X, Y = make_data(net, batch)
    oracle = as64(net)
    ref_loss, ref_gw, ref_gb = reference.gradients(oracle, X, Y)
    assert rel_err(net.forward(X), reference.forward(oracle, X)) <= TOL[dtype]
    loss, gw, gb = net.gradients(X, Y)
    assert loss_close(loss, ref_loss, dtype)
    for mine, ref in zip(gw + gb, ref_gw + ref_gb):
        assert rel_err(mine, ref) <= TOL[dtype]


def _cpu_has_avx512f():
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:
        return False


def test_own_kernels_are_on_where_the_cpu_runs_them():
    """csrc/dot.c and csrc/outer.c on x86-64 with AVX-512F (GCC builds),
    the BLAS elsewhere; set_own_kernels(False) selects the BLAS."""
    import platform
    info = _core.build_info()
    if platform.machine() == "x86_64" and "gcc" in info["compiler"] and _cpu_has_avx512f():
        assert info["own_kernels"]
    previous = _core.set_own_kernels(False)
    try:
        assert not _core.build_info()["own_kernels"]
    finally:
        _core.set_own_kernels(previous)
    assert _core.build_info()["own_kernels"] == info["own_kernels"]


# Every tile shape and remainder of the dot-product kernels (MR = 4 rows, NR
# = 5 units, 16 floats or 8 doubles of k at a time; they take products of
# fewer than 32 rows or units), and the BLAS path.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 7, 8, 9, 16, 17, 40])
def test_forward_product_every_tile_and_remainder(k, dtype, own):
    rng = np.random.default_rng(k)
    for n_out in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11):
        net = fastbp.Network([k, n_out], activation="identity", dtype=dtype, seed=k)
        net.biases[0][...] = rng.standard_normal(n_out)
        X = rng.standard_normal((13, k)).astype(dtype)
        exact = X.astype(np.float64) @ net.weights[0].astype(np.float64).T + net.biases[0]
        out = net.forward(X)
        assert rel_err(out, exact) <= (1e-15 if dtype == "float64" else 3e-7), n_out
        if own and _core.build_info()["own_kernels"]:
            # a row's outputs are the same bits in any batch of under 32 rows
            for rows in (slice(0, 1), slice(5, 9), slice(4, 13)):
                assert np.array_equal(net.forward(X[rows]), out[rows])


# Every tile shape and remainder of the packed forward kernel (csrc/outer.c's
# fastbp_?outer_abt, from 32 rows and 32 units, 16 in float64): 6 rows of C
# a tile, its units in blocks of 64 floats or 32 doubles (4 vectors, the
# last masked), W packed by 16×16 (8×8) blocks, k's last block partial; and
# the BLAS path. Integer data: every sum is exact, so the check is equality.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 7, 8, 9, 16, 17, 40])
def test_packed_forward_product_every_tile_and_remainder(k, dtype, own):
    rng = np.random.default_rng(k)
    X = rng.integers(-3, 4, (41, k)).astype(dtype)
    for n_out in (16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 129):
        net = fastbp.Network([k, n_out], activation="identity", dtype=dtype, seed=k)
        net.weights[0][...] = rng.integers(-2, 3, (n_out, k))
        net.biases[0][...] = rng.integers(-2, 3, n_out)
        exact = X @ net.weights[0].T + net.biases[0]
        for rows in range(36, 42):  # every remainder of 6 rows
            assert np.array_equal(net.forward(X[:rows]), exact[:rows]), (n_out, rows)
        if own and _core.build_info()["own_kernels"]:
            # a row's outputs are the same bits in any batch of 32 rows or more
            inexact = rng.standard_normal((41, k)).astype(dtype)
            assert np.array_equal(net.forward(inexact[9:41]), net.forward(inexact)[9:41])


# The packed forward kernel's epilogue: a hidden layer's bias and relu,
# leaky relu or identity applied in registers (_core._fusable), in inference
# by pieces of rows (units <= rows) and of units (more units than rows), as
# bias_activate does them. An identity output layer passes the hidden
# activations on exactly (W = I, b = 0).
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "identity", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_packed_forward_product_fuses_bias_and_activation(activation, dtype, own):
    rng = np.random.default_rng(5)
    X = rng.integers(-3, 4, (41, 17)).astype(dtype)
    for hidden in (32, 33, 40, 64, 65, 100):
        net = fastbp.Network([17, hidden, hidden], activation=activation,
                             output_activation="identity", dtype=dtype)
        net.weights[0][...] = rng.integers(-2, 3, (hidden, 17))
        net.biases[0][...] = rng.integers(-2, 3, hidden)
        net.weights[1][...] = np.eye(hidden)
        net.biases[1][...] = 0
        z = X @ net.weights[0].T + net.biases[0]
        slope = np.asarray(0.01, dtype)
        expected = {"relu": np.where(z > 0, z, 0), "leaky_relu": np.where(z > 0, z, slope * z),
                    "identity": z, "tanh": np.tanh(z)}[activation]
        for rows in (36, 41):
            out = net.forward(X[:rows])
            if activation == "tanh":  # libm's, not NumPy's
                assert rel_err(out, expected[:rows]) <= TOL[dtype]
            else:
                assert np.array_equal(out, expected[:rows]), (hidden, rows)
        # with batch norm nothing is fused: σ comes after the normalization
        normed = fastbp.Network([17, hidden, 3], activation=activation, dtype=dtype,
                                batch_norm=True, seed=hidden)
        out = normed.forward(X)
        previous = _core.set_own_kernels(False)
        assert rel_err(out, normed.forward(X)) <= TOL[dtype]
        _core.set_own_kernels(previous)


# Every tile shape and remainder of the backward kernel (csrc/outer.c: 6
# rows of C, 4 vectors of 16 floats of its columns, the last masked; float32,
# sums of 32 terms or more): ∇W of 1-13 units (rows) by 1-100 inputs
# (columns) over 40 rows, δ of 40 rows by 1-13 units over 33 outputs; as
# gradients (C overwritten) and in plain SGD's epochs (W += −lr·∇W), and on
# the BLAS path.
@pytest.mark.parametrize("n_in", [1, 15, 16, 17, 63, 64, 65, 100])
def test_backward_products_every_tile_and_remainder(n_in, own):
    rng = np.random.default_rng(n_in)
    for hidden in (1, 2, 3, 4, 5, 6, 7, 12, 13):
        net = fastbp.Network([n_in, hidden, 33], activation="tanh",
                             output_activation="identity", dtype="float32", seed=hidden)
        X = rng.standard_normal((40, n_in)).astype(np.float32)
        Y = rng.standard_normal((40, 33)).astype(np.float32)
        _, ref_w, ref_b = reference.gradients(as64(net), X, Y)
        _, gw, gb = net.gradients(X, Y)
        for mine, ref in zip(gw + gb, ref_w + ref_b):
            assert rel_err(mine, ref) <= 1e-4, (hidden, mine.shape)  # (sums that cancel)
        # two batches: the first's step is fused into the product (the
        # last batch of an epoch is not: its gradient norms are kept)
        X2, Y2 = np.vstack([X, X[::-1]]), np.vstack([Y, Y[::-1]])
        twin = as64(net)
        ref_w, ref_b = reference.sgd_epoch(twin, X2, Y2, np.arange(80), 40, 0.1)
        net.fit(X2, Y2, epochs=1, batch_size=40, lr=0.1, shuffle=False)
        for mine, ref, start in zip(net.weights + net.biases, ref_w + ref_b,
                                    twin.weights + twin.biases):
            # the steps, which the rounding of W to float32 blurs least
            assert rel_err(mine - start, ref - start) <= 1e-4, hidden


def test_forward_in_blocks_matches_one_block():
    # forward/evaluate run large inputs in blocks of EVAL_BLOCK rows
    from fastbp.network import EVAL_BLOCK
    net = make_net([4, 6, 3], "relu", "cross_entropy")
    X, Y = make_data(net, 2 * EVAL_BLOCK + 17)
    out = net.forward(X)
    # a row's output is the same to rounding whatever batch it comes in (the
    # BLAS is called on pieces whose shape follows the batch: 5 rows take a
    # plain loop, a block of 1024 four BLAS calls), and bitwise the same for
    # any thread count (test_training)
    assert rel_err(out[:5], net.forward(X[:5])) <= 1e-15
    assert rel_err(out, reference.forward(net, X)) <= 1e-12
    assert rel_err(net.loss(X, Y), reference.loss(net, X, Y)) <= 1e-12


def test_stable_costs_do_not_overflow():
    # Huge pre-activations: a naive log(softmax) or log(sigmoid) gives inf/nan.
    for cost in ("cross_entropy", "binary_cross_entropy"):
        net = fastbp.Network([2, 3], activation="identity", cost=cost)
        net.weights[0][...] = [[800, 0], [-800, 0], [0, 1]]
        X = np.array([[1.0, 0.0], [-1.0, 0.0]])
        Y = np.array([[0, 1.0, 0], [1, 0, 0]]) if cost == "cross_entropy" else np.array([[0, 1.0, 0], [1, 0, 1]])
        loss = net.loss(X, Y)
        assert np.isfinite(loss)
        # the true values: sample 1 misses by 1600 (CE) / softplus terms (BCE)
        expected = reference.loss(net, X, Y)
        assert loss == pytest.approx(expected, rel=1e-12)
        assert loss > 700
        _, gw, gb = net.gradients(X, Y)
        assert all(np.isfinite(g).all() for g in gw + gb)


def test_hand_worked_network():
    # 1-1-1 sigmoid net, quadratic cost, worked by hand:
    # z1 = 0.5*1 + 0 = 0.5, a1 = σ(0.5) = 0.6224593312
    # z2 = 2*a1 - 1 = 0.2449186624, a2 = σ(z2) = 0.5609261
    # C = ½(a2 - 1)² ; δ2 = (a2 - 1)·a2(1 - a2) ; ∂C/∂w2 = δ2·a1
    net = fastbp.Network([1, 1, 1])
    net.weights[0][...] = 0.5
    net.weights[1][...] = 2.0
    net.biases[1][...] = -1.0
    s = lambda z: 1 / (1 + np.exp(-z))
    a1 = s(0.5)
    a2 = s(2 * a1 - 1)
    d2 = (a2 - 1) * a2 * (1 - a2)
    d1 = d2 * 2.0 * a1 * (1 - a1)
    loss, gw, gb = net.gradients([[1.0]], [[1.0]])
    assert loss == pytest.approx(0.5 * (a2 - 1) ** 2, rel=1e-15)
    assert gw[1][0, 0] == pytest.approx(d2 * a1, rel=1e-14)
    assert gb[1][0] == pytest.approx(d2, rel=1e-14)
    assert gw[0][0, 0] == pytest.approx(d1 * 1.0, rel=1e-14)
    assert gb[0][0] == pytest.approx(d1, rel=1e-14)


def test_pieces_depend_on_the_shape_only():
    # a power of two, each at least 48 wide, at most one per core (2 at the
    # least, at most 8): the thread count plays no part
    import os
    from fastbp._core import pieces_for
    cap = 2
    while cap * 2 <= min(os.cpu_count(), 8):
        cap *= 2
    assert [pieces_for(n) for n in (1, 48, 95, 96)] == [1, 1, 1, 2]
    assert pieces_for(10**6) == cap
    assert all(pieces_for(n) <= pieces_for(n + 1) for n in range(1, 2000))


@pytest.mark.parametrize("rows", [1, 3, 70])
def test_vectorized_exp_within_an_ulp_or_two(rows):
    """Rows of 16 units or more take csrc/activation.c's own e^x (sigmoid,
    softmax); its elements agree with libm's (via NumPy) to about an ulp,
    from z = −800 to 800 (below −708 it gives 0: e^z < 2^−1021)."""
    z = np.linspace(-800, 800, 41)
    X = np.linspace(0.25, 1, rows)[:, None]
    for out_act, cost in (("sigmoid", "quadratic"), ("softmax", "cross_entropy")):
        net = fastbp.Network([1, 41], output_activation=out_act, cost=cost, dtype="float64")
        net.weights[0][:, 0] = z if out_act == "sigmoid" else z / 40  # softmax: spread of 40
        net.biases[0][...] = np.linspace(-3, 3, 41)
        Z = X * net.weights[0][:, 0] + net.biases[0]
        if out_act == "sigmoid":
            e = np.exp(-np.abs(Z))
            want = np.where(Z >= 0, 1 / (1 + e), e / (1 + e))
        else:
            e = np.exp(Z - Z.max(axis=1, keepdims=True))
            want = e / e.sum(axis=1, keepdims=True)
        got = net.forward(X)
        assert np.allclose(got, want, rtol=1e-15, atol=1e-300)
