"""Property-based fuzzing of fastbp's public entry points (issue 7).

Every call on fuzzed arguments either works -- and then matches
fastbp.reference (tolerances of test_kernels.py) and gives bitwise what the
same values give as plain C-contiguous arrays of the network's dtype -- or
raises ValueError/TypeError/MemoryError whose message names an argument that
was bad. Either way the network's params and the caller's arrays are bitwise
unchanged (fit aside, when it works). Arguments are drawn valid or with one
defect: odd dtypes, shapes, layouts, NaN/inf, bad labels, bad hyper-parameters.

Profiles: 'ci' (default, 200 examples per test) and 'fuzz' (10,000), chosen
with FASTBP_FUZZ=1, or with --hypothesis-profile=fuzz once tests/conftest.py
imports this module (pytest loads a profile before it imports test files).
"""
import contextlib
import io
import os
import re
import time
from dataclasses import dataclass
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

import fastbp
import fastbp.cli
from fastbp import reference
from fastbp._validation import ACTIVATIONS, COST_OUTPUT, INITS, is_classification

from conftest import COSTS, DTYPES, HIDDEN, TOL, as64, loss_close

# profiles 'ci' and 'fuzz' are registered in conftest.py. FASTBP_FUZZ wins; else a profile given on the command line; else 'ci'.
_profile = ("fuzz" if os.environ.get("FASTBP_FUZZ") else
            settings.get_current_profile_name() if settings.get_current_profile_name() != "default"
            else "ci")
PROFILE = settings.get_profile(_profile)
ERRORS = (ValueError, TypeError, MemoryError)


def bitwise_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def names(message, argnames):
    """Does the message name one of argnames (as a word, not 'output_activation'
    for 'activation')?"""
    return any(re.search(rf"(?<![\w.]){re.escape(a)}\b", message) for a in argnames)


@dataclass
class Arg:
    """A fuzzed argument: what the call gets, the plain array it stands for
    (None when it stands for nothing), its defect, and whether the defect must
    be refused (strict) or may also be accepted as `canonical`."""
    value: Any
    canonical: Any = None
    defect: Any = None
    strict: bool = True


# ------------------------------------------------------------------ strategies

@st.composite
def networks(draw):
    """A valid network: 1-unit layers, every activation/cost pair, both dtypes."""
    cost = draw(st.sampled_from(COSTS))
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    out_act = None
    if cost == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    elif cost == "quadratic" and draw(st.booleans()):
        out_act = draw(st.sampled_from([a for a in ACTIVATIONS if a != "softmax" or sizes[-1] > 1]))
    return fastbp.Network(sizes, activation=draw(st.sampled_from(HIDDEN)), cost=cost,
                          output_activation=out_act, dtype=draw(st.sampled_from(DTYPES)),
                          init="gaussian", seed=draw(st.integers(0, 2**32 - 1)))


VALID_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "float16", "float32", "float64"]
LAYOUTS = ["C", "F", "strided", "reversed", "readonly", "unaligned", "list"]
ARRAY_DEFECTS = ["nan", "inf", "-inf", "overflow", "complex", "object", "str", "bytes",
                 "timedelta", "none", "ragged", "scalar", "empty", "rank3", "width"]
Y_DEFECTS = ARRAY_DEFECTS + ["rows", "label_range", "label_fraction"]
FIT_Y_DEFECTS = ["nan", "inf", "-inf", "none", "ragged", "scalar", "empty", "rank3", "width",
                 "rows"]


def values(rng, dtype, shape, lo, hi):
    """Random values of dtype in [lo, hi]: small, so valid data never overflows."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        return rng.integers(max(lo, 0) if dt.kind == "u" else lo, hi + 1, shape).astype(dt)
    return rng.uniform(lo, hi, shape).astype(dt)


def relayout(a, layout):
    """The same values as a, laid out otherwise in memory (or as a list)."""
    if not isinstance(a, np.ndarray) or a.ndim == 0 or a.dtype == object or layout == "C":
        return a
    if layout == "list":
        return a.tolist()
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        big[(slice(None, None, 2),) * a.ndim] = a
        return big[(slice(None, None, 2),) * a.ndim]
    if layout == "reversed":  # negative strides
        return np.flip(np.flip(a).copy())
    if layout == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    return unaligned_copy(a)


def unaligned_copy(a):
    """a's values at an odd address: one byte into a uint8 buffer."""
    buf = np.zeros(a.nbytes + 1, np.uint8)
    b = buf[1:].view(a.dtype).reshape(a.shape)
    b[...] = a
    return b


