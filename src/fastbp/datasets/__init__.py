"""Small real data sets bundled with fastbp, plus the two helpers needed to use them.

Purpose: give examples, tests and benchmarks real data that works offline and
from an installed wheel, without pulling in scikit-learn or pandas.

- ``load_wheat_seeds``: UCI "seeds" (210 x 7, 3 classes).
- ``load_mnist_5k``: a 5,000-image MNIST subset (5000 x 784, 10 classes).
- ``train_test_split``: stratified, seeded split.
- ``standardize``: scale with statistics from the training part only;
  ``standardize_stats`` gives those statistics, to store and reuse.
- ``load_csv``: a user's numeric CSV file with a target column.
- ``load_mnist_idx``: the standard MNIST IDX files, raw or gzipped.

Sources, citations and licences of the files: ``data/README.md``.
"""

from functools import lru_cache
import gzip
from importlib.resources import files

import numpy as np

from ._csvfile import load_csv
from ._idx import load_mnist_idx

__all__ = ["load_wheat_seeds", "load_mnist_5k", "train_test_split", "standardize",
           "standardize_stats", "load_csv", "load_mnist_idx"]


def _data_path(name):
    # importlib.resources rather than __file__ so the files are found however
    # the package was installed (wheel, editable, zip).
    return files("fastbp.datasets") / "data" / name


# The parsed files are cached because MNIST takes ~0.2 s to parse; the cached
# arrays are made read-only and never handed out, so callers always get fresh
# arrays they are free to modify.
@lru_cache(maxsize=None)
def _raw_wheat_seeds():
    with _data_path("wheat-seeds.csv").open("r", encoding="ascii") as f:
        # Comma-separated, no header; the last column is the variety 1..3.
        raw = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    raw.setflags(write=False)
    return raw


@lru_cache(maxsize=None)
def _raw_mnist_5k():
    with _data_path("mnist_5k.csv.gz").open("rb") as fb, gzip.open(fb, "rb") as f:
        # Comma-separated, no header; 784 pixels 0..255 then the label 0..9.
        # uint8 keeps the parse small; conversion to float happens per call.
        raw = np.loadtxt(f, delimiter=",", dtype=np.uint8, ndmin=2)
    raw.setflags(write=False)
    return raw


def _fixed_order(n):
    """A shuffled order of n rows that never changes: rows sorted by a
    splitmix64 hash of their index (not NumPy's generators, whose streams
    may change between versions)."""
    z = np.arange(n, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.argsort(z ^ (z >> np.uint64(31)), kind="stable")


def load_wheat_seeds():
    """Load the UCI wheat seeds data set.

    Returns
    -------
    X : ndarray of float64, shape (210, 7)
        Raw (unstandardised) kernel measurements: area, perimeter,
        compactness, length, width, asymmetry coefficient, groove length.
    y : ndarray of int64, shape (210,)
        Variety, 0 = Kama, 1 = Rosa, 2 = Canadian (70 each).
    """
    raw = _raw_wheat_seeds()
    X = raw[:, :-1].copy()
    # The file numbers the varieties 1..3; the rest of fastbp uses 0-based labels.
    y = raw[:, -1].astype(np.int64) - 1
    return X, y


def load_mnist_5k():
    """Load a 5,000-image subset of MNIST.

    Returns
    -------
    X : ndarray of float64, shape (5000, 784)
        Pixel intensities scaled to [0, 1]; each row is a 28x28 image in
        row-major order.
    y : ndarray of int64, shape (5000,)
        Digit labels 0..9 (500 of each).

    The rows come in a fixed shuffled order, the same in every call and
    every version, so ``X[:1000]`` holds every digit (the file stores them
    sorted by digit).
    """
    raw = _raw_mnist_5k()[_fixed_order(5000)]
    X = raw[:, :-1].astype(np.float64) / 255.0
    y = raw[:, -1].astype(np.int64)
    return X, y


def train_test_split(X, y, test_fraction=0.25, seed=0):
    """Split data into a training and a test part, stratified by class.

    Each class contributes ``round(test_fraction * n_class)`` rows (halves
    rounded up) to the test part, so class proportions are kept in both parts.

    Parameters
    ----------
    X : array_like, shape (n_samples, ...)
        Features.
    y : array_like, shape (n_samples,)
        Class labels.
    test_fraction : float, default 0.25
        Fraction of each class put in the test part, strictly between 0 and 1.
    seed : int, default 0
        Seed for ``numpy.random.default_rng``; the same seed gives the same split.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        New arrays (not views of the inputs), rows in shuffled order.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")

    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = int(np.floor(test_fraction * idx.size + 0.5))
        test_parts.append(idx[:n_test])
        train_parts.append(idx[n_test:])
    # Shuffle across classes too: rows grouped by class would bias
    # mini-batch training that walks the arrays in order.
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = rng.permutation(np.concatenate(test_parts))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def standardize(X_train, *others):
    """Standardise features using the mean and std of the training data.

    Features with zero standard deviation are only centred (std taken as 1),
    so constant columns such as MNIST's border pixels do not produce NaN.

    Parameters
    ----------
    X_train : array_like, shape (n_samples, n_features)
        Data the statistics are computed from.
    *others : array_like, shape (m, n_features)
        Further arrays (e.g. a test set) scaled with the same statistics.

    Returns
    -------
    tuple of ndarray of float64
        ``(X_train_s, *others_s)``, new arrays in the order given.
    """
    mean, std = standardize_stats(X_train)
    return tuple((np.asarray(a, dtype=np.float64) - mean) / std for a in (X_train, *others))


def standardize_stats(X_train):
    """The statistics ``standardize`` scales with.

    Parameters
    ----------
    X_train : array_like, shape (n_samples, n_features)

    Returns
    -------
    mean, std : ndarray of float64, shape (n_features,)
        Per-feature mean and standard deviation, std taken as 1 where it is
        zero; ``(X - mean) / std`` is what ``standardize`` returns.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    huge = ~(np.isfinite(mean) & np.isfinite(std))
    if huge.any():  # sums or squares of values near 1e154 and up overflow: scale first
        cols = X_train[:, huge]
        scale = np.abs(cols).max(axis=0)
        mean[huge] = (cols / scale).mean(axis=0) * scale
        std[huge] = (cols / scale).std(axis=0) * scale
        if not (np.isfinite(mean) & np.isfinite(std)).all():  # values spread over ~1e308
            bad = int(np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))[0])
            raise ValueError(f"feature {bad}: its mean or standard deviation overflows "
                             f"float64; rescale it before standardizing")
    return mean, np.where(std == 0.0, 1.0, std)
