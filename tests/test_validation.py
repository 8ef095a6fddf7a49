"""Tests for input validation at fastbp's Python boundary.

The rule: bad input raises ValueError/TypeError whose message names the
argument, and a network it was given stays bitwise unchanged. Inputs that are
only laid out differently (Fortran order, strided, read-only, another numeric
dtype, a list) are accepted and give exactly the result of the plain
C-contiguous array of the network's dtype.
"""
import re

import numpy as np
import pytest

import fastbp
from fastbp import Network, check_gradients
from fastbp._validation import is_classification

from conftest import DTYPES

SIZES = [4, 5, 3]          # 4 inputs, 3 outputs
N = 6                      # samples; batch_size=4 in fit leaves a partial batch


def make_data():
    """Small integer-valued data: exact in float32, float64 and int dtypes."""
    rng = np.random.default_rng(7)
    X = rng.integers(-3, 4, size=(N, SIZES[0])).astype(np.float64)
    y = np.array([0, 1, 2, 1, 0, 2])
    return X, y, np.eye(SIZES[-1])[y]


X0, y0, Y0 = make_data()


@pytest.fixture
def net():
    return Network(SIZES, seed=0)


def bitwise_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_rejected(net, exc, argname, call):
    """call() raises exc naming argname, and leaves net's parameters alone."""
    before = net.params.copy()
    with pytest.raises(exc, match=rf"(?<![\w.])({re.escape(argname)})\b"):
        call()
    assert bitwise_equal(net.params, before)


# ------------------------------------------------------------------ Network()

@pytest.mark.parametrize("kwargs, exc, argname", [
    (dict(sizes=[3]), ValueError, "sizes"),
    (dict(sizes=[]), ValueError, "sizes"),
    (dict(sizes=[3, 0]), ValueError, "sizes"),
    (dict(sizes=[3, -2, 2]), ValueError, "sizes"),
    (dict(sizes=[3, 2.5]), TypeError, "sizes"),
    (dict(sizes=[3, 2.0]), TypeError, "sizes"),
    (dict(sizes=[3, "3"]), TypeError, "sizes"),
    (dict(sizes=[3, True]), TypeError, "sizes"),
    (dict(sizes=5), TypeError, "sizes"),
    (dict(sizes="34"), TypeError, "sizes"),
    (dict(sizes=None), TypeError, "sizes"),
    (dict(activation="banana"), ValueError, "activation"),
    (dict(activation="softmax"), ValueError, "activation"),   # output only
    (dict(activation=1), TypeError, "activation"),
    (dict(activation=None), TypeError, "activation"),
    (dict(output_activation="banana"), ValueError, "output_activation"),
    (dict(output_activation=0), TypeError, "output_activation"),
    (dict(cost="banana"), ValueError, "cost"),
    (dict(cost="mse"), ValueError, "cost"),
    (dict(cost=None), TypeError, "cost"),
    (dict(init="banana"), ValueError, "init"),
    (dict(init=None), TypeError, "init"),
    (dict(dtype="float16"), ValueError, "dtype"),
    (dict(dtype="int32"), ValueError, "dtype"),
    (dict(dtype=np.int64), ValueError, "dtype"),
    (dict(dtype="complex128"), ValueError, "dtype"),
    (dict(dtype="banana"), ValueError, "dtype"),
    (dict(dtype=None), TypeError, "dtype"),      # np.dtype(None) would be float64
    (dict(dtype=3), TypeError, "dtype"),
    (dict(cost="cross_entropy", output_activation="sigmoid"), ValueError, "output_activation"),
    (dict(cost="binary_cross_entropy", output_activation="softmax"), ValueError,
     "output_activation"),
    (dict(sizes=[3, 1], output_activation="softmax"), ValueError, "output_activation"),
    (dict(sizes=[3, 1], cost="cross_entropy"), ValueError, "output_activation"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(seed="0"), TypeError, "seed"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed=True), TypeError, "seed"),
], ids=repr)
def test_network_rejects(kwargs, exc, argname):
    kwargs = {"sizes": [3, 4, 2], **kwargs}
    with pytest.raises(exc, match=rf"\b{argname}\b"):
        Network(**kwargs)


@pytest.mark.parametrize("dtype, expected", [
    ("float64", np.float64), ("float32", np.float32), (np.float32, np.float32),
    (np.dtype("f8"), np.float64), (">f8", np.float64), (">f4", np.float32)])
