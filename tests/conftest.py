"""Shared fixtures: thread counts, random networks and data."""
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Registered here, before test files load, so `--hypothesis-profile=fuzz`
# works as well as FASTBP_FUZZ=1 (tests/test_fuzz.py).
settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile("fuzz", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])

import fastbp
from fastbp import _core

HIDDEN = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
COSTS = ("quadratic", "binary_cross_entropy", "cross_entropy")
DTYPES = ("float64", "float32")
# Layer layouts with odd widths, a 1-unit hidden layer, 1 to 3 hidden layers.
LAYOUTS = {1: [5, 7, 3], 2: [5, 33, 7, 3], 3: [5, 7, 1, 33, 3]}
TOL = {"float64": 1e-12, "float32": 1e-5}

# Every test runs on exactly the threads it asks for, however small its
# network: the adaptive choice would otherwise keep them all on one thread.
fastbp._threads.adaptive = False


@pytest.fixture(params=[True, False], ids=["own", "blas"])
def own(request):
    """The test runs twice: with fastbp's own product kernels (csrc/dot.c,
    csrc/outer.c) where the CPU runs them, and with the BLAS for every product."""
    previous = _core.set_own_kernels(request.param)
    yield request.param
    _core.set_own_kernels(previous)


def rel_err(a, b):
    """Norm-wise relative error ‖a − b‖ / max(‖a‖, ‖b‖), 0 when both vanish."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def loss_close(loss, ref, dtype):
    """float64: relative error <= 1e-12. float32: the cost is computed from
    outputs of order 1 that each carry float32 rounding (~1e-7), so a small
    loss can only be accurate in absolute terms: |Δ| <= 1e-5·max(1, |ref|)."""
    if dtype == "float64":
        return rel_err(loss, ref) <= TOL[dtype]
    return abs(loss - ref) <= TOL[dtype] * max(1.0, abs(ref))


@pytest.fixture(params=[1, 2], ids=lambda n: f"{n}thr")
def threads(request):
    old = fastbp.get_num_threads()
    fastbp.set_num_threads(request.param)
    yield request.param
    fastbp.set_num_threads(old)


@pytest.fixture
def one_thread():
    """Run on one thread: batches this small gain nothing from more, and a
    busy test machine makes spinning threads costly. Results do not change."""
    old = fastbp.get_num_threads()
    fastbp.set_num_threads(1)
    yield
    fastbp.set_num_threads(old)


def set_threads(n):
    """Context-free helper for tests that switch threads mid-test."""
    fastbp.set_num_threads(n)


def make_net(sizes, activation, cost, dtype="float64", seed=0, output_activation=None,
             init="gaussian"):
    # 'gaussian' init by default: biases are nonzero, so bias handling is exercised
    return fastbp.Network(sizes, activation=activation, cost=cost, dtype=dtype,
                          output_activation=output_activation, init=init, seed=seed)


def make_data(net, n, seed=1):
    """Inputs N(0,1) and targets that suit the cost: one-hot rows for
    cross_entropy, values in [0, 1] otherwise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, net.sizes[0]))
    if net.cost == "cross_entropy":
        Y = np.eye(net.sizes[-1])[rng.integers(0, net.sizes[-1], n)]
    else:
        Y = rng.uniform(0, 1, (n, net.sizes[-1]))
    return X, Y


def as64(net):
    """A float64 twin of net: the more exact oracle for float32 results."""
    twin = fastbp.Network(net.sizes, net.activation, net.output_activation, net.cost,
                          dtype="float64")
    twin.params[...] = net.params
    return twin


def perturbed_net(layout, activation, cost, dtype, batch_norm, seed=0):
    """A network with every parameter and running estimate away from its
    initial value, so that each one's mapping is checked (model exchange)."""
    net = fastbp.Network(layout, activation=activation, cost=cost, dtype=dtype,
                         batch_norm=batch_norm, init="gaussian", seed=seed)
    rng = np.random.default_rng(seed + 100)
    for g in net.gammas:
        g[...] = rng.uniform(0.5, 1.5, g.shape)
    if batch_norm:
        net.running_mean[...] = rng.normal(0, 1, net.running_mean.shape)
        net.running_var[...] = rng.uniform(0.2, 3, net.running_var.shape)
    return net


def every_network(test):
    """Parametrize a model-exchange test over every hidden activation, cost,
    batch norm off and on, 1 to 4 hidden layers and both dtypes."""
    for mark in (pytest.mark.parametrize("activation", HIDDEN),
                 pytest.mark.parametrize("cost", COSTS),
                 pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"]),
                 pytest.mark.parametrize("n_hidden", [1, 2, 3, 4]),
                 pytest.mark.parametrize("dtype", DTYPES)):
        test = mark(test)
    return test


def seeds_of_fit(seed):
    """The dropout and noise seeds Network.fit derives from its `seed`."""
    seq = np.random.default_rng(seed).bit_generator.seed_seq
    return [int(seq.spawn(1)[0].generate_state(1, np.uint64)[0]) for _ in range(2)]
