"""Input checks at fastbp's Python boundary: the only place inputs are checked.

The compiled core assumes what these functions guarantee: C-contiguous,
finite arrays of the network's dtype with the right shapes. Each error names
the argument it is about. Nothing here changes a network.
"""
import numbers
import operator
import sys
import warnings

import numpy as np

from . import _core

ACTIVATIONS = tuple(_core.ACTIVATION_CODES)   # the names; the codes are the core's
HIDDEN_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a != "softmax")
COSTS = tuple(_core.COST_CODES)
INITS = ("auto", "gaussian", "xavier", "he")
DTYPES = {"float32": np.float32, "float64": np.float64}
LEAKY_SLOPE = _core.LEAKY_SLOPE
# Output activation each cost requires (its output delta is A − Y only then).
COST_OUTPUT = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


def check_name(value, allowed, argname):
    if not isinstance(value, str):
        raise TypeError(f"{argname} must be a string, one of {list(allowed)}; got {type(value).__name__}")
    if value not in allowed:
        raise ValueError(f"unknown {argname} {value!r}; expected one of {list(allowed)}")
    return value


def check_activations(activation, n_hidden):
    """A hidden activation name, or a list of one per hidden layer -> the
    name, or a tuple of names (immutable: it is part of the structure)."""
    if isinstance(activation, str):
        return check_name(activation, HIDDEN_ACTIVATIONS, "activation")
    if not isinstance(activation, (list, tuple)):
        raise TypeError(f"activation must be a name or a list of names, one per hidden layer; "
                        f"got {type(activation).__name__}")
    if len(activation) != n_hidden:
        raise ValueError(f"activation needs one name per hidden layer ({n_hidden}); "
                         f"got {len(activation)}")
    return tuple(check_name(a, HIDDEN_ACTIVATIONS, f"activation[{l}]")
                 for l, a in enumerate(activation))


def check_dtype(dtype):
    """'float32'/'float64' or the NumPy type/dtype -> native numpy dtype."""
    if dtype is None:  # np.dtype(None) would quietly mean float64
        raise TypeError("dtype must be 'float32' or 'float64'; got None")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        # an unknown name is a bad value, like an unknown activation name
        exc = ValueError if isinstance(dtype, str) else TypeError
        raise exc(f"dtype must be 'float32' or 'float64'; got {dtype!r}") from None
    if dt.name not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dt.name!r}")
    # '>f8' is named float64 too, but the core reads native byte order only
    return np.dtype(DTYPES[dt.name])


def check_sizes(sizes):
    """Layer widths [n_in, hidden..., n_out] -> tuple of ints."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a sequence of layer widths; got {type(sizes).__name__}")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least 2 entries (inputs and outputs); got {list(sizes)}")
    out = []
    for s in sizes:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral):
            raise TypeError(f"sizes entries must be integers; got {s!r}")
        if s < 1:
            raise ValueError(f"sizes entries must be positive; got {list(sizes)}")
        out.append(operator.index(s))
    return tuple(out)


def check_positive_int(value, argname):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{argname} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{argname} must be a positive integer; got {value}")
    return int(value)


def check_positive_float(value, argname):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argname} must be a positive number; got {value!r}")
    value = float(value)
    if not (value > 0 and np.isfinite(value)):
        raise ValueError(f"{argname} must be a positive finite number; got {value}")
    return value


def check_non_negative_float(value, argname):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argname} must be a non-negative number; got {value!r}")
    value = float(value)
    if not (value >= 0 and np.isfinite(value)):
        raise ValueError(f"{argname} must be a non-negative finite number; got {value}")
    return value


def _numeric_array(X, argname):
    if isinstance(X, (str, bytes)):
        raise TypeError(f"{argname} must be a numeric array; got {type(X).__name__}")
    try:
        arr = np.asarray(X)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"{argname} cannot be read as an array: {e}") from None
    if arr.dtype == object:
        raise TypeError(f"{argname} must be a numeric array; got dtype object")
    # bool, ints and floats only: timedelta64 counts as a np.number but is no feature
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{argname} must be a real numeric array; got dtype {arr.dtype}")
    return arr


def _finite_copy(arr, dtype, argname, finite=True, threads=1):
    """C-contiguous array of dtype (a copy only when needed), checked finite
    (unless finite is False: the caller has the core check it on the way),
    on up to `threads` threads."""
    if arr.dtype == dtype and arr.flags.c_contiguous and arr.flags.aligned:
        out = arr  # what np.require gives, without its cost at every call
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            # aligned too: the kernels load whole floats from these addresses
            out = np.require(arr, dtype=dtype, requirements=["C", "A"])
    if finite:
        check_finite(out, argname, threads)
    return out


def check_finite(arr, argname, threads=1):
    """not_finite's error if arr (an array of its final dtype) holds a NaN or
    inf, looked for on up to `threads` threads."""
    if not (_core.all_finite(arr.reshape(-1), threads)
            if arr.dtype in (np.float32, np.float64) else np.isfinite(arr).all()):
        raise not_finite(argname, arr.dtype)


def not_finite(argname, dtype, error=ValueError):
    """The error of an input with NaN or inf (after conversion to dtype)."""
    return error(f"{argname} contains NaN or inf (or values too large for "
                 f"{np.dtype(dtype).name})")


class FoundNotFinite(ValueError):
    """fit's X holds NaN or inf, found as its first epoch read the rows (not
    before: FitSettings.x_checked): whoever set the fit up undoes that."""


def check_seed(seed, argname="seed"):
    """None or a non-negative integer (what numpy.random.default_rng takes)."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{argname} must be a non-negative integer or None; got {seed!r}")
    if seed < 0:
        raise ValueError(f"{argname} must be a non-negative integer or None; got {seed}")
    return int(seed)