def apply_defect(defect, a, net, rng):
    """(value, strict): valid array a spoilt by the defect; strict unless the
    result may also be accepted."""
    if defect in ("nan", "inf", "-inf", "overflow"):
        big = 1e39 if net.dtype == np.float32 else np.inf  # 1e39: finite only in float64
        b = a.astype(np.float64 if defect == "overflow" or a.dtype.kind != "f" else a.dtype)
        b.flat[rng.integers(b.size)] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf,
                                        "overflow": big}[defect]
        return b, True
    return {
        "complex": lambda: (a.astype(np.complex128) + 1j, True),
        "object": lambda: (a.astype(object), False),  # numbers in an object array: may work
        "str": lambda: (a.astype(str), True),
        "bytes": lambda: (a.astype(bytes), True),
        "timedelta": lambda: (np.zeros(a.shape, "m8[s]"), True),
        "none": lambda: (None, True),
        "ragged": lambda: ([[1.0] * 2, [1.0] * 3], True),
        "scalar": lambda: (a.flat[0] if a.size else np.float64(0.5), True),
        "empty": lambda: (a[:0], True),
        "rank3": lambda: (a[..., None, None] if rng.random() < 0.5 else a[None, None], True),
    }[defect]()


def one_in(k, bad):
    """One of bad once in k draws, else None (no defect)."""
    return st.integers(1, k).flatmap(lambda i: st.sampled_from(bad) if i == 1 else st.none())


@st.composite
def inputs(draw, net, n, odds=2):
    """X for net with n rows (1-D when n == 1, sometimes), with a defect once
    in `odds` draws."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w = net.sizes[0]
    shape = (w,) if n == 1 and draw(st.booleans()) else (n, w)
    a = values(rng, draw(st.sampled_from(VALID_DTYPES)), shape, -2, 2)
    canonical = np.ascontiguousarray(a, dtype=net.dtype).reshape(-1, w)
    defect = draw(one_in(odds, ARRAY_DEFECTS))
    if defect == "width":
        wrong = w + 1 if w == 1 or rng.random() < 0.5 else w - 1
        a = values(rng, "float64", shape[:-1] + (wrong,), -2, 2)
    return finish(draw, a, canonical, defect, net, rng)


@st.composite
def targets(draw, net, n, odds=2, defects=Y_DEFECTS):
    """Y for net and n rows: 2-D targets or 1-D labels (a column for one
    output), with one of `defects` once in `odds` draws."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = net.sizes[-1]
    defect = draw(one_in(odds, defects))
    rows = n + (1 if n == 1 or rng.random() < 0.5 else -1) if defect == "rows" else n
    labels = draw(st.booleans()) and defect != "width"
    dtype = draw(st.sampled_from(VALID_DTYPES))
    if labels and k > 1:  # class indices
        dtype = "int64" if dtype == "bool" and k > 2 else dtype  # bool only holds 0/1
        a = rng.integers(0, k, rows).astype(dtype)
        canonical = np.eye(k, dtype=net.dtype)[a.astype(np.int64)]
    else:
        a = values(rng, dtype, (rows,) if labels else (rows, k + (defect == "width")), 0, 1)
        canonical = np.ascontiguousarray(a, dtype=net.dtype).reshape(rows, -1)
    if defect in ("label_range", "label_fraction"):
        if not (labels and k > 1):
            defect = None  # no labels to spoil
        else:
            bad = draw(st.sampled_from([k, -1, 1e20, 2.0**63])) if defect == "label_range" else 0.5
            a = a.astype(np.float64 if isinstance(bad, float) or a.dtype.kind in "bu" else a.dtype)
            a[rng.integers(rows)] = bad
    return finish(draw, a, canonical, defect, net, rng)


def finish(draw, a, canonical, defect, net, rng):
    """The Arg for valid array a (standing for canonical) after the defect, in
    a drawn memory layout. Shape and label defects are already in a."""
    strict = True
    if defect in ("rows", "width", "label_range", "label_fraction"):
        canonical = None
    elif defect is not None:
        a, strict = apply_defect(defect, a, net, rng)
        canonical = canonical if defect == "object" else None
    return Arg(relayout(a, draw(st.sampled_from(LAYOUTS))), canonical, defect, strict)


def scalar(draw, valid, bad, odds=4):
    """An Arg for a hyper-parameter: from valid, or once in `odds` from bad."""
    if draw(st.integers(1, odds)) == 1:
        return Arg(draw(st.sampled_from(bad)), None, "bad")
    v = draw(valid)
    return Arg(v, v)


