"""fastbp.compat.mnist_loader: Nielsen's load_data / load_data_wrapper over the
bundled digits (no pickle), or over his mnist.pkl.gz when given its path."""
import gzip
import pickle
import random

import numpy as np
import pytest

from fastbp.compat import mnist_loader, network
from fastbp.datasets import load_mnist_5k

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def test_load_data_cuts_the_bundled_digits_3000_1000_1000():
    parts = mnist_loader.load_data()
    X, y = load_mnist_5k()
    start = 0
    for (images, labels), n in zip(parts, (3000, 1000, 1000)):
        assert images.shape == (n, 784) and images.dtype == np.float32
        assert labels.shape == (n,) and labels.dtype == np.int64
        np.testing.assert_array_equal(images, X[start:start + n].astype(np.float32))
        np.testing.assert_array_equal(labels, y[start:start + n])
        assert len(np.unique(labels)) == 10  # the order is shuffled: every digit
        start += n


def test_load_data_wrapper_is_his_format_and_trains_his_network():
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    assert (len(training_data), len(validation_data), len(test_data)) == (3000, 1000, 1000)
    x, y = training_data[0]
    assert x.shape == (784, 1) and y.shape == (10, 1) and y.sum() == 1
    x, label = test_data[0]
    assert x.shape == (784, 1) and isinstance(label, int)
    random.seed(0)
    np.random.seed(0)
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 3, 10, 3.0)
    # chapter 1's N(0, 1) start learns slowly (see test_compat.py); chance is 100
    assert net.evaluate(test_data) > 300


def test_his_pickle_is_read_from_the_path_given(tmp_path):
    rng = np.random.default_rng(0)
    parts = tuple((rng.uniform(0, 1, (n, 784)).astype(np.float32), rng.integers(0, 10, n))
                  for n in (5, 3, 2))
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f, protocol=2)  # his file is a Python 2 pickle
    loaded = mnist_loader.load_data(path)
    for (images, labels), (want_images, want_labels) in zip(loaded, parts):
        np.testing.assert_array_equal(images, want_images)
        np.testing.assert_array_equal(labels, want_labels)
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper(str(path))
    assert len(training_data) == 5 and len(test_data) == 2
    assert int(np.argmax(training_data[1][1])) == parts[0][1][1]


def test_vectorized_result():
    e = mnist_loader.vectorized_result(3)
    assert e.shape == (10, 1) and e[3, 0] == 1 and e.sum() == 1