def check_values(value, shape, dtype, argname):
    """Finite values of exactly `shape`, as `dtype`: for writes into a model."""
    arr = _numeric_array(value, argname)
    if arr.shape != tuple(shape):
        raise ValueError(f"{argname} must have shape {tuple(shape)}; got {arr.shape}")
    return _finite_copy(arr, dtype, argname)


def check_inputs(X, n_features, dtype, argname="X", finite=True, threads=1):
    """X of shape (n, n_features), or one sample (n_features,) -> (n, n_features);
    finite=False leaves its finiteness to the caller (see _finite_copy), which
    is checked on up to `threads` threads."""
    arr = _numeric_array(X, argname)
    if arr.ndim == 1 and arr.shape[0] == n_features:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"{argname} must be 2-D (n_samples, {n_features}); got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{argname} is empty: it has no samples")
    if arr.shape[1] != n_features:
        raise ValueError(f"{argname} has {arr.shape[1]} features per sample; the network takes {n_features}")
    return _finite_copy(arr, dtype, argname, finite, threads)


def check_targets(Y, n_samples, n_outputs, dtype, argname="Y", cost=None):
    """Targets (n, n_outputs), or 1-D class labels (one-hot; one output unit
    takes the labels 0/1 or any real target as its single column). The two
    cross-entropies (`cost`) take probabilities: targets in [0, 1]."""
    arr = _numeric_array(Y, argname)
    if arr.ndim == 1:
        if n_outputs == 1:
            if arr.dtype.kind in "biu" and arr.size and not np.isin(arr, (0, 1)).all():
                bad = arr[~np.isin(arr, (0, 1))][0]
                raise ValueError(f"{argname}: a network with one output unit takes the class "
                                 f"labels 0 and 1; got {bad}. For more classes give it one "
                                 f"output per class; for regression, real-valued targets (floats)")
            arr = arr.reshape(-1, 1)
        else:
            if arr.dtype.kind == "f":
                if not np.isfinite(arr).all():
                    raise ValueError(f"{argname} contains NaN or inf")
                if np.any(arr != np.round(arr)):
                    raise ValueError(f"{argname} is 1-D, so it must hold integer class labels; "
                                     f"got non-integer values")
            # range check before the int cast, which would wrap huge values
            if arr.size and (arr.min() < 0 or arr.max() >= n_outputs):
                raise ValueError(f"{argname} has class labels out of range: they must be in "
                                 f"[0, {n_outputs - 1}]; got min {arr.min()}, max {arr.max()}")
            labels = arr.astype(np.int64)
            arr = np.zeros((labels.shape[0], n_outputs), dtype=dtype)
            arr[np.arange(labels.shape[0]), labels] = 1
    if arr.ndim != 2:
        raise ValueError(f"{argname} must be 1-D labels or 2-D (n_samples, {n_outputs}); got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{argname} has {arr.shape[0]} samples but X has {n_samples}")
    if arr.shape[1] != n_outputs:
        raise ValueError(f"{argname} has {arr.shape[1]} columns; the network has {n_outputs} outputs")
    arr = _finite_copy(arr, dtype, argname)
    if cost in ("cross_entropy", "binary_cross_entropy") and arr.size \
            and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{argname} holds targets outside [0, 1] (min {arr.min()}, max "
                         f"{arr.max()}); cost={cost!r} takes probabilities")
    return arr