BAD_INTS = [0, -1, 1.5, True, "2", None, np.float64(2.0)]
BAD_LRS = [0, -0.1, float("nan"), float("inf"), "0.1", None, True, 1j]
BAD_SEEDS = [-1, 1.5, "1", True]


# ------------------------------------------------------------------ the property

def call_checked(net, fn, args, changes_net=False):
    """fn(**values of args): the result, or None when it refused them as it
    should. The network is unchanged unless it may change (fit that works)."""
    before = net.params.copy()
    kept = {k: a.value.copy() for k, a in args.items() if isinstance(a.value, np.ndarray)}
    bad = [k for k, a in args.items() if a.defect]
    try:
        result = fn(**{k: a.value for k, a in args.items()})
    except ERRORS as e:
        assert bad, f"valid arguments refused: {type(e).__name__}: {e}"
        assert names(str(e), bad), f"error does not name any of {bad}: {type(e).__name__}: {e}"
        result, changes_net = None, False  # a refused call changes nothing
        event("refused")
    else:
        event("worked")
        strict = [(k, a.defect) for k, a in args.items() if a.defect and a.strict]
        assert not strict, f"accepted {strict}"
    assert changes_net or bitwise_equal(net.params, before), "the call changed the params"
    for k, arr in kept.items():
        assert bitwise_equal(args[k].value, arr), f"the call changed its argument {k}"
    return result


def own_accuracy(out, Y):
    """Fraction classed right, from outputs: how evaluate() and predict() count."""
    if out.shape[1] == 1:
        return float(np.mean((out[:, 0] > 0.5) == (Y[:, 0] > 0.5)))
    return float(np.mean(out.argmax(axis=1) == Y.argmax(axis=1)))


def nudged(fn, oracle, *args, eps, seed=0):
    """fn of fastbp.reference with every parameter and each activation's input
    and output moved by ±eps (relative): a rounding's worth of change
    everywhere the core rounds. Random signs drawn from `seed`, or all +1 /
    all −1 for seed "+" / "-" (roundings that all go one way add up)."""
    one_way = isinstance(seed, str)
    rng, activate = np.random.default_rng(0 if one_way else seed), reference.activate

    def nudge(v):
        if one_way:
            return v * (1 + eps * (1.0 if seed == "+" else -1.0))
        return v * (1 + eps * rng.choice([-1.0, 1.0], np.shape(v)))

    twin = oracle.copy()
    twin.params = nudge(twin.params)
    with mock.patch.object(reference, "activate", lambda name, z: nudge(activate(name, nudge(z)))):
        return fn(twin, *args)


def assert_matches(mine, fn, oracle, *args, dtype):
    """mine (a list of arrays) against fn of fastbp.reference: norm-wise within
    test_kernels' tolerance, or within 10x how far the reference itself moves
    when parameters and activations are nudged by one rounding of dtype. The
    second is the fuzzer's addition: it finds saturated units (1 - a² from
    a ≈ ±1) and sums that cancel far below their terms, where rounding alone
    moves the result by more than TOL."""
    ref = fn(oracle, *args)
    flat = (lambda r: [r[0]] + list(r[1]) + list(r[2]) if isinstance(r, tuple) else [r])
    # random signs and one-signed nudges: with random signs alone the nudges
    # of two samples' softmax outputs cancelled in a bias gradient while the
    # core's roundings (both upward) added up (float32, found with 10,000
    # examples; the core equals a float32 NumPy twin there)
    moved = [flat(nudged(fn, oracle, *args, eps=np.finfo(dtype).eps, seed=s))
             for s in (0, "+", "-")]
    for k, (m, r) in enumerate(zip(mine, flat(ref))):
        err = float(np.linalg.norm(np.asarray(m, np.float64) - r))
        ok = (loss_close(m, r, dtype.name) if np.ndim(r) == 0 else
              err <= TOL[dtype.name] * max(np.linalg.norm(m), np.linalg.norm(r)))
        spread = max(float(np.linalg.norm(r - v[k])) for v in moved)
        assert ok or err <= 10 * spread, \
            f"error {err:.3g}, reference {np.linalg.norm(r):.3g}, nudged {spread:.3g}"


