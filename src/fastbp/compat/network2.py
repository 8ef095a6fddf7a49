"""Nielsen's chapter 3 ``network2.py``, with fastbp's compiled core underneath.

Adds to ``fastbp.compat.network`` what his ``network2.py`` adds: the cost
classes ``QuadraticCost`` and ``CrossEntropyCost`` (his static ``fn`` and
``delta``), L2 regularization (``lmbda``), the four ``monitor_*`` flags and
their returned lists, ``total_cost``, ``accuracy``, and ``save``/``load`` in
his JSON format. The cost classes select the compiled cost: his
``CrossEntropyCost`` on sigmoid outputs is fastbp's 'binary_cross_entropy',
his ``QuadraticCost`` is 'quadratic'; their ``fn``/``delta`` are kept for
code that calls them, but the training does not call them.

His weight decay ``(1 - eta*(lmbda/n))*w`` is fastbp's ``l2 = lmbda/n``
(an ``l2·w`` term in the weight gradient, biases untouched), so regularized
epochs run in the compiled core too.
"""
import json
import os
import stat

import numpy as np

from .._io import atomic_write
from .network import _as_list, _CompatNetwork, _shuffle, _stack, sigmoid, sigmoid_prime

__all__ = ["Network", "QuadraticCost", "CrossEntropyCost", "load", "vectorized_result",
           "sigmoid", "sigmoid_prime"]


class QuadraticCost(object):
    """C = ½‖a − y‖²."""

    @staticmethod
    def fn(a, y):
        """Cost of output ``a`` for desired output ``y``.

        Parameters
        ----------
        a, y : ndarray, shape (sizes[-1], 1)
            The output and the desired output.
        """
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        """Error delta of the output layer.

        Parameters
        ----------
        z, a, y : ndarray, shape (sizes[-1], 1)
            The output's weighted input, the output, the desired output.
        """
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost(object):
    """C = −Σ [y ln a + (1 − y) ln(1 − a)]."""

    @staticmethod
    def fn(a, y):
        """Cost of output ``a`` for desired output ``y``; nan_to_num makes
        0·ln 0 count as 0, as in his code.

        Parameters
        ----------
        a, y : ndarray, shape (sizes[-1], 1)
            The output and the desired output.
        """
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """Error delta of the output layer (``z`` unused, kept for the interface).

        Parameters
        ----------
        z, a, y : ndarray, shape (sizes[-1], 1)
            The output's weighted input, the output, the desired output.
        """
        return a - y


# His cost classes -> fastbp's compiled cost (outputs are sigmoid for both).
_CORE_COST = {QuadraticCost: "quadratic", CrossEntropyCost: "binary_cross_entropy"}


def _core_cost(cost):
    try:
        return _CORE_COST[cost]
    except (KeyError, TypeError):
        raise ValueError(f"cost must be QuadraticCost or CrossEntropyCost from "
                         f"fastbp.compat.network2 (the costs the compiled core has); "
                         f"got {cost!r}") from None


