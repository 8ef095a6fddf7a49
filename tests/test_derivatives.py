"""fastbp.derivatives against central differences, for every activation x
cost x dtype.

The finite differences always run on a float64 twin of the network (as64):
a float64 result must match them to 1e-7 (1e-6 for hvp, whose differences
are of the compiled gradient); a float32 result, computed in float32, to
1e-5 (the errors seen are ~2e-7: float32 rounding through a few layers).
"""
import numpy as np
import pytest

import fastbp
from fastbp.derivatives import hvp, input_gradients, jacobian, per_sample_gradients

from conftest import COSTS, DTYPES, HIDDEN, as64, make_data, make_net, rel_err

TOL = {"float64": 1e-7, "float32": 1e-5}
# ε near ε_mach^(1/3): truncation (~ε²) and rounding (~1e-16/ε) both ~1e-10
EPS = 1e-5


def _net(activation, cost, dtype, sizes=(4, 5, 3, 3), **kw):
    # scaled init plus nonzero biases: no saturated float32 units (see test_kernels)
    net = make_net(list(sizes), activation, cost, dtype, init="auto", seed=3, **kw)
    net.params[...] += net.dtype.type(0.1)
    return net


def _computed(f, activation, cost, dtype, shape):
    """net, X, Y (3 samples) and f(net, X, Y), checked to be in the net's
    dtype and of `shape` (None: not checked here)."""
    net = _net(activation, cost, dtype)
    X, Y = make_data(net, 3)
    result = f(net, X, Y)
    assert result.dtype == net.dtype and shape in (None, result.shape)
    return net, X, Y, result


def _central(f, x):
    """∂f/∂x by central differences: shape f(x).shape + x.shape."""
    x = np.array(x, dtype=np.float64)
    cols = []
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += EPS
        down[i] -= EPS
        cols.append((np.asarray(f(up)) - np.asarray(f(down))) / (2 * EPS))
    return np.moveaxis(np.array(cols), 0, -1).reshape(np.shape(f(x)) + x.shape)


def _flat_grad(net, X, Y):
    return net.flat_gradients(*net.checked_data(X, Y))[1]


both = pytest.mark.parametrize("dtype", DTYPES)
every = pytest.mark.parametrize("activation,cost", [(a, c) for a in HIDDEN for c in COSTS])


@both
@every
def test_input_gradients(activation, cost, dtype):
    net, X, Y, g = _computed(input_gradients, activation, cost, dtype, (3, 4))
    oracle = as64(net)
    assert rel_err(g, _central(lambda x: oracle.loss(x, Y), X)) < TOL[dtype]


@both
@every
def test_jacobian(activation, cost, dtype):
    net = _net(activation, cost, dtype)
    X, _ = make_data(net, 3)
    J = jacobian(net, X)
    assert J.shape == (3, net.sizes[-1], net.sizes[0]) and J.dtype == net.dtype
    full = _central(as64(net).forward, X)                 # (n, out, n, in)
    n = X.shape[0]
    assert rel_err(J, full[np.arange(n), :, np.arange(n)]) < TOL[dtype]
    # samples are independent: no output depends on another sample's input
    off = full.copy()
    off[np.arange(n), :, np.arange(n)] = 0
    assert np.abs(off).max() == 0


@both
@every
def test_per_sample_gradients(activation, cost, dtype):
    net, X, Y, G = _computed(per_sample_gradients, activation, cost, dtype, None)
    assert G.shape == (3, net.params.size)
    oracle = as64(net)
    for i in range(3):
        assert rel_err(G[i], _flat_grad(oracle, X[i:i + 1], Y[i:i + 1])) < TOL[dtype]
    # their mean is the network's own gradient of the mean cost, in its dtype
    assert rel_err(G.mean(axis=0), _flat_grad(net, X, Y)) < TOL[dtype]


def _hvp_by_differences(net, X, Y, v):
    """(∇C(p + εv) − ∇C(p − εv)) / 2ε of the compiled gradient, on a float64 twin."""
    twin = as64(net)
    p = twin.params.copy()
    twin.params = p + EPS * v
    up = _flat_grad(twin, X, Y)
    twin.params = p - EPS * v
    down = _flat_grad(twin, X, Y)
    return (up - down) / (2 * EPS)


@both
@every
def test_hvp(activation, cost, dtype):
    net = _net(activation, cost, dtype)
    X, Y = make_data(net, 3)
    rng = np.random.default_rng(0)
    v, w = rng.standard_normal((2, net.params.size))
    before = net.params.copy()
    Hv, Hw = hvp(net, X, Y, v), hvp(net, X, Y, w)
    assert Hv.shape == net.params.shape and Hv.dtype == net.dtype
    assert np.array_equal(net.params, before)
    tol = {"float64": 1e-6, "float32": 1e-5}[dtype]
    assert rel_err(Hv, _hvp_by_differences(net, X, Y, v)) < tol
    # the Hessian is symmetric: vᵀHw = wᵀHv
    sym_tol = {"float64": 1e-12, "float32": 1e-5}[dtype]
    assert rel_err(v @ Hw.astype(np.float64), w @ Hv.astype(np.float64)) < sym_tol