def check_sample_weight(sample_weight, n_samples, argname="sample_weight"):
    """None, or n_samples finite non-negative weights, not all zero ->
    float64, divided by their largest (weighted means do not change, and
    neither Σw nor 1/Σw can overflow: 1 <= Σw <= n)."""
    if sample_weight is None:
        return None
    arr = _numeric_array(sample_weight, argname)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"{argname} must have shape ({n_samples},), one weight per sample; "
                         f"got {arr.shape}")
    arr = _finite_copy(arr, np.float64, argname)
    if (arr < 0).any():
        raise ValueError(f"{argname} must not be negative; got min {arr.min()}")
    if not arr.any():
        raise ValueError(f"{argname} is all zero: there is nothing to learn from")
    return arr / arr.max()


class InputScaleWarning(UserWarning):
    """fit's inputs are far from unit scale for the hidden activation."""


# Column RMS beyond which the first hidden layer's pre-activations, w·x with
# the default init (‖w‖ ≈ 1), sit where sigmoid and tanh are flat (σ'(4) ≈
# 0.02), or where ReLU's gradients are too large for the usual rates; and
# below which every input is nearly zero. Raw wheat seeds (RMS up to 15) and
# 0-255 pixels are beyond; standardized data and [0, 1] pixels are not.
SCALE_HIGH, SCALE_LOW = 4.0, 1e-2
_SAMPLE_ROWS = 256  # rows looked at: enough to see the scale, cheap for any X (M: 0.1 ms)