def test_network_dtype_spellings_give_native_dtype(dtype, expected):
    net = Network(SIZES, dtype=dtype, seed=0)
    assert net.dtype == np.dtype(expected) and net.dtype.isnative
    assert net.params.dtype == np.dtype(expected) and net.params.dtype.isnative
    ref = Network(SIZES, dtype=expected, seed=0)
    assert bitwise_equal(net.forward(X0), ref.forward(X0))


def test_network_defaults_output_activation_from_cost():
    assert Network([3, 2], cost="cross_entropy").output_activation == "softmax"
    assert Network([3, 1], cost="binary_cross_entropy").output_activation == "sigmoid"
    assert Network([3, 2], activation="tanh").output_activation == "tanh"
    assert Network(np.array([3, 4, 2])).sizes == (3, 4, 2)


# ------------------------------------------- bad X and Y for every method

def _fit(net, X, Y, **kw):
    return net.fit(X, Y, epochs=1, batch_size=4, seed=0, **kw)


# name -> (call(net, X, Y), what X is called in messages, what Y is called)
METHODS = {
    "forward": (lambda net, X, Y: net.forward(X), "X", None),
    "predict": (lambda net, X, Y: net.predict(X), "X", None),
    "loss": (lambda net, X, Y: net.loss(X, Y), "X", "Y"),
    "gradients": (lambda net, X, Y: net.gradients(X, Y), "X", "Y"),
    "evaluate": (lambda net, X, Y: net.evaluate(X, Y), "X", "Y"),
    "fit": (lambda net, X, Y: _fit(net, X, Y), "X", "Y"),
    "fit validation_data": (lambda net, X, Y: _fit(net, X0, y0, validation_data=(X, Y)),
                            "validation_data", "validation_data"),
    "check_gradients": (lambda net, X, Y: check_gradients(net, X, Y), "X", "Y"),
}
Y_METHODS = [m for m, (_, _, yname) in METHODS.items() if yname]


def with_value(A, value):
    A = A.astype(np.float64)
    A[1, 2] = value
    return A


BAD_X = {
    "0-d": (np.float64(1.0), ValueError),
    "3-d": (X0[:, :, None], ValueError),
    "1-d wrong length": (X0[0, :3], ValueError),
    "too narrow": (X0[:, :3], ValueError),
    "too wide": (np.ones((N, 5)), ValueError),
    "empty": (X0[:0], ValueError),
    "nan": (with_value(X0, np.nan), ValueError),
    "+inf": (with_value(X0, np.inf), ValueError),
    "-inf": (with_value(X0, -np.inf), ValueError),
    "object": (X0.astype(object), TypeError),
    "complex": (X0 + 0j, TypeError),
    "str array": (X0.astype(str), TypeError),
    "str": ("1 2 3 4", TypeError),
    "None": (None, TypeError),
    "timedelta": (X0.astype("m8[s]"), TypeError),
    "ragged list": ([[1, 2, 3, 4], [1, 2]], ValueError),
}


@pytest.mark.parametrize("case", BAD_X)
@pytest.mark.parametrize("method", METHODS)
def test_bad_X(net, method, case):
    call, xname, _ = METHODS[method]
    X, exc = BAD_X[case]
    assert_rejected(net, exc, xname, lambda: call(net, X, y0))