@pytest.mark.parametrize("out_act", ["softmax", "tanh", "relu", "identity"])
def test_quadratic_cost_with_other_outputs(out_act):
    net = _net("sigmoid", "quadratic", "float64", output_activation=out_act)
    X, Y = make_data(net, 3)
    v = np.random.default_rng(1).standard_normal(net.params.size)
    assert rel_err(hvp(net, X, Y, v), _hvp_by_differences(net, X, Y, v)) < 1e-6
    full = _central(net.forward, X)
    assert rel_err(jacobian(net, X), full[np.arange(3), :, np.arange(3)]) < 1e-7


@pytest.mark.parametrize("cost", COSTS)
def test_one_hidden_layer_and_one_sample(cost):
    net = _net("tanh", cost, "float64", sizes=(3, 4, 2))
    X, Y = make_data(net, 1)
    v = np.random.default_rng(2).standard_normal(net.params.size)
    assert rel_err(hvp(net, X[0], Y, v), _hvp_by_differences(net, X, Y, v)) < 1e-6
    assert rel_err(per_sample_gradients(net, X, Y)[0], _flat_grad(net, X, Y)) < 1e-12
    assert input_gradients(net, X[0], Y).shape == (1, 3)      # one sample is a 1-row X


def test_hvp_of_linear_least_squares_is_the_exact_hessian():
    # C = 1/(2n)·Σ‖W·x + b − y‖² has the constant Hessian (1/n)·[X 1]ᵀ[X 1] for
    # each output unit's row of (W, b): hvp on the basis vectors must give it.
    net = _net("identity", "quadratic", "float64", sizes=(4, 3))
    X, Y = make_data(net, 6)
    H = np.array([hvp(net, X, Y, e) for e in np.eye(net.params.size)])
    Xt = np.hstack([X, np.ones((6, 1))])
    M = Xt.T @ Xt / 6
    expected = np.zeros_like(H)
    for k in range(3):                       # W row-major (3, 4), then b (3,)
        idx = [k * 4 + j for j in range(4)] + [12 + k]
        expected[np.ix_(idx, idx)] = M
    assert rel_err(H, expected) < 1e-14


def test_results_do_not_depend_on_the_thread_count():
    net = _net("sigmoid", "cross_entropy", "float64", sizes=(4, 33, 7, 3))
    X, Y = make_data(net, 64)
    v = np.random.default_rng(3).standard_normal(net.params.size)
    old = fastbp.get_num_threads()
    try:
        results = []
        for n_threads in (1, 2):
            fastbp.set_num_threads(n_threads)
            results.append([input_gradients(net, X, Y), jacobian(net, X),
                            per_sample_gradients(net, X, Y), hvp(net, X, Y, v)])
    finally:
        fastbp.set_num_threads(old)
    for one, two in zip(*results):
        assert np.array_equal(one, two)


BAD = [
    (lambda net, X, Y, v: input_gradients(net, X[:, :3], Y), ValueError, "X"),
    (lambda net, X, Y, v: input_gradients(net, X, Y[:2]), ValueError, "Y"),
    (lambda net, X, Y, v: jacobian(net, "abc"), TypeError, "X"),
    (lambda net, X, Y, v: jacobian(net, X * np.nan), ValueError, "X"),
    (lambda net, X, Y, v: per_sample_gradients(net, X, Y[:, :2]), ValueError, "Y"),
    (lambda net, X, Y, v: per_sample_gradients(net, X[None], Y), ValueError, "X"),
    (lambda net, X, Y, v: hvp(net, X, Y, v[:-1]), ValueError, "v"),
    (lambda net, X, Y, v: hvp(net, X, Y, np.append(v[:-1], np.inf)), ValueError, "v"),
    (lambda net, X, Y, v: hvp(net, X, Y, v[None]), ValueError, "v"),
    (lambda net, X, Y, v: hvp(net, X, Y, "v"), TypeError, "v"),
    (lambda net, X, Y, v: hvp(net, X, Y, None), TypeError, "v"),
    (lambda net, X, Y, v: hvp(net, X[:, :3], Y, v), ValueError, "X"),
    (lambda net, X, Y, v: hvp("net", X, Y, v), TypeError, "net"),
    (lambda net, X, Y, v: jacobian(None, X), TypeError, "net"),
]


@pytest.mark.parametrize("call,exc,name", BAD)
def test_bad_inputs_name_the_argument(call, exc, name):
    net = _net("relu", "quadratic", "float64")
    X, Y = make_data(net, 3)
    v = np.ones(net.params.size)
    before = net.params.copy()
    with pytest.raises(exc, match=rf"\b{name}\b"):
        call(net, X, Y, v)
    assert np.array_equal(net.params, before)