def warn_if_unscaled(X, activation, stacklevel=3):
    """One InputScaleWarning, pointing at fit's caller, when the columns of
    the checked inputs X are far from unit scale for `activation` (the first
    hidden layer's: a name or the tuple of names). The message does not
    depend on X, so Python's default filter shows it once per calling line.
    Fits from fastbp.sklearn are exempt: its estimators give scikit-learn's
    warnings, and no others."""
    if sys._getframe(stacklevel - 1).f_globals.get("__name__") == "fastbp.sklearn":
        return
    rows = X[:: max(1, X.shape[0] // _SAMPLE_ROWS)]
    # in X's own precision (no float64 copy of the rows: 3x faster); |x| >
    # 1e19 in float32, 1e154 in float64: inf (einsum warns of no overflow),
    # which is far from 1 too
    rms = np.sqrt(np.einsum("ij,ij->j", rows, rows) / rows.shape[0])
    largest = float(rms.max()) if rms.size else 1.0
    if SCALE_LOW <= largest <= SCALE_HIGH:
        return
    if not np.isfinite(largest) and not np.isfinite(rows).all():
        return  # X holds NaN or inf, which fit refuses when it reads it
    act = activation if isinstance(activation, str) else activation[0]
    if largest > SCALE_HIGH:
        effect = (f"{act} units saturate and training can stay at chance"
                  if act in ("sigmoid", "tanh") else
                  f"{act} units pass them on and gradients become too large for usual rates")
        what = (f"fit: some columns of X are far larger than 1 (root mean square > {SCALE_HIGH:g}): "
                f"{effect}.")
    else:
        what = (f"fit: every column of X is close to 0 (root mean square < {SCALE_LOW:g}): "
                f"the network barely sees its inputs and learns slowly.")
    warnings.warn(f"{what} Standardize the columns (fastbp.datasets.standardize(X_train, "
                  f"X_test), scikit-learn's StandardScaler, or `fastbp train`'s default) or "
                  f"divide pixels by 255.", InputScaleWarning, stacklevel=stacklevel)


def is_classification(Y):
    """Are checked targets Y (n, k) classes: one-hot rows, or 0/1 for one
    output? (Labels are one-hot by then.) Else they are real-valued, and no
    accuracy is reported."""
    if Y.shape[1] == 1:
        return bool(((Y == 0) | (Y == 1)).all())
    # rows of non-negative numbers that sum to 1 hold at most one 1, so with
    # as many 1s as rows each holds one: one-hot. (Row maxima and sums by
    # NumPy's reductions take 0.29 ms for 5,000 rows of 10, 1.5% of a fit.)
    return bool(Y.min() >= 0 and np.count_nonzero(Y == 1) == Y.shape[0]
                and (np.einsum("ij->i", Y) == 1).all())


def label_array(Y, n_outputs):
    """Y as a 1-D array of labels, or None when its shape makes it targets.
    A one-column 2-D array (a DataFrame's column) is labels when the network
    has more than one output; strings in an object array become str."""
    if isinstance(Y, (str, bytes)):
        return None
    try:
        arr = np.asarray(Y)
    except Exception:  # ragged: check_targets names the problem
        return None
    if arr.ndim == 2 and arr.shape[1] == 1 and n_outputs > 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        return None
    if arr.dtype == object and all(isinstance(v, str) for v in arr):
        arr = arr.astype(str)
    return arr.astype(np.int64) if arr.dtype.kind == "b" else arr


def label_classes(Y, n_outputs, current=None, argname="Y"):
    """The classes fit keeps for 1-D labels Y (any sortable labels: sorted
    unique, as scikit-learn's classes_; integer labels 0..k-1 of k outputs:
    all k, so that a label is its output's index), `current` when Y's labels
    are all among them, or when Y is targets (2-D, or real numbers for one
    output)."""
    y = label_array(Y, n_outputs)
    if y is None or (n_outputs == 1 and y.dtype.kind == "f") or y.size == 0:
        return current
    if y.dtype.kind in "iu" and (current is None or np.array_equal(current, np.arange(
            max(n_outputs, 2)))) and y.min() >= 0 and y.max() < max(n_outputs, 2):
        return np.arange(max(n_outputs, 2))  # output indices, as before (no sort of y)
    try:
        classes = np.unique(y)
    except TypeError:
        raise TypeError(f"{argname}: labels must be of one sortable type (all strings or "
                        f"all numbers)") from None
    if classes.dtype.kind == "f" and not np.isfinite(classes).all():
        raise ValueError(f"{argname} contains NaN or inf")
    if current is not None and _among(classes, current).all():
        return current
    numeric = classes.dtype.kind in "biuf"
    if n_outputs == 1:
        if numeric:  # check_targets: 0 and 1 only
            return np.arange(2) if np.isin(classes, (0, 1)).all() else current
        wanted = 2
    else:
        if numeric and (classes == np.round(classes)).all() and classes[0] >= 0 \
                and classes[-1] < n_outputs:
            return np.arange(n_outputs)
        wanted = n_outputs
    if len(classes) != wanted:
        raise ValueError(f"{argname} has {len(classes)} distinct labels; the network's "
                         f"{n_outputs} output unit{'s' if n_outputs > 1 else ''} take "
                         f"{wanted}: {classes[:10].tolist()}")
    return classes


def _among(values, classes):
    """Which of `values` are in the sorted array `classes`."""
    if (values.dtype.kind in "biuf") != (classes.dtype.kind in "biuf"):
        return np.zeros(values.shape, dtype=bool)
    idx = np.minimum(np.searchsorted(classes, values), len(classes) - 1)
    return classes[idx] == values


def encode_labels(Y, classes, n_outputs, argname="Y"):
    """1-D labels Y as the indices of `classes` (what the output units
    stand for); Y unchanged when it is targets (2-D, or floats for one output)."""
    y = label_array(Y, n_outputs)
    if y is None or (n_outputs == 1 and y.dtype.kind == "f"):
        return Y
    if y.dtype.kind in "biu" and np.array_equal(classes, np.arange(len(classes))):
        return y  # labels that are indices already (check_targets checks their range)
    if y.dtype.kind not in "biufUS":
        return Y  # check_targets names the problem
    known = _among(y, classes)
    if not known.all():
        raise ValueError(f"{argname} has labels that are not among the network's classes "
                         f"{classes[:10].tolist()}: {y[~known][0]!r}")
    return np.searchsorted(classes, y).astype(np.int64)


class TargetRangeWarning(UserWarning):
    """fit's targets lie outside what the output activation can reach."""


# What each output activation reaches; the others reach every real number.
OUTPUT_RANGE = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0),
                "relu": (0.0, np.inf)}


def warn_if_out_of_range(Y, output_activation, stacklevel=3):
    """One TargetRangeWarning, pointing at fit's caller, when checked targets
    Y lie outside the output activation's range: the outputs cannot reach
    them, and training gets stuck without a word. The message does not depend
    on Y, so Python's default filter shows it once per calling line."""
    low, high = OUTPUT_RANGE.get(output_activation, (-np.inf, np.inf))
    if not Y.size or (Y.min() >= low and Y.max() <= high):
        return
    warnings.warn(f"fit: some targets lie outside [{low:g}, {high:g}], the range of the output "
                  f"activation {output_activation!r} (which defaults to the hidden one): the "
                  f"outputs cannot reach them and training gets stuck. For regression make "
                  f"the network with output_activation=\"identity\" (or scale the targets into "
                  f"that range).", TargetRangeWarning, stacklevel=stacklevel)