@settings(PROFILE)
@given(data=st.data())
@pytest.mark.parametrize("method", ["forward", "predict"])
def test_forward_and_predict(method, data):
    net = data.draw(networks())
    X = data.draw(inputs(net, data.draw(st.integers(1, 6))))
    got = call_checked(net, getattr(net, method), {"X": X})
    if got is None:
        return
    out = net.forward(X.canonical)
    if method == "predict":
        expected = (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
        assert bitwise_equal(got, expected)
    else:
        one = out.shape[0] == 1 and np.ndim(got) == 1  # one 1-D sample: one 1-D row
        assert bitwise_equal(got, out[0] if one else out)
        assert_matches([np.atleast_2d(got)], reference.forward, as64(net), X.canonical, dtype=net.dtype)


# Each check gets the network after the call, a float64 twin of it before the
# call, the plain (X, Y), the result and the plain keyword arguments.
def check_loss(net, oracle, X, Y, got, kw):
    assert_matches([got], reference.loss, oracle, X, Y, dtype=net.dtype)


def check_gradients(net, oracle, X, Y, got, kw):
    assert all(g.dtype == net.dtype for g in got[1] + got[2])
    assert_matches([got[0]] + got[1] + got[2], reference.gradients, oracle, X, Y, dtype=net.dtype)


def check_evaluate(net, oracle, X, Y, got, kw):
    assert_matches([got["loss"]], reference.loss, oracle, X, Y, dtype=net.dtype)
    Y2 = np.eye(net.sizes[-1])[Y] if np.ndim(Y) == 1 and net.sizes[-1] > 1 else np.asarray(Y)
    if is_classification(Y2.reshape(len(X), -1)):
        assert got["accuracy"] == own_accuracy(net.forward(X), Y)
    else:  # real-valued targets: no accuracy
        assert "accuracy" not in got


def sgd_replay(oracle, X, Y, kw):
    """params after fit's epochs of SGD in fastbp.reference, same row order."""
    ws, bs = [w.copy() for w in oracle.weights], [b.copy() for b in oracle.biases]
    n, rng, size = X.shape[0], np.random.default_rng(kw["seed"]), min(kw["batch_size"], X.shape[0])
    with np.errstate(all="ignore"):
        for _ in range(kw["epochs"]):
            order = rng.permutation(n) if kw["shuffle"] else np.arange(n)
            for start in range(0, n, size):
                rows = order[start:start + size]
                _, gw, gb = reference.backprop(oracle, X[rows], Y[rows], ws, bs)
                ws = [w - kw["lr"] * g for w, g in zip(ws, gw)]
                bs = [b - kw["lr"] * g for b, g in zip(bs, gb)]
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(ws, bs)])


def check_fit(net, oracle, X, Y, history, kw):
    assert_matches([net.params], sgd_replay, oracle, X, Y, kw, dtype=net.dtype)
    assert len(history) == kw["epochs"] and np.isfinite(history["loss"]).all()


CHECKS = {"loss": check_loss, "gradients": check_gradients, "evaluate": check_evaluate,
          "fit": check_fit}


# fit has seven arguments: each spoilt once in 6 draws, so that about one fit
# in six gets only good ones and is compared with the reference
FIT_ODDS = 6


@st.composite
def fit_args(draw, net, n):
    shuffle = draw(st.booleans())
    seeds = st.integers(0, 2**63) | (st.nothing() if shuffle else st.none())  # reproducible order
    return {"epochs": scalar(draw, st.integers(1, 2), BAD_INTS, FIT_ODDS),
            "batch_size": scalar(draw, st.integers(1, n + 2), BAD_INTS, FIT_ODDS),
            "lr": scalar(draw, st.floats(1e-3, 0.3), BAD_LRS, FIT_ODDS),
            "seed": scalar(draw, seeds, BAD_SEEDS, FIT_ODDS),
            "shuffle": Arg(shuffle, shuffle),
            "validation_data": draw(validation_data(net))}


@st.composite
def validation_data(draw, net):
    """None, a pair (X_val, Y_val) each maybe spoilt, or neither a pair nor a triple."""
    kind = draw(st.sampled_from(["none", "none", "pair", "pair", "pair", "single", "four"]))
    if kind == "none":
        return Arg(None)
    n = draw(st.integers(1, 4))
    Xv, Yv = draw(inputs(net, n, FIT_ODDS)), draw(targets(net, n, FIT_ODDS))
    if kind != "pair":
        # (X_val, Y_val, w_val) is valid: four items never are
        return Arg((Xv.value,) if kind == "single" else (Xv.value, Yv.value, None, None),
                   None, kind)
    pair = draw(st.sampled_from([tuple, list]))((Xv.value, Yv.value))
    strict = bool((Xv.defect and Xv.strict) or (Yv.defect and Yv.strict))
    return Arg(pair, None, Xv.defect or Yv.defect, strict)