# forward checks X's finiteness in the core, each thread its rows as it
# reads them: rows of every thread and block, by pieces of rows (units <=
# rows), by units (a layer wider than the last block) and with batch norm;
# by rows with a first layer of 40 units, the packed kernel's product tells
# (csrc/outer.c), before the bias and relu (which would make −inf a 0), and
# with the BLAS (own=False) X itself is checked.
@pytest.mark.parametrize("sizes,batch_norm,activation",
                         [([6, 4, 3], False, "sigmoid"), ([6, 700, 3], False, "sigmoid"),
                          ([6, 5, 3], True, "sigmoid"), ([6, 40, 3], False, "sigmoid"),
                          ([6, 40, 3], False, "relu")],
                         ids=["by-rows", "by-units", "batch-norm", "packed", "packed-relu"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_finds_a_non_finite_input_anywhere(sizes, batch_norm, activation, dtype,
                                                   threads, own):
    from fastbp.model import EVAL_BLOCK
    net = Network(sizes, activation, dtype=dtype, batch_norm=batch_norm, seed=0)
    if activation == "relu":  # x = −inf makes every z −inf, and relu every a 0
        np.abs(net.weights[0], out=net.weights[0])
    n = EVAL_BLOCK + 300
    X = np.random.default_rng(0).standard_normal((n, 6))
    assert np.isfinite(net.forward(X)).all()
    for row in (0, 1, 299, 600, EVAL_BLOCK - 1, EVAL_BLOCK, n - 1):
        for value in (np.nan, np.inf, -np.inf):
            bad = X.copy()
            bad[row, row % 6] = value
            with pytest.raises(ValueError, match="X contains NaN or inf"):
                net.forward(bad)
    if dtype == "float32":
        bad = X.copy()
        bad[n - 2, 3] = 1e39
        with pytest.raises(ValueError, match="too large for float32"):
            net.predict(bad)
    # finite inputs whose sums overflow are no error (the kernel's NaN or inf
    # sends the core to X, which is finite)
    huge = np.full((n, 6), np.finfo(dtype).max)
    huge[::2] *= -1
    assert net.forward(huge).shape == (n, 3)


# fit leaves X's finiteness to its first epoch, each thread checking its
# slice of a batch's rows as it reads them: a NaN or ±inf in any row, with
# the rows in order or shuffled, in each schedule of the core (Nielsen's
# 784-30-10, whose threads share the inputs; units cut among threads; one
# layer; batch norm; online rows), on 1, 2 and 3 threads, raises fit's
# ValueError and changes nothing: the parameters, the optimizer's state and
# steps (a fresh optimizer's none), the model's record of its optimizer and
# penalty, its labels. So does one in a batch whose weights are all zero
# (skipped, last or not), and one after a batch that diverged first.
FIT_SCHEDULES = {
    "shared-inputs": ([784, 30, 10], False, 10),
    "units": ([20, 100, 3], False, 32),
    "one-layer": ([20, 3], False, 16),
    "batch-norm": ([20, 40, 3], True, 8),
    "online": ([20, 5, 3], False, 1),
}


def _fit_state(net, opt):
    return (net.params.copy(), None if opt.state is None else opt.state.copy(), opt.steps,
            net.optimizer, net.penalty, None if net.classes is None else list(net.classes))


def _assert_fit_state(net, opt, before):
    params, state, steps, optimizer, penalty, classes = before
    assert bitwise_equal(net.params, params)
    assert (opt.state is None) if state is None else bitwise_equal(opt.state, state)
    assert (opt.steps, net.penalty) == (steps, penalty)
    assert net.optimizer is optimizer
    assert (None if net.classes is None else list(net.classes)) == classes


@pytest.mark.parametrize("schedule", FIT_SCHEDULES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_fit_finds_a_non_finite_input_anywhere_and_changes_nothing(schedule, threads):
    sizes, batch_norm, batch = FIT_SCHEDULES[schedule]
    n = 15 * batch + 3  # a short last batch
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, sizes[0])) * 0.1
    y = rng.integers(0, sizes[-1], n)
    labels = np.array(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])[:sizes[-1]]
    net = Network(sizes, batch_norm=batch_norm, seed=0)
    old = fastbp.get_num_threads()
    fastbp.set_num_threads(threads)
    try:
        trained = fastbp.optim.Adam(lr=0.01)
        net.fit(X, labels[y], epochs=1, batch_size=batch, optimizer=trained, l2=1e-3)
        fresh = fastbp.optim.Adam(lr=0.01)
        for row in (0, n // 2, n - 1):
            for value in (np.nan, np.inf, -np.inf):
                bad = X.copy()
                bad[row, row % sizes[0]] = value
                for opt in (trained, fresh):
                    for shuffle in (False, True):
                        before = _fit_state(net, opt)
                        with pytest.raises(ValueError, match="X contains NaN or inf"):
                            net.fit(bad, y, epochs=2, batch_size=batch, optimizer=opt,
                                    shuffle=shuffle, seed=3, l1=1e-4)
                        _assert_fit_state(net, opt, before)
        # a bad row in a batch of zero weight: skipped, in the middle or last
        for row in (batch + 1, n - 1):
            bad = X.copy()
            bad[row, 0] = np.nan
            weight = np.ones(n)
            weight[row // batch * batch:(row // batch + 1) * batch] = 0
            before = _fit_state(net, trained)
            with pytest.raises(ValueError, match="X contains NaN or inf"):
                net.fit(bad, y, epochs=1, batch_size=batch, optimizer=trained, shuffle=False,
                        sample_weight=weight)
            _assert_fit_state(net, trained, before)
        # the cost is not finite in the first batch, before the bad row
        wild = Network(sizes, output_activation="identity", batch_norm=batch_norm, seed=0)
        wild.weights[-1][...] = np.finfo(np.float64).max
        bad = X.copy()
        bad[n - 1, 0] = np.nan
        opt = fastbp.optim.SGD(lr=0.1)
        before = _fit_state(wild, opt)
        with pytest.raises(ValueError, match="X contains NaN or inf"):
            wild.fit(bad, y, epochs=1, batch_size=batch, optimizer=opt, shuffle=False)
        _assert_fit_state(wild, opt, before)
        with pytest.raises(FloatingPointError):  # and without it, the divergence
            wild.fit(X, y, epochs=1, batch_size=batch, optimizer=opt, shuffle=False)
    finally:
        fastbp.set_num_threads(old)


def test_fit_interrupted_after_a_non_finite_input_keeps_none_of_its_updates(monkeypatch):
    """A Ctrl-C that stops the first epoch after it read an inf: the
    KeyboardInterrupt goes on, none of the epoch's updates stays."""
    from fastbp import _core
    real = _core.train_epoch

    def interrupted(*args):
        result = real(*args)
        if result[4] == _core.BAD_INPUT:  # as the compiled loop's Ctrl-C says it
            e = KeyboardInterrupt()
            e.updates, e.bad_input = result[3], True
            raise e
        return result

    monkeypatch.setattr(_core, "train_epoch", interrupted)
    net = Network(SIZES, seed=0)  # sigmoid: the cost of a row with an inf stays finite
    before = net.params.copy()
    with pytest.raises(KeyboardInterrupt):
        net.fit(with_value(X0, np.inf), y0, epochs=2, batch_size=2, shuffle=False)
    assert bitwise_equal(net.params, before)


def test_lbfgs_checks_x_before_it_starts():
    net = Network(SIZES, seed=0)
    assert_rejected(net, ValueError, "X",
                    lambda: net.fit(with_value(X0, np.nan), y0, epochs=2, optimizer="lbfgs"))


BAD_Y = {
    "labels too short": (y0[:5], ValueError),
    "labels too long": (np.append(y0, 0), ValueError),
    "targets too short": (Y0[:5], ValueError),
    "too narrow": (Y0[:, :2], ValueError),
    "too wide": (np.ones((N, 4)), ValueError),
    "0-d": (np.float64(1.0), ValueError),
    "3-d": (Y0[:, :, None], ValueError),
    "empty": (y0[:0], ValueError),
    "nan": (with_value(Y0, np.nan), ValueError),
    "+inf": (with_value(Y0, np.inf), ValueError),
    "-inf": (with_value(Y0, -np.inf), ValueError),
    "nan label": (np.where(y0 == 2, np.nan, y0), ValueError),
    "negative label": (np.where(y0 == 2, -1, y0), ValueError),
    "label == n_outputs": (np.where(y0 == 2, 3, y0), ValueError),
    "huge label": (np.where(y0 == 2, 1e20, y0), ValueError),
    "non-integer labels": (y0 + 0.5, ValueError),
    "object": (Y0.astype(object), TypeError),
    "complex": (Y0 + 0j, TypeError),
    "str array": (y0.astype(str), TypeError),
    "None": (None, TypeError),
}


# 1-D labels fit reads as classes of their own (three of them: three outputs)
LABELS_FIT_TAKES = ("negative label", "label == n_outputs", "huge label", "non-integer labels",
                    "str array")


@pytest.mark.parametrize("case", BAD_Y)
@pytest.mark.parametrize("method", Y_METHODS)
def test_bad_Y(net, method, case):
    call, _, yname = METHODS[method]
    Y, exc = BAD_Y[case]
    if method == "fit" and case in LABELS_FIT_TAKES:
        call(net, X0, Y)  # any three labels: net.classes
        assert len(net.classes) == SIZES[-1]
        return
    if method == "fit validation_data" and case == "str array":
        exc = ValueError  # not among the classes of fit's labels
    assert_rejected(net, exc, yname, lambda: call(net, X0, Y))


def test_bad_label_message_says_what_is_wrong(net):
    with pytest.raises(ValueError, match=r"Y has class labels out of range.*\[0, 2\]"):
        net.loss(X0, np.where(y0 == 2, 3, y0))
    with pytest.raises(ValueError, match=r"Y is 1-D.*integer class labels"):
        net.loss(X0, y0 + 0.5)
    with pytest.raises(ValueError, match=r"got min 0(\.0)?, max 1e\+20"):
        net.loss(X0, np.where(y0 == 2, 1e20, y0))
    with pytest.raises(ValueError, match=r"Y has 5 samples but X has 6"):
        net.loss(X0, y0[:5])


@pytest.mark.parametrize("method, which", [(m, w) for m in METHODS if m != "check_gradients"
                                           for w in "XY" if w == "X" or METHODS[m][2]])
def test_float32_overflow_is_rejected(method, which):
    """1e39 is finite in float64 but inf in float32."""
    call, xname, yname = METHODS[method]
    net = Network(SIZES, dtype="float32", seed=0)
    X, Y = (with_value(X0, 1e39), Y0) if which == "X" else (X0, with_value(Y0, 1e39))
    assert_rejected(net, ValueError, xname if which == "X" else yname,
                    lambda: call(net, X, Y))


def test_one_output_unit_takes_any_real_1d_target():
    net = Network([4, 1], seed=0)
    t = np.linspace(0, 1, N)
    assert net.loss(X0, t) == net.loss(X0, t[:, None])
    t[2] = np.nan
    assert_rejected(net, ValueError, "Y", lambda: net.loss(X0, t))


# ------------------------------------------------------------ fit arguments

@pytest.mark.parametrize("kwargs, exc, argname", [
    (dict(epochs=0), ValueError, "epochs"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(epochs=1.0), TypeError, "epochs"),
    (dict(epochs=True), TypeError, "epochs"),
    (dict(epochs="2"), TypeError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=-4), ValueError, "batch_size"),
    (dict(batch_size=2.5), TypeError, "batch_size"),
    (dict(batch_size=True), TypeError, "batch_size"),
    (dict(lr=0), ValueError, "lr"),
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(lr=float("inf")), ValueError, "lr"),
    (dict(lr="3"), TypeError, "lr"),
    (dict(lr=None), TypeError, "lr"),
    (dict(lr=1j), TypeError, "lr"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(seed="0"), TypeError, "seed"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(validation_data=X0), TypeError, "validation_data"),
    (dict(validation_data=(X0,)), TypeError, "validation_data"),
    (dict(validation_data=(X0, y0, y0, y0)), TypeError, "validation_data"),
    (dict(validation_data=(X0, y0, -np.ones(len(y0)))), ValueError, "validation_data"),
    (dict(validation_data=(X0[:, :3], y0)), ValueError, "validation_data"),
    (dict(validation_data=(X0, y0[:4])), ValueError, "validation_data"),
    (dict(validation_data=(X0, Y0[:, :2])), ValueError, "validation_data"),
], ids=repr)
def test_fit_rejects(net, kwargs, exc, argname):
    kwargs = {"epochs": 1, "batch_size": 4, **kwargs}
    assert_rejected(net, exc, argname, lambda: net.fit(X0, y0, **kwargs))


