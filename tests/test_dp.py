"""Per-sample gradient norms, DP-SGD (clip_per_sample, noise) and the
Gauss-Newton-vector product.

Norms against the explicit per-sample gradients; DP-SGD epochs against
fastbp.reference, which forms each sample's gradient by backprop on that
sample alone and draws the same counter-based noise; G·v against J·H·Jᵀ
assembled from finite-difference Jacobians, and against the exact Hessian
where the two must coincide.
"""
import numpy as np
import pytest

import fastbp
from fastbp import reference

from conftest import COSTS, DTYPES, HIDDEN, TOL, as64, make_data, make_net, rel_err, seeds_of_fit


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_grad_norms_equal_norms_of_explicit_gradients(activation, cost, dtype):
    net = make_net([5, 7, 4, 3], activation, cost, dtype, init="auto")
    X, Y = make_data(net, 9)
    explicit = np.linalg.norm(as64(net).per_sample_gradients(X, Y), axis=1)
    norms = net.per_sample_grad_norms(X, Y)
    assert norms.shape == (9,) and norms.dtype == np.float64
    assert rel_err(norms, explicit) <= (1e-13 if dtype == "float64" else 1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clip,noise,dropout", [(0.5, 0.0, 0.0), (0.5, 1.1, 0.0),
                                                (50.0, 0.0, 0.0), (0.3, 0.7, 0.3)])
def test_dp_sgd_matches_reference(clip, noise, dropout, dtype, threads):
    net = make_net([5, 7, 3], "tanh", "cross_entropy", dtype, init="auto", seed=1)
    X, Y = make_data(net, 23)
    drop_seed, noise_seed = seeds_of_fit(5)
    ws, bs, _ = reference.train_epoch(as64(net), X, Y, np.arange(23), 5, 0.1, clip=clip,
                                      noise=noise, noise_seed=noise_seed, seed=drop_seed,
                                      dropout=[dropout, 0.0] if dropout else None)
    net.fit(X, Y, epochs=1, batch_size=5, lr=0.1, shuffle=False, seed=5,
            clip_per_sample=clip, noise=noise, dropout=dropout)
    for mine, ref in zip(list(net.weights) + list(net.biases), ws + bs):
        assert rel_err(mine, ref) <= TOL[dtype]


def test_clipping_bounds_each_samples_step():
    """One sample per batch, no noise: every update has norm <= lr·C."""
    net = make_net([5, 7, 3], "sigmoid", "quadratic", seed=2)
    X, Y = make_data(net, 12)
    assert net.per_sample_grad_norms(X, Y).min() > 0.05   # all of them get clipped
    for i in range(12):
        before = net.params.copy()
        net.fit(X[i:i + 1], Y[i:i + 1], epochs=1, batch_size=1, lr=0.5, clip_per_sample=0.05)
        assert np.linalg.norm(net.params - before) == pytest.approx(0.5 * 0.05, rel=1e-12)


def test_dp_noise_is_reproducible_and_keyed_by_seed(threads):
    a = make_net([5, 7, 3], "relu", "cross_entropy", init="auto", seed=3)
    b, c = a.copy(), a.copy()
    X, Y = make_data(a, 40)
    kw = dict(epochs=2, batch_size=8, lr=0.05, clip_per_sample=1.0, noise=1.0)
    a.fit(X, Y, seed=7, **kw)
    b.fit(X, Y, seed=7, **kw)
    c.fit(X, Y, seed=8, **kw)
    assert np.array_equal(a.params, b.params)
    assert rel_err(a.params, c.params) > 1e-3


def test_dp_normal_is_standard_normal():
    z = reference.dp_normal(123, 4, 200_000)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(z ** 4) - 3) < 0.05          # Gaussian kurtosis