def same_result(a, b):
    """Bitwise equality of results: arrays, floats, dicts, gradient tuples."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_result(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same_result(u, v) for u, v in zip(a, b))
    return bitwise_equal(a, b)


@settings(PROFILE)
@given(data=st.data())
@pytest.mark.parametrize("method", list(CHECKS))
def test_methods_with_targets(method, data):
    net = data.draw(networks())
    n = data.draw(st.integers(1, 6))
    odds = FIT_ODDS if method == "fit" else 2
    # fit takes any finite 1-D labels, of any value and type (they become
    # net.classes: tests/test_usability.py), so only what no labels can be is
    # a defect of its Y; the other methods refuse the rest
    defects = FIT_Y_DEFECTS if method == "fit" else Y_DEFECTS
    args = {"X": data.draw(inputs(net, n, odds)), "Y": data.draw(targets(net, n, odds, defects))}
    if method == "fit":
        args.update(data.draw(fit_args(net, n)))
    start = net.copy()
    plain = {k: a.canonical for k, a in args.items()}
    try:
        got = call_checked(net, getattr(net, method), args, changes_net=method == "fit")
    except FloatingPointError:  # fit's answer to training that diverges
        assert method == "fit" and np.isfinite(net.params).all()
        assert not any(a.defect and a.strict for a in args.values()), "diverged on bad arguments"
        event("diverged")
        # ... and it did: SGD in float64 goes past 1e6 (or to inf/nan) too
        assert not np.all(np.abs(sgd_replay(as64(start), plain["X"], plain["Y"], plain)) < 1e6)
        return
    if got is None:
        return
    if method == "fit":  # validation only adds to the history
        plain["validation_data"] = None
        got = net.params
    twin = start.copy()
    again = getattr(twin, method)(**plain)
    assert same_result(got, twin.params if method == "fit" else again)
    CHECKS[method](net, as64(start), plain["X"], plain["Y"], again, plain)


# Found by the fuzzer under UBSan (tools/sanitize.sh): an unaligned array of
# the network's dtype passed validation as is, and the kernels loaded floats
# from odd addresses -- undefined behaviour, a crash on strict platforms.
@pytest.mark.parametrize("dtype", DTYPES)
def test_unaligned_inputs_reach_the_core_aligned(dtype):
    from fastbp._validation import check_inputs, check_targets
    X, Y = unaligned_copy(np.ones((3, 4), dtype)), unaligned_copy(np.ones((3, 2), dtype))
    assert not X.flags.aligned and not Y.flags.aligned
    assert check_inputs(X, 4, np.dtype(dtype)).flags.aligned
    assert check_targets(Y, 3, 2, np.dtype(dtype)).flags.aligned


# ------------------------------------------------------------------ Network(...)

def conflict(kw):
    """Argument names a valid-per-argument combination breaks, if it breaks one."""
    out = kw["output_activation"] or COST_OUTPUT.get(kw["cost"], kw["activation"])
    if kw["cost"] in COST_OUTPUT and out != COST_OUTPUT[kw["cost"]]:
        return ["cost", "output_activation"]
    if out == "softmax" and list(kw["sizes"])[-1] < 2:
        return ["output_activation", "cost", "sizes"]
    return []


SIZES_VALID = st.lists(st.integers(1, 6), min_size=2, max_size=4).flatmap(
    lambda s: st.sampled_from([s, tuple(s), np.array(s), [np.int64(v) for v in s]]))
CTOR_ARGS = {
    "sizes": (SIZES_VALID, [[], [3], [3, 0], [3, -1], [3, 2.0], [3, True], [3, "2"], [3, None],
                            "34", 3, None, np.array([3.0, 2.0])]),
    "activation": (st.sampled_from(HIDDEN), ["softmax", "Sigmoid", "", None, 1]),
    "output_activation": (st.none() | st.sampled_from(ACTIVATIONS), ["nope", "", 1]),
    "cost": (st.sampled_from(COSTS), ["mse", None, 0]),
    "dtype": (st.sampled_from(["float32", "float64", np.float32, np.float64, "f4", "<f8", ">f8",
                               np.dtype("float32")]),
              ["float16", "int32", np.int64, complex, bool, "nope", None, 3, object]),
    "init": (st.sampled_from(INITS), ["zeros", None, 0]),
    "seed": (st.none() | st.integers(0, 2**64) | st.just(np.int64(5)), BAD_SEEDS),
}


@settings(PROFILE)
@given(data=st.data())
def test_network_constructor(data):
    args = {name: scalar(data.draw, valid, bad) for name, (valid, bad) in CTOR_ARGS.items()}
    kw = {k: a.value for k, a in args.items()}
    structure = ("sizes", "activation", "output_activation", "cost")
    clash = [] if any(args[k].defect for k in structure) else conflict(kw)
    try:
        net = fastbp.Network(**kw)
    except ERRORS as e:
        bad = [k for k, a in args.items() if a.defect] + clash
        assert bad, f"valid arguments refused: {type(e).__name__}: {e}"
        assert names(str(e), bad), f"error does not name any of {bad}: {e}"
        return
    assert not clash and not any(a.defect for a in args.values()), f"accepted {kw}"
    assert net.sizes == tuple(int(s) for s in kw["sizes"])
    assert net.dtype in (np.float32, np.float64) and net.dtype.isnative
    assert net.params.shape == (sum((a + 1) * b for a, b in zip(net.sizes, net.sizes[1:])),)
    assert np.isfinite(net.params).all()
    assert net.forward(np.zeros(net.sizes[0])).shape == (net.sizes[-1],)


# Widths whose parameters cannot be allocated (8 TiB and up): refused at once,
# never half-built, and the error should say which argument asked for it.
@pytest.mark.parametrize("sizes", [[2**40, 1], [1 << 24, 1 << 24, 3], [2**40, 2**40]])
def test_unallocatable_sizes_name_sizes(sizes):
    with pytest.raises((ValueError, MemoryError), match=r"\bsizes\b"):
        fastbp.Network(sizes)


# ------------------------------------------------------------------ save / load

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@settings(PROFILE)
@given(net=networks(), as_path=st.booleans(), scale=st.floats(-1e30, 1e30))
def test_save_load_round_trip(model_dir, net, as_path, scale):
    net.params[...] *= net.dtype.type(scale) if np.isfinite(net.dtype.type(scale)) else 1
    path = model_dir / "model.npz"
    before = net.params.copy()
    net.save(path if as_path else str(path))
    assert bitwise_equal(net.params, before)
    back = fastbp.load(path if as_path else str(path))
    assert (back.sizes, back.activation, back.output_activation, back.cost, back.dtype) == \
           (net.sizes, net.activation, net.output_activation, net.cost, net.dtype)
    assert bitwise_equal(back.params, net.params)


@pytest.mark.parametrize("path", [None, 123, 1.5, ["model.npz"]])
@pytest.mark.parametrize("call", ["save", "load"])
def test_non_path_is_a_type_error_naming_path(call, path):
    fn = fastbp.Network([2, 1]).save if call == "save" else fastbp.load
    with pytest.raises(TypeError, match=r"\bpath\b"):
        fn(path)


MODEL_KINDS = [([3, 1], "sigmoid", "quadratic", "float64"),
               ([5, 4, 3], "tanh", "cross_entropy", "float32"),
               ([2, 6, 1, 2], "relu", "binary_cross_entropy", "float64")]


@pytest.fixture(scope="module")
def model_files(model_dir):
    """Bytes of real model files: plain and compressed, both dtypes."""
    files = []
    for i, (sizes, act, cost, dtype) in enumerate(MODEL_KINDS):
        path = model_dir / f"real{i}.npz"
        fastbp.Network(sizes, activation=act, cost=cost, dtype=dtype, seed=i).save(path)
        files.append(path.read_bytes())
    with np.load(model_dir / "real1.npz") as z:  # what np.savez_compressed makes of it
        buf = io.BytesIO()
        np.savez_compressed(buf, header=z["header"], params=z["params"])
    return files + [buf.getvalue()]


@st.composite
def mutations(draw, size):
    """1-4 edits of a file of `size` bytes: bit flips, truncations, insertions,
    deletions and overwrites (spans so zip structures get hit, not just data)."""
    ops = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "flip", "truncate", "insert", "delete", "overwrite"]))
        pos = draw(st.integers(0, size))
        ops.append((kind, pos, draw(st.integers(0, 7)) if kind == "flip" else
                    draw(st.binary(min_size=1, max_size=16)) if kind in ("insert", "overwrite") else
                    draw(st.integers(1, 64))))
    return ops


def mutate(data, ops):
    b = bytearray(data)
    for kind, pos, arg in ops:
        pos = min(pos, len(b))
        if kind == "flip" and pos < len(b):
            b[pos] ^= 1 << arg
        elif kind == "truncate":
            del b[pos:]
        elif kind == "insert":
            b[pos:pos] = arg
        elif kind == "delete":
            del b[pos:pos + arg]
        elif kind == "overwrite":
            b[pos:pos + len(arg)] = arg
    return bytes(b)


@settings(PROFILE)
@given(data=st.data())
def test_load_mutated_model_files(model_dir, model_files, data):
    original = data.draw(st.sampled_from(model_files))
    damaged = mutate(original, data.draw(mutations(len(original))))
    path = model_dir / "mutated.npz"
    path.write_bytes(damaged)
    try:
        net = fastbp.load(path)
    except ValueError as e:
        assert "not a valid fastbp model" in str(e)
        return
    # a mutation that still loads (a flipped data bit, say) gives a usable model
    assert np.isfinite(net.params).all()
    assert net.forward(np.zeros(net.sizes[0])).shape == (net.sizes[-1],)


# ------------------------------------------------------------------ command line

@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory):
    """A CSV to train on, a model trained on it, and files that are not."""
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    rows = [",".join(f"{v:.3f}" for v in x) + f",{int(x[0] > 0)}" for x in X]
    (d / "data.csv").write_text("a,b,c,label\n" + "\n".join(rows) + "\n")
    (d / "bad.csv").write_text("a,b\n1,x\n2\n")
    (d / "broken.npz").write_bytes(b"PK\x03\x04" + bytes(40))
    assert fastbp.cli.main(["train", str(d / "data.csv"), "--epochs", "1",
                            "--out", str(d / "model.npz")]) == 0
    return d


CLI_COMMANDS = ["demo", "info", "train", "evaluate", "predict", "nope", "-h", ""]
CLI_FILES = ["data.csv", "bad.csv", "model.npz", "broken.npz", "missing.csv", ".", "data.csv.json"]
NUMBERS = ["0", "-1", "1", "2", "0.5", "1e3", "1e300", "nan", "inf", "x", ""]
CLI_OPTIONS = {  # option -> values to try: sensible and not
    "--dataset": ["wheat", "mnist", "all", "x"],
    "--epochs": NUMBERS, "--seed": NUMBERS, "--threads": NUMBERS, "--batch-size": NUMBERS,
    "--lr": ["3", "0.1"] + NUMBERS, "--test-fraction": ["0.2", "0.5"] + NUMBERS,
    "--target": ["label", "-1", "0", "3", "9", "x"],
    "--layers": ["3,2", "4,1", "2", "4,0", "x", "1,1,1"],
    "--activation": list(HIDDEN) + ["softmax", "x"],
    "--cost": list(COSTS) + ["x"],
    "--out": ["out.npz", "missing/out.npz", "."] + CLI_FILES,
    "--standardize": [None], "--no-standardize": [None], "--quiet": [None], "--proba": [None],
    "--delimiter": [",", ";", "auto", "\\t", ""], "--bogus": [None, "1"],
}


@st.composite
def cli_argv(draw):
    """A command, its positional files, then options with values drawn for
    each option: most argv get past argparse, so the commands are fuzzed."""
    argv = [draw(st.sampled_from(CLI_COMMANDS))]
    argv += draw(st.lists(st.sampled_from(CLI_FILES), max_size=3))
    for option in draw(st.lists(st.sampled_from(list(CLI_OPTIONS)), max_size=4)):
        value = draw(st.sampled_from(CLI_OPTIONS[option]))
        argv += [option] if value is None else [option, value]
    return argv


@settings(PROFILE, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=cli_argv())
def test_cli(cli_dir, argv):
    """main(argv) returns 0, or 2 with one 'fastbp: error:' line (argparse's
    --help exits 0); never a traceback. Files are read and written in a temp
    dir; `fastbp demo`'s training is stubbed (the datasets are tested elsewhere)."""
    old_threads, old_cwd = fastbp.get_num_threads(), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.chdir(cli_dir)
        with mock.patch("fastbp.cli._train", return_value=1.0), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = fastbp.cli.main(argv)
    finally:
        os.chdir(old_cwd)
        fastbp.set_num_threads(old_threads)
    assert status in (0, 2), (argv, status, err.getvalue())
    if status == 2:
        assert "fastbp: error:" in err.getvalue() or "usage:" in err.getvalue(), err.getvalue()