def test_fit_batch_size_larger_than_data_is_one_full_batch():
    a, b = Network(SIZES, seed=3), Network(SIZES, seed=3)
    ha = a.fit(X0, y0, epochs=2, batch_size=1000, lr=0.5, seed=1)
    hb = b.fit(X0, y0, epochs=2, batch_size=N, lr=0.5, seed=1)
    assert bitwise_equal(a.params, b.params)
    assert ha["loss"] == hb["loss"]
    assert not bitwise_equal(a.params, Network(SIZES, seed=3).params)  # it trained


# ---------------------------------------- check_gradients and the threads

def test_check_gradients_rejects_non_network(net):
    with pytest.raises(TypeError, match=r"\bnet\b"):
        check_gradients(net.params, X0, y0)
    with pytest.raises(TypeError, match=r"\bnet\b"):
        check_gradients(None, X0, y0)


@pytest.mark.parametrize("eps", [0, -1e-6, 0.0, float("nan"), float("inf")])
def test_check_gradients_rejects_bad_eps(net, eps):
    assert_rejected(net, ValueError, "eps", lambda: check_gradients(net, X0, y0, eps=eps))


def test_check_gradients_agrees_and_leaves_net_alone(net):
    before = net.params.copy()
    assert check_gradients(net, X0, y0) < 1e-6
    assert bitwise_equal(net.params, before)


