"""Nielsen's chapter 1 ``network.py``, with fastbp's compiled core underneath.

Code written for ``network.py`` of *Neural Networks and Deep Learning*
(mnielsen/neural-networks-and-deep-learning, src/network.py) runs unchanged:
samples are column vectors, ``training_data`` is a list of ``(x, y)`` with
``x`` (784, 1) and one-hot ``y`` (10, 1), ``test_data`` has integer ``y``.

How his algorithm maps onto fastbp:

- ``weights[l]`` (y, x) and ``biases[l]`` (y, 1) are views into the wrapped
  ``fastbp.Network``'s parameters, so writing into them changes the model and
  training changes them; assigning a new list copies into the views.
- ``SGD`` shuffles ``training_data`` with ``random.shuffle`` as he does (same
  seed, same mini-batches), then runs each epoch in the compiled core over
  the samples in that order. fastbp steps by ``lr`` times the gradient of the
  batch's *mean* cost, which is his ``(eta/len(mini_batch)) * sum``.
- Initial parameters are drawn with ``np.random.randn`` in his order, so a
  script that seeds ``np.random`` gets his starting network.

Overriding ``update_mini_batch``, ``backprop`` or ``cost_derivative`` in a
subclass does not change what ``SGD`` computes: the epoch runs compiled.
"""
import random

import numpy as np

from ..network import Network as _FastNetwork
from .._layout import ParamList


class _CompatNetwork:
    """Machinery shared by ``network.Network`` and ``network2.Network``: the
    wrapped fastbp network, his views of it, and batched versions of his
    per-sample loops."""

    def _wrap(self, cost):
        """(Re)build the wrapped fastbp network for `cost`, keeping any
        parameters already set (a rebuild hands out new views)."""
        old = getattr(self, "_net", None)
        # seed=0: the starting values are overwritten by his initializer
        self._net = _FastNetwork(self.sizes, activation="sigmoid", cost=cost, seed=0)
        if old is not None:
            self._net.params[...] = old.params
        self._weights = ParamList(list(self._net.weights), "weights")
        self._biases = ParamList([b.reshape(-1, 1) for b in self._net.biases], "biases")

    @property
    def fastbp_network(self):
        """The wrapped ``fastbp.Network`` that holds the parameters."""
        return self._net

    @property
    def weights(self):
        """weights[l], shape (sizes[l+1], sizes[l]): views into the model."""
        return self._weights

    @weights.setter
    def weights(self, values):
        _assign(self._weights, values, "weights")

    @property
    def biases(self):
        """biases[l], shape (sizes[l+1], 1): views into the model."""
        return self._biases

    @biases.setter
    def biases(self, values):
        _assign(self._biases, values, "biases")

    def feedforward(self, a):
        """Return the output of the network if ``a`` is input.

        Parameters
        ----------
        a : array_like, shape (sizes[0], 1) or (sizes[0], k)
            One column per sample, as in his code.

        Returns
        -------
        ndarray, shape (sizes[-1], 1) or (sizes[-1], k)
        """
        a = np.asarray(a, dtype=np.float64)
        if a.ndim == 1:
            a = a.reshape(-1, 1)
        return self._net.forward(a.T).T

    def backprop(self, x, y):
        """Return ``(nabla_b, nabla_w)``, the gradient of the cost C_x of one sample.

        Parameters
        ----------
        x : array_like, shape (sizes[0], 1)
        y : array_like, shape (sizes[-1], 1), or an integer label

        Returns
        -------
        nabla_b : list of ndarray, shapes like ``biases`` ((n, 1) each)
        nabla_w : list of ndarray, shapes like ``weights``
        """
        X = np.reshape(np.asarray(x, dtype=np.float64), (1, -1))
        Y = self._targets(np.reshape(np.asarray(y, dtype=np.float64), (1, -1)))
        # the mean cost over a batch of one sample is C_x itself
        _, gw, gb = self._net.gradients(X, Y)
        return [g.reshape(-1, 1) for g in gb], list(gw)

    # ---------------------------------------------------- batched internals

    def _targets(self, Y):
        """Stacked y values -> what fastbp takes: integer labels (one column,
        several outputs) become 1-D labels, which fastbp one-hot encodes."""
        if Y.shape[1] == 1 and self._net.sizes[-1] > 1:
            return Y[:, 0]
        return Y

    def _count_correct(self, X, Y):
        """His accuracy: how many argmax outputs equal the label (y an
        integer, or a one-hot vector whose argmax is taken); Y stacked, or
        1-D labels as `_targets` makes them."""
        if Y.ndim == 1:
            labels = Y
        else:
            labels = Y[:, 0] if Y.shape[1] == 1 else Y.argmax(axis=1)
        return int(np.sum(self._net.forward(X).argmax(axis=1) == labels))

    def _step(self, X, Y, eta, l2=0.0):
        """One gradient step on the whole batch (X, Y)."""
        self._epoch(X, Y, range(len(X)), len(X), eta, l2)

    def _epoch(self, X, Y, order, mini_batch_size, eta, l2=0.0):
        """One compiled epoch over the rows of (X, Y) taken in `order`.

        fastbp's `l2` adds l2·w to each weight gradient, so a step is
        w ← (1 − eta·l2)·w − eta·∇C: his weight decay with l2 = lmbda/n.
        """
        rows = np.asarray(order, dtype=np.intp)
        self._net.fit(X[rows], Y[rows], epochs=1, batch_size=mini_batch_size, lr=eta,
                      shuffle=False, l2=l2)

    def _prepare(self, training_data, held_out, argname):
        """(training_data as a list, X, targets, order, the list's original
        order, held-out (X, Y, n) or None) for SGD: the samples are stacked
        once; `order` tracks where his shuffles put each one. held_out is
        his test_data or evaluation_data (named argname), None if empty."""
        training_data = _as_list(training_data)
        X, Y = _stack(training_data, "training_data")
        held = None
        if held_out is not None:
            held_out = _as_list(held_out)
        if held_out:
            held = _stack(held_out, argname) + (len(held_out),)
        return (training_data, X, self._targets(Y), list(range(len(training_data))),
                list(training_data), held)