# found by test_cli: fit's FloatingPointError came out as a traceback
def test_cli_diverging_training_is_a_one_line_error(cli_dir, capsys):
    old_cwd = os.getcwd()
    try:
        os.chdir(cli_dir)
        status = fastbp.cli.main(["train", "data.csv", "--activation", "leaky_relu",
                                  "--test-fraction", "0", "--out", "o.npz"])
    finally:
        os.chdir(old_cwd)
    assert status == 2 and "fastbp: error:" in capsys.readouterr().err


# ------------------------------------------------------------------ parse time

# Every parser runs in time linear in its input (reliability issue #14): a
# hostile line of n characters costs O(n), never O(n²) through regex
# backtracking or per-item rescans. A FANN connection line of 16,000 '1's
# took 10-18 s; linear parsing takes milliseconds. The bound is generous
# (machines here are shared and noisy): at most PER_BYTE seconds per byte,
# plus a constant.
PER_BYTE, SLACK = 20e-6, 1.0


@pytest.fixture(scope="module")
def parse_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("parse")
    from fastbp.compat import fann
    fann.save(fastbp.Network([2, 3, 1], activation="tanh", output_activation="sigmoid", seed=0),
              d / "ok.net")
    fastbp.Network([2, 1], seed=0).save(d / "model.npz")
    return d