@pytest.fixture
def restore_threads():
    n = fastbp.get_num_threads()
    yield
    fastbp.set_num_threads(n)


@pytest.mark.parametrize("n, exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                    (True, TypeError), ("2", TypeError), (None, TypeError)])
def test_set_num_threads_rejects(restore_threads, n, exc):
    before = fastbp.get_num_threads()
    with pytest.raises(exc, match=r"\bn\b"):
        fastbp.set_num_threads(n)
    assert fastbp.get_num_threads() == before


def test_set_num_threads_one(restore_threads):
    fastbp.set_num_threads(1)
    assert fastbp.get_num_threads() == 1


# ------------------------------------ equivalent inputs give the same result

def variants(A):
    """A's values in other layouts and dtypes: name -> fresh array (or list)."""
    wide = np.zeros((A.shape[0], 3 * A.shape[1]) if A.ndim == 2 else 3 * A.shape[0])
    wide[..., ::3] = A
    readonly = A.copy()
    readonly.flags.writeable = False
    out = {
        "fortran": np.asfortranarray(A),
        "strided": wide[..., ::3],
        "negative stride": A[::-1].copy()[::-1],
        "read-only": readonly,
        "float32": A.astype(np.float32),
        "float64": A.astype(np.float64),
        "int64": A.astype(np.int64),
        "int8": A.astype(np.int8),
        "list": A.tolist(),
    }
    if A.ndim == 1:
        out["uint8"] = A.astype(np.uint8)
    return out


def _results(call, net):
    """call's result, with every array in it copied (outputs may be views)."""
    r = call(net)
    if isinstance(r, tuple):        # gradients: (loss, [W...], [b...])
        return (r[0], [w.copy() for w in r[1]], [b.copy() for b in r[2]])
    if isinstance(r, fastbp.History):
        return {k: v for k, v in r.history.items() if k != "seconds"}, net.params.copy()
    return r


def assert_same(a, b):
    if isinstance(a, np.ndarray):
        assert bitwise_equal(a, b)
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert_same(u, v)
    else:
        assert a == b


SAME_METHODS = {
    "forward": lambda net, X, Y: net.forward(X),
    "predict": lambda net, X, Y: net.predict(X),
    "loss": lambda net, X, Y: net.loss(X, Y),
    "gradients": lambda net, X, Y: net.gradients(X, Y),
    "evaluate": lambda net, X, Y: net.evaluate(X, Y),
    "fit": lambda net, X, Y: net.fit(X, Y, epochs=2, batch_size=4, lr=0.5, seed=5,
                                     validation_data=(X, Y)),
}


def check_same(dtype, method, X, Y):
    """method on (X, Y) gives bitwise what it gives on the plain float arrays,
    on a fresh network each time (fit changes it), and leaves X, Y unchanged."""
    call = SAME_METHODS[method]
    X_keep, Y_keep = np.array(X), np.array(Y)
    ref_X = np.ascontiguousarray(X0, dtype=dtype)
    ref_Y = np.ascontiguousarray(Y0, dtype=dtype)
    expected = _results(lambda n: call(n, ref_X, ref_Y), Network(SIZES, dtype=dtype, seed=0))
    got = _results(lambda n: call(n, X, Y), Network(SIZES, dtype=dtype, seed=0))
    assert_same(got, expected)
    assert bitwise_equal(np.array(X), X_keep) and bitwise_equal(np.array(Y), Y_keep)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("variant", list(variants(X0)))
@pytest.mark.parametrize("method", SAME_METHODS)
def test_equivalent_X_gives_same_result(dtype, variant, method):
    check_same(dtype, method, variants(X0)[variant], Y0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("variant", ["labels " + k for k in variants(y0)]
                         + ["targets " + k for k in variants(Y0)])
@pytest.mark.parametrize("method", [m for m in SAME_METHODS if m not in ("forward", "predict")])
def test_equivalent_Y_gives_same_result(dtype, variant, method):
    kind, name = variant.split(" ", 1)
    Y = variants(y0 if kind == "labels" else Y0)[name]
    check_same(dtype, method, X0, Y)


def test_single_sample_forward_is_one_row(net):
    out = net.forward(X0[1])
    assert out.shape == (SIZES[-1],)
    assert bitwise_equal(out, net.forward(X0[1:2])[0])
    assert net.predict(X0[1]).shape == (1,)


def test_forward_is_row_independent(net):
    full = net.forward(X0)
    assert bitwise_equal(np.vstack([net.forward(x) for x in X0]), full)


# --------------------------------------------- weights and biases are views

def test_writing_into_views_changes_the_model(net):
    out = net.forward(X0)
    net.weights[0][...] = 0
    net.biases[0][...] = 0
    # Hidden layer is sigmoid(0) = 0.5 for every sample: all rows equal.
    hidden_const = net.forward(X0)
    assert not bitwise_equal(hidden_const, out)
    assert np.all(hidden_const == hidden_const[0])
    net.biases[1][0] += 1.0
    assert not bitwise_equal(net.forward(X0), hidden_const)
    net.params[...] = 0
    np.testing.assert_array_equal(net.forward(X0), np.full((N, SIZES[-1]), 0.5))
    assert np.shares_memory(net.weights[1], net.params)


def test_assigning_a_layer_copies_into_the_model(net):
    W = np.arange(20.0).reshape(5, 4) / 100
    net.weights[0] = W
    net.biases[1] = [1.0, 2.0, 3.0]
    W[...] = 7                                       # the model holds a copy
    assert np.shares_memory(net.weights[0], net.params)
    np.testing.assert_array_equal(net.params[:20], np.arange(20.0) / 100)
    np.testing.assert_array_equal(net.params[-3:], [1.0, 2.0, 3.0])
    net.params = np.zeros(net.params.size)
    assert np.all(net.weights[0] == 0) and np.shares_memory(net.weights[0], net.params)


@pytest.mark.parametrize("target, value, exc", [
    ("weights", np.zeros((4, 5)), ValueError),
    ("weights", np.zeros(20), ValueError),
    ("weights", np.full((5, 4), np.nan), ValueError),
    ("biases", np.zeros(4), ValueError),
    ("biases", np.zeros((5, 1)), ValueError),
    ("params", np.zeros(3), ValueError),
    ("params", None, TypeError),
    pytest.param("weights", np.full((5, 4), 1e39), ValueError, id="weights-float32 overflow",
                 marks=pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")),
    pytest.param("weights", np.full((5, 4), "a"), TypeError, id="weights-str"),
], ids=lambda v: repr(np.shape(v)) if isinstance(v, np.ndarray) else repr(v))
def test_assigning_bad_values_is_rejected(target, value, exc):
    net = Network(SIZES, dtype="float32", seed=0)
    if target == "params":
        call = lambda: setattr(net, "params", value)
    else:
        call = lambda: getattr(net, target).__setitem__(0, value)
    assert_rejected(net, exc, target, call)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_finiteness_check(dtype):
    # the check on the bits (no temporary array) that every input goes through
    from fastbp import _core
    info = np.finfo(dtype)
    ok = np.array([0, -0.0, 1, info.max, -info.max, info.tiny, info.tiny / 2], dtype=dtype)
    assert _core.all_finite(ok) and _core.all_finite(ok[:0])
    for n in (1, 7, 64, 1001):
        for where in (0, n // 2, n - 1):
            for bad in (np.nan, np.inf, -np.inf):
                x = np.ones(n, dtype=dtype)
                x[where] = bad
                assert not _core.all_finite(x)
    # large inputs are cut among threads (each a contiguous part): a bad
    # number in any part, or at a cut, is found
    n = 3 * 2**18 + 5
    assert _core.all_finite(np.ones(n, dtype=dtype), 3)
    for threads in (1, 2, 3, 8):
        for where in (0, n // 3 - 1, n // 3, n // 2, 2 * n // 3, n - 1):
            x = np.ones(n, dtype=dtype)
            x[where] = np.nan
            assert not _core.all_finite(x, threads)


# Targets are classes (accuracy is reported) when their rows are one-hot, or
# 0/1 in one column; each condition of is_classification's check on its own.
@pytest.mark.parametrize("Y,expected", [
    ([[0, 1, 0], [1, 0, 0]], True),
    ([[1], [0], [1]], True),
    ([[0.5, 0.5, 0], [1, 0, 0]], False),        # sums to 1 with no 1
    ([[1, 1, 0], [0, 0, 0]], False),            # as many 1s as rows, not one a row
    ([[1, 0.5, -0.5], [0, 1, 0]], False),       # a negative number
    ([[1, 0, 0], [0, 2, 0]], False),
    ([[0.5], [1]], False),
])
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_hot_targets_are_classes(Y, expected, dtype):
    assert is_classification(np.array(Y, dtype=dtype)) is expected