def _as_list(data):
    # His Python 3 users pass zip objects from mnist_loader; a list is
    # shuffled in place as his SGD does.
    return data if isinstance(data, list) else list(data)


def _stack(data, argname):
    """Samples [(x, y), ...] -> X (n, len(x)) and Y (n, len(y)) as float64;
    an integer y gives one column."""
    if len(data) == 0:
        raise ValueError(f"{argname} is empty")
    try:
        X = np.array([np.ravel(x) for x, _ in data], dtype=np.float64)
        Y = np.array([np.ravel(y) for _, y in data], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{argname} must be a list of (x, y) pairs of equal shapes: {e}") from None
    return X, Y


def _shuffle(data, original, order):
    """random.shuffle(data), as his SGD does, and the same permutation applied
    to `order` (indices into `original`, the samples as first stacked).

    random.shuffle's swaps depend only on the length and the RNG state, so
    shuffling `order` draws exactly the numbers shuffling `data` would.
    """
    random.shuffle(order)
    data[:] = [original[i] for i in order]


def _assign(views, values, argname):
    """Copy a list of arrays into the parameter views, all layers or none."""
    values = [np.asarray(v, dtype=np.float64) for v in values]
    if len(values) != len(views):
        raise ValueError(f"{argname} needs {len(views)} arrays, one per layer; got {len(values)}")
    # flat biases (n,) are accepted for his (n, 1)
    values = [v.reshape(view.shape) if v.ndim == 1 and v.shape[0] == view.shape[0] else v
              for v, view in zip(values, views)]
    for l, (v, view) in enumerate(zip(values, views)):
        if v.shape != view.shape:
            raise ValueError(f"{argname}[{l}] has shape {view.shape}; got {v.shape}")
    for l, v in enumerate(values):
        views[l] = v


class Network(_CompatNetwork):
    """His chapter 1 network: sigmoid neurons, quadratic cost, mini-batch SGD.

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, inputs first, e.g. ``[784, 30, 10]``.

    Weights and biases start N(0, 1), drawn with ``np.random.randn``.
    """

    def __init__(self, sizes):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self._wrap("quadratic")
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Train by mini-batch stochastic gradient descent.

        Parameters
        ----------
        training_data : list of (x, y)
            x (sizes[0], 1), y (sizes[-1], 1); shuffled in place each epoch.
        epochs, mini_batch_size : int
        eta : float
            Learning rate.
        test_data : list of (x, y) or None
            y an integer label; when given, the count correct is printed
            after each epoch ("Epoch j: correct / n").
        """
        training_data, X, Y, order, original, held = self._prepare(training_data, test_data,
                                                                   "test_data")
        if held is not None:
            X_test, Y_test, n_test = held
        for j in range(epochs):
            _shuffle(training_data, original, order)
            self._epoch(X, Y, order, mini_batch_size, eta)
            if held is not None:
                print("Epoch {0}: {1} / {2}".format(j, self._count_correct(X_test, Y_test), n_test))
            else:
                print("Epoch {0} complete".format(j))

    def update_mini_batch(self, mini_batch, eta):
        """One gradient-descent step on ``mini_batch``, a list of (x, y).

        Parameters
        ----------
        mini_batch : list of (x, y)
            Columns x (784, 1) and one-hot y (10, 1).
        eta : float
            The learning rate.
        """
        X, Y = _stack(mini_batch, "mini_batch")
        self._step(X, self._targets(Y), eta)

    def evaluate(self, test_data):
        """Number of samples in ``test_data`` (y integer labels) whose
        highest output is the label.

        Parameters
        ----------
        test_data : list of (x, y)
            Columns x and integer labels y.
        """
        return self._count_correct(*_stack(_as_list(test_data), "test_data"))

    def cost_derivative(self, output_activations, y):
        """∂C_x/∂a for the output activations: ``a − y``.

        Parameters
        ----------
        output_activations : ndarray, shape (sizes[-1], 1)
        y : ndarray, shape (sizes[-1], 1)
        """
        return output_activations - y


def sigmoid(z):
    """The sigmoid function.

    Parameters
    ----------
    z : array_like
    """
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function.

    Parameters
    ----------
    z : array_like
    """
    return sigmoid(z) * (1 - sigmoid(z))