def _fann_before(d, key):
    return (d / "ok.net").read_text().split(key + "=")[0] + key + "="


def _write_model_header(path, text):
    import zipfile
    header = np.frombuffer(text.encode("utf-8", "replace"), np.uint8)
    buf = io.BytesIO()
    np.save(buf, header)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.npy", buf.getvalue())
        params = io.BytesIO()
        np.save(params, np.zeros(3))
        z.writestr("params.npy", params.getvalue())


def _parse(kind, d, hostile):
    """Feed `hostile` to one parser, as the part of a file it parses; its
    errors are expected, only the time counts."""
    from fastbp.compat import fann, network2
    from fastbp import datasets
    path = d / f"hostile-{kind}"
    if kind.startswith("fann"):
        key = {"fann_connections": fann._CONNECTIONS_KEY, "fann_neurons": fann._NEURONS_KEY,
               "fann_layers": "layer_sizes"}[kind]
        path.write_text(_fann_before(d, key) + hostile + "\n")
        call = lambda: fann.load(path)  # noqa: E731
    elif kind == "csv":
        path.write_text("a,b\n" + hostile + "\n")
        call = lambda: datasets.load_csv(path)  # noqa: E731
    elif kind == "idx":
        path.write_bytes(b"\x00\x00\x08\x01" + hostile.encode("utf-8", "replace"))
        call = lambda: datasets.load_mnist_idx(path, path)  # noqa: E731
    elif kind == "model_header":
        _write_model_header(path, hostile)
        call = lambda: fastbp.load(path)  # noqa: E731
    elif kind == "sidecar":
        (d / "model.npz.json").write_text(hostile)
        net = fastbp.load(d / "model.npz")
        call = lambda: fastbp.cli._read_sidecar(d / "model.npz", net)  # noqa: E731
    else:  # network2
        path.write_text(hostile)
        call = lambda: network2.load(path)  # noqa: E731
    start = time.perf_counter()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            call()
    except (ValueError, TypeError, fastbp.cli.CommandError):
        pass
    return time.perf_counter() - start