@pytest.mark.parametrize("kw,exc,words", [
    (dict(noise=1.0), ValueError, "noise needs clip_per_sample"),
    (dict(clip_per_sample=-1.0), ValueError, "clip_per_sample"),
    (dict(clip_per_sample="1"), TypeError, "clip_per_sample"),
    (dict(clip_per_sample=1.0, noise=-1.0), ValueError, "noise"),
    (dict(clip_per_sample=1.0, sample_weight=np.ones(10)), ValueError, "sample_weight"),
    (dict(clip_per_sample=1.0, optimizer="lbfgs"), ValueError, "clip_per_sample"),
])
def test_bad_dp_arguments(kw, exc, words):
    net = make_net([5, 7, 3], "sigmoid", "cross_entropy")
    X, Y = make_data(net, 10)
    before = net.params.copy()
    with pytest.raises(exc, match=words):
        net.fit(X, Y, epochs=1, **kw)
    assert np.array_equal(before, net.params)


def test_dp_refuses_batch_norm():
    net = fastbp.Network([5, 7, 3], batch_norm=True)
    X, Y = make_data(net, 10)
    with pytest.raises(ValueError, match="batch_norm"):
        net.fit(X, Y, epochs=1, clip_per_sample=1.0)


# ------------------------------------------------------- Gauss-Newton


def explicit_gauss_newton(net, X, Y):
    """(1/n) Σ_i J_iᵀ H_i J_i from central-difference Jacobians of the outputs
    (Z_L for the cross-entropies, A_L for the quadratic cost)."""
    n, k = X.shape[0], net.sizes[-1]
    at_z = net.cost != "quadratic"

    def outputs(p):
        twin = net.copy()
        twin.params[...] = p
        A, Z = reference.feedforward(twin, X)
        return Z if at_z else A[-1]

    p0, eps = net.params.copy(), 1e-6
    J = np.empty((n, k, p0.size))
    for j in range(p0.size):
        step = np.zeros_like(p0)
        step[j] = eps
        J[:, :, j] = (outputs(p0 + step) - outputs(p0 - step)) / (2 * eps)
    A, _ = reference.feedforward(net, X)
    a = A[-1]
    G = np.zeros((p0.size, p0.size))
    for i in range(n):
        if net.cost == "cross_entropy":
            H = np.diag(a[i]) - np.outer(a[i], a[i])
        elif net.cost == "binary_cross_entropy":
            H = np.diag(a[i] * (1 - a[i]))
        else:
            H = np.eye(k)
        G += J[i].T @ H @ J[i]
    return G / n


@pytest.mark.parametrize("cost,out_act", [("cross_entropy", None),
                                          ("binary_cross_entropy", None),
                                          ("quadratic", "sigmoid"), ("quadratic", "softmax"),
                                          ("quadratic", "identity")])
def test_gnvp_matches_explicit_gauss_newton(cost, out_act):
    net = make_net([3, 4, 3], "tanh", cost, output_activation=out_act, init="auto", seed=4)
    X, Y = make_data(net, 5)
    G = explicit_gauss_newton(net, X, Y)
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = rng.standard_normal(net.params.size)
        gv = net.gnvp(X, Y, v)
        assert rel_err(gv, G @ v) < 1e-7
        assert v @ gv >= -1e-12          # positive semi-definite


@pytest.mark.parametrize("cost,out_act", [("cross_entropy", None),
                                          ("binary_cross_entropy", None),
                                          ("quadratic", "identity")])
def test_gnvp_equals_hvp_when_outputs_are_linear_in_params(cost, out_act):
    """One layer: Z is linear in (W, b), so the Hessian has no residual term."""
    net = make_net([4, 3], "sigmoid", cost, output_activation=out_act, init="auto", seed=5)
    X, Y = make_data(net, 7)
    v = np.random.default_rng(1).standard_normal(net.params.size)
    assert rel_err(net.gnvp(X, Y, v), net.hvp(X, Y, v)) < 1e-13


def test_gnvp_differs_from_hvp_with_hidden_layers():
    net = make_net([3, 5, 2], "tanh", "quadratic", init="auto", seed=6)
    X, Y = make_data(net, 6)
    v = np.random.default_rng(2).standard_normal(net.params.size)
    assert rel_err(net.gnvp(X, Y, v), net.hvp(X, Y, v)) > 1e-3