class Network(_CompatNetwork):
    """His chapter 3 network: a choice of cost, L2 regularization, monitoring.

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, inputs first, e.g. ``[784, 30, 10]``.
    cost : QuadraticCost or CrossEntropyCost
        Assigning ``net.cost`` later works too; it rebuilds the wrapped
        network, so ``weights``/``biases`` views taken before then go stale.
    """

    def __init__(self, sizes, cost=CrossEntropyCost):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.cost = cost  # builds the wrapped network, which the initializer fills
        self.default_weight_initializer()

    @property
    def cost(self):
        """The cost class, ``QuadraticCost`` or ``CrossEntropyCost``."""
        return self._cost

    @cost.setter
    def cost(self, cost):
        core = _core_cost(cost)
        if getattr(self, "_net", None) is None or self._net.cost != core:
            self._wrap(core)
        self._cost = cost

    def default_weight_initializer(self):
        """Weights N(0, 1/n_in), biases N(0, 1), drawn with ``np.random.randn``."""
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) / np.sqrt(x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def large_weight_initializer(self):
        """Weights and biases N(0, 1) (chapter 1), drawn with ``np.random.randn``."""
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False):
        """Train by mini-batch SGD with L2 regularization ``lmbda``.

        Parameters
        ----------
        training_data : list of (x, y)
            x (sizes[0], 1), y one-hot (sizes[-1], 1); shuffled in place each epoch.
        epochs, mini_batch_size : int
        eta : float
            Learning rate.
        lmbda : float
            L2 regularization parameter.
        evaluation_data : list of (x, y) or None
            y integer labels (his validation/test format).
        monitor_evaluation_cost, monitor_evaluation_accuracy,
        monitor_training_cost, monitor_training_accuracy : bool
            Measure and print these at the end of each epoch.

        Returns
        -------
        evaluation_cost, evaluation_accuracy, training_cost, training_accuracy : list
            One entry per epoch for each flag set, empty otherwise.
        """
        training_data, X, Y, order, original, held = self._prepare(
            training_data, evaluation_data, "evaluation_data")
        if held is not None:
            X_eval, Y_eval, _ = held
        n = len(training_data)
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        # his four monitors, in his order: (on, record, measure, message, of n)
        monitors = [
            (monitor_training_cost, training_cost, lambda: self._total_cost(X, Y, lmbda),
             "Cost on training data: {}", n),
            (monitor_training_accuracy, training_accuracy, lambda: self._count_correct(X, Y),
             "Accuracy on training data: {} / {}", n),
            (monitor_evaluation_cost, evaluation_cost,
             lambda: self._total_cost(X_eval, self._targets(Y_eval), lmbda),
             "Cost on evaluation data: {}", None),
            (monitor_evaluation_accuracy, evaluation_accuracy,
             lambda: self._count_correct(X_eval, Y_eval),
             "Accuracy on evaluation data: {} / {}", held and held[2])]
        for j in range(epochs):
            _shuffle(training_data, original, order)
            self._epoch(X, Y, order, mini_batch_size, eta, l2=lmbda / n)
            print("Epoch %s training complete" % j)
            for on, record, measure, message, of in monitors:
                if on:
                    record.append(measure())
                    print(message.format(record[-1], of))
            print()
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One regularized gradient step on ``mini_batch``; ``n`` is the size
        of the whole training set (it scales the weight decay).

        Parameters
        ----------
        mini_batch : list of (x, y)
        eta : float
            The learning rate.
        lmbda : float
            The L2 regularization parameter.
        n : int
            The size of the training set.
        """
        X, Y = _stack(mini_batch, "mini_batch")
        self._step(X, self._targets(Y), eta, l2=lmbda / n)

    def accuracy(self, data, convert=False):
        """Number of samples in ``data`` whose highest output is the right class.

        ``convert`` says, as in his code, that y is one-hot (training data)
        rather than an integer; the two formats are also told apart by shape.

        Parameters
        ----------
        data : list of (x, y)
        convert : bool
            y is a one-hot column (training data) rather than an integer label.
        """
        return self._count_correct(*_stack(_as_list(data), "data"))

    def total_cost(self, data, lmbda, convert=False):
        """Mean cost over ``data`` plus the L2 term ½·(lmbda/len(data))·Σ‖w‖².

        ``convert`` says y is an integer label (evaluation data) to be
        one-hot encoded; integer labels are also recognised by shape.

        Parameters
        ----------
        data : list of (x, y)
        lmbda : float
            The L2 regularization parameter.
        convert : bool
            y is an integer label (validation or test data) to make one-hot.
        """
        X, Y = _stack(_as_list(data), "data")
        return self._total_cost(X, self._targets(Y), lmbda)

    def _total_cost(self, X, Y, lmbda):
        return float(self._net.loss(X, Y)
                     + 0.5 * (lmbda / len(X)) * sum(np.linalg.norm(w) ** 2 for w in self.weights))

    def save(self, filename):
        """Save the network to ``filename`` in his JSON format.

        Parameters
        ----------
        filename : str
        """
        data = {"sizes": [int(s) for s in self.sizes],
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "cost": str(self.cost.__name__)}
        text = json.dumps(data).encode("utf-8")
        atomic_write(filename, lambda f: f.write(text))  # fastbp's writer: mode, symlinks, atomic


def load(filename):
    """Load a network saved by ``Network.save`` (his or this one).

    The file's structure is checked before anything is allocated: its
    weights and biases must hold the numbers its sizes promise, so a file
    can make ``load`` allocate no more than it holds itself.

    Raises
    ------
    ValueError
        If the file is not JSON in his format; the message names the file.

    Parameters
    ----------
    filename : str
        The JSON file.
    """
    with open(filename, "r") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # /dev/zero would never end
            raise ValueError(f"{filename}: not a regular file")
        try:
            data = json.load(f)
        except (ValueError, RecursionError) as e:  # RecursionError: deeply nested lists
            raise ValueError(f"{filename}: not a network2 JSON file: "
                             f"{e if isinstance(e, ValueError) else 'nested too deeply'}") from None
    try:
        if not isinstance(data, dict) or not {"sizes", "weights", "biases", "cost"} <= set(data):
            raise ValueError("needs the keys sizes, weights, biases and cost")
        cost = {c.__name__: c for c in _CORE_COST}.get(data["cost"])
        if cost is None:
            raise ValueError(f"unknown cost {data['cost']!r}")
        _check_shapes(data["sizes"], data["weights"], data["biases"])
        net = Network(data["sizes"], cost=cost)
        net.weights = [np.array(w) for w in data["weights"]]
        net.biases = [np.array(b) for b in data["biases"]]
    except (TypeError, ValueError) as e:
        raise ValueError(f"{filename}: not a valid network2 file: {e}") from None
    return net


def _check_shapes(sizes, weights, biases):
    """Raise ValueError unless the nested lists have the shapes `sizes` make:
    weights[l] sizes[l+1] rows of sizes[l] items, biases[l] sizes[l+1] items.
    Linear in the file; before the network is built."""
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(type(n) is int and n > 0 for n in sizes)):
        raise ValueError(f"sizes must be a list of at least 2 positive integers; got "
                         f"{str(sizes)[:80]}")
    layers = len(sizes) - 1
    for name, values in (("weights", weights), ("biases", biases)):
        if not isinstance(values, list) or len(values) != layers:
            raise ValueError(f"{name} needs {layers} arrays, one per layer")
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W, b = weights[l], biases[l]
        if not (isinstance(W, list) and len(W) == n_out
                and all(isinstance(row, list) and len(row) == n_in for row in W)):
            raise ValueError(f"weights[{l}] is not {n_out} rows of {n_in} numbers")
        if not (isinstance(b, list) and len(b) == n_out):
            raise ValueError(f"biases[{l}] does not hold {n_out} values")


def vectorized_result(j):
    """A (10, 1) unit vector with 1.0 in position ``j``: a digit as a target.

    Parameters
    ----------
    j : int
        The digit, 0-9.
    """
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e