PARSE_KINDS = ["fann_connections", "fann_neurons", "fann_layers", "csv", "idx", "model_header",
               "sidecar", "network2"]
HOSTILE_UNITS = ["1", " ", "(", "(0, ", "0,", "[", "{\"a\":", "\"", "e", ".", "-", "1e", "\t",
                 "(0, 0, ", "1.", ",", "\n", "\\u"]


@settings(PROFILE, max_examples=min(PROFILE.max_examples, 60),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(PARSE_KINDS), lead=st.sampled_from(["", "(0, ", "(1, 3, ", "[", "{"]),
       unit=st.sampled_from(HOSTILE_UNITS), tail=st.sampled_from(["x", ")", "", "]", "\n"]),
       n=st.sampled_from([16_000, 64_000]))
def test_parse_time_is_linear(parse_dir, kind, lead, unit, tail, n):
    hostile = lead + unit * (n // len(unit)) + tail
    seconds = _parse(kind, parse_dir, hostile)
    assert seconds < SLACK + PER_BYTE * len(hostile), \
        f"{kind}: {seconds:.2f} s for {len(hostile):,} characters ({lead!r} + {unit!r}… + {tail!r})"


@pytest.mark.parametrize("kind,line", [
    ("fann_connections", "(0, {1}x"),      # the reported case: 16,000 '1's took 10-18 s
    ("fann_neurons", "(0, 0, {1}x"),
    ("fann_connections", "(0, 0) {s}x"),   # spaces before a non-entry
    ("fann_layers", "{1}x"),
    ("csv", "{1}x"),
])
def test_hostile_lines_parse_in_linear_time(parse_dir, kind, line):
    times = {}
    for n in (16_000, 64_000):
        hostile = line.replace("{1}", "1" * n).replace("{s}", " " * n)
        times[n] = _parse(kind, parse_dir, hostile)
    # 4x the input: linear is ~4x the time, quadratic 16x
    assert times[64_000] < SLACK + PER_BYTE * 64_000, times
    assert times[64_000] < 8 * times[16_000] + 0.2, times
