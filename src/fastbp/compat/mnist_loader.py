"""Nielsen's ``mnist_loader.py``: MNIST in the format his ``network.py`` takes.

    from fastbp.compat import mnist_loader, network
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

Without a path, the data are the 5,000 digits bundled with fastbp
(``fastbp.datasets.load_mnist_5k``, no download, no pickle), split in his
proportions' spirit as 3,000 training, 1,000 validation and 1,000 test
digits. With ``path``, the file is his ``mnist.pkl.gz`` (50,000 / 10,000 /
10,000 digits, from mnielsen/neural-networks-and-deep-learning/data).

That file is a Python pickle, and unpickling a file can run any code it
holds: pass only a file you trust (his, downloaded from his repository).
fastbp reads a pickle only when given its path here.

``load_data_wrapper`` returns lists rather than his Python 2 ``zip`` lists'
Python 3 ``zip`` iterators, so the data can be passed to ``SGD`` more than
once.
"""
import gzip
import os
import pickle

import numpy as np

from .. import datasets
from .network2 import vectorized_result  # the same function in both of his modules

__all__ = ["load_data", "load_data_wrapper", "vectorized_result"]

# How the bundled 5,000 digits (a fixed shuffled order) are cut.
BUNDLED_SPLIT = (3000, 1000, 1000)


def load_data(path=None):
    """(training_data, validation_data, test_data), each a tuple (images,
    labels): images float32 (n, 784) in [0, 1], labels int64 (n,).

    path: None for the bundled subset (3,000 / 1,000 / 1,000 digits), or
    the path of his ``mnist.pkl.gz``, which is unpickled: a trusted file only.

    Parameters
    ----------
    path : str or os.PathLike, optional
        His ``mnist.pkl.gz``; None: the bundled digits.
    """
    if path is None:
        X, y = datasets.load_mnist_5k()
        X = X.astype(np.float32)
        a, b = BUNDLED_SPLIT[0], BUNDLED_SPLIT[0] + BUNDLED_SPLIT[1]
        return (X[:a], y[:a]), (X[a:b], y[a:b]), (X[b:], y[b:])
    # encoding="latin1": his file was pickled by Python 2
    with gzip.open(os.fspath(path), "rb") as f:
        parts = pickle.load(f, encoding="latin1")  # noqa: S301 -- a path the caller trusts
    return tuple((np.asarray(images), np.asarray(labels, dtype=np.int64))
                 for images, labels in parts)


def load_data_wrapper(path=None):
    """(training_data, validation_data, test_data) as his network.py takes
    them: training_data a list of (x, y) with x (784, 1) and one-hot y (10, 1);
    validation_data and test_data lists of (x, label). ``path`` as in
    ``load_data``.

    Parameters
    ----------
    path : str or os.PathLike, optional
        As for `load_data`.
    """
    tr_d, va_d, te_d = load_data(path)
    training_data = [(x.reshape(784, 1), vectorized_result(y)) for x, y in zip(*tr_d)]
    validation_data = [(x.reshape(784, 1), int(y)) for x, y in zip(*va_d)]
    test_data = [(x.reshape(784, 1), int(y)) for x, y in zip(*te_d)]
    return training_data, validation_data, test_data

