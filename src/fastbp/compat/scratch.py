"""The from-scratch backpropagation tutorial's functions, training compiled.

Jason Brownlee's "How to Code a Neural Network with Backpropagation In
Python (from scratch)" (machinelearningmastery.com) keeps a network as a
list of layers, each a list of neuron dicts
``{'weights': [w_1, ..., w_n, bias], 'output': ..., 'delta': ...}``, and
evaluates a 7-5-3 sigmoid network on the wheat seeds data with 5-fold
cross-validation. A script written for it runs unchanged with its function
definitions replaced by ``from fastbp.compat.scratch import *``.

How its algorithm maps onto fastbp:

- Everything but the training loop is the tutorial's own code in meaning and
  in the draws it makes from Python's ``random`` (``random()`` per weight in
  ``initialize_network``, ``randrange`` in ``cross_validation_split``), so
  after ``seed(1)`` the folds and initial weights are the tutorial's.
- ``train_network`` copies the dicts' weights into a ``fastbp.Network``
  (weights ``[:-1]`` into ``weights[l]``, the bias into ``biases[l]``) and
  runs the epochs as ``fit(batch_size=1, shuffle=False, lr=l_rate)`` does,
  but all of them in one call of the compiled epoch loop
  (``_core.train_epoch`` with ``epochs``): fit runs some 20 µs of Python
  an epoch, what the compiled loop takes for 140 of the case study's 168
  rows. fastbp's quadratic cost ½‖a − y‖²
  has the output delta ``(output − expected)·output·(1 − output)``, the
  tutorial's, and its SGD step ``w −= lr·delta·input`` is the tutorial's
  update, one row at a time in the order given.
- ``evaluate_algorithm`` with this module's ``back_propagation`` draws
  every fold's network first, in fold order, then trains the folds side by
  side, one a thread (the compiled loop releases the GIL; a network trained
  a row at a time uses one thread): the draws, networks and scores of one
  fold after another, in less time.
- The trained weights are written back into the dicts; ``'output'`` and
  ``'delta'`` are those of the last row, computed by the tutorial's own
  ``forward_propagate`` and ``backward_propagate_error`` on the weights
  before that row's update, where the tutorial leaves them.
- The trained weights agree with the tutorial's to rounding, not bit for
  bit: the core adds the bias after the weighted sum (the tutorial first)
  and sums the inputs in its own order, computes σ(z) for z < 0 as
  eᶻ/(1 + eᶻ), and steps ``w + (−lr)·(delta·input)`` where the tutorial
  steps ``w − (l_rate·delta)·input``. ``tests/test_scratch.py`` measures the
  difference (about 1e-15 norm-wise after the 5-fold run's 500 epochs).

``train_network`` prints the tutorial's per-epoch line
(``>epoch=%d, lrate=%.3f, error=%.3f``, error the epoch's Σ‖expected −
output‖²) as its "Train Network" section does, after the training (the
epochs run in one compiled call); ``back_propagation`` trains
silently, as its seeds case study does (pass ``verbose=False`` to
``train_network`` for the same).
"""
import threading
from concurrent.futures import ThreadPoolExecutor
from csv import reader
from math import exp
from random import random, randrange

import numpy as np

from .. import Network, _core, get_num_threads
from ..trainer import interrupt_watchable

__all__ = ["load_csv", "str_column_to_float", "str_column_to_int", "dataset_minmax",
           "normalize_dataset", "cross_validation_split", "accuracy_metric",
           "evaluate_algorithm", "activate", "transfer", "forward_propagate",
           "transfer_derivative", "backward_propagate_error", "update_weights",
           "train_network", "initialize_network", "predict", "back_propagation"]


# ------------------------------------------------------------------- data

def load_csv(filename):
    """Rows of the CSV file as lists of strings, empty lines skipped.

    Parameters
    ----------
    filename : str or os.PathLike
    """
    dataset = list()
    with open(filename, "r") as file:
        for row in reader(file):
            if not row:
                continue
            dataset.append(row)
    return dataset


def str_column_to_float(dataset, column):
    """Column `column` of every row: string -> float, in place.

    Parameters
    ----------
    dataset : list of rows
        Lists of values, the class last.
    column : int
    """
    for row in dataset:
        row[column] = float(row[column].strip())


def str_column_to_int(dataset, column):
    """Class strings of column `column` -> 0, 1, ... in place; returns the lookup.

    The numbering follows the iteration order of a ``set``, as the
    tutorial's does: for strings it changes with ``PYTHONHASHSEED``.

    Parameters
    ----------
    dataset : list of rows
        Lists of values, the class last.
    column : int
    """
    class_values = [row[column] for row in dataset]
    unique = set(class_values)
    lookup = dict()
    for i, value in enumerate(unique):
        lookup[value] = i
    for row in dataset:
        row[column] = lookup[row[column]]
    return lookup


def dataset_minmax(dataset):
    """[min, max] of each column.

    Parameters
    ----------
    dataset : list of rows
        Lists of values, the class last.
    """
    return [[min(column), max(column)] for column in zip(*dataset)]


def normalize_dataset(dataset, minmax):
    """Rescale every column but the last to [0, 1], in place.

    Parameters
    ----------
    dataset : list of rows
        Lists of values, the class last.
    minmax : list of [min, max]
        Of each column, from `dataset_minmax`.
    """
    for row in dataset:
        for i in range(len(row) - 1):
            row[i] = (row[i] - minmax[i][0]) / (minmax[i][1] - minmax[i][0])


def cross_validation_split(dataset, n_folds):
    """`n_folds` folds of int(len/n_folds) rows each, drawn with ``randrange``.

    Parameters
    ----------
    dataset : list of rows
        Lists of values, the class last.
    n_folds : int
    """
    dataset_split = list()
    dataset_copy = list(dataset)
    fold_size = int(len(dataset) / n_folds)
    for _ in range(n_folds):
        fold = list()
        while len(fold) < fold_size:
            index = randrange(len(dataset_copy))
            fold.append(dataset_copy.pop(index))
        dataset_split.append(fold)
    return dataset_split


def accuracy_metric(actual, predicted):
    """Percentage of `predicted` equal to `actual`.

    Parameters
    ----------
    actual, predicted : lists of class labels
    """
    correct = 0
    for i in range(len(actual)):
        if actual[i] == predicted[i]:
            correct += 1
    return correct / float(len(actual)) * 100.0


def evaluate_algorithm(dataset, algorithm, n_folds, *args):
    """Scores of `algorithm(train_set, test_set, *args)` on each fold
    (the test rows' classes hidden as None).

    With this module's ``back_propagation`` as `algorithm`, the folds train
    at once on up to ``fastbp.get_num_threads()`` threads (the compiled
    loop releases the GIL), after each fold's network is drawn in fold
    order: the same draws, networks and scores as one fold after another.
    (If a fold fails, the later folds' networks have been drawn already.)

    Parameters
    ----------
    dataset : list of rows
        Lists of values, the class last.
    algorithm : callable (train_set, test_set, *args) -> predictions
    n_folds : int
    args : the further arguments of `algorithm`
    """
    folds = cross_validation_split(dataset, n_folds)
    sets = (_train_and_test(folds, fold) for fold in folds)
    if algorithm is back_propagation and get_num_threads() > 1 and len(folds) > 1:
        predictions = _back_propagation_folds(list(sets), *args)
    else:
        predictions = (algorithm(train_set, test_set, *args) for train_set, test_set in sets)
    return [accuracy_metric([row[-1] for row in fold], predicted)
            for fold, predicted in zip(folds, predictions)]


def _train_and_test(folds, fold):
    """The other folds' rows, and copies of fold's rows with the class None."""
    train_set = list(folds)
    train_set.remove(fold)
    train_set = sum(train_set, [])
    test_set = list()
    for row in fold:
        row_copy = list(row)
        test_set.append(row_copy)
        row_copy[-1] = None
    return train_set, test_set


# ---------------------------------------------------------------- network

def initialize_network(n_inputs, n_hidden, n_outputs):
    """A hidden and an output layer of neuron dicts, weights from ``random()``
    (inputs' weights then the bias, neuron by neuron).

    Parameters
    ----------
    n_inputs, n_hidden, n_outputs : int
        Units of the input, hidden and output layers.
    """
    network = list()
    hidden_layer = [{"weights": [random() for _ in range(n_inputs + 1)]} for _ in range(n_hidden)]
    network.append(hidden_layer)
    output_layer = [{"weights": [random() for _ in range(n_hidden + 1)]} for _ in range(n_outputs)]
    network.append(output_layer)
    return network


def activate(weights, inputs):
    """bias + Σ weights[i]·inputs[i], the bias first.

    Parameters
    ----------
    weights : list of float
        A neuron's weights, its bias last.
    inputs : list of float
    """
    activation = weights[-1]
    for i in range(len(weights) - 1):
        activation += weights[i] * inputs[i]
    return activation


def transfer(activation):
    """The sigmoid 1 / (1 + e^-activation).

    Parameters
    ----------
    activation : float
    """
    return 1.0 / (1.0 + exp(-activation))


def transfer_derivative(output):
    """σ' in terms of the output: output·(1 − output).

    Parameters
    ----------
    output : float
    """
    return output * (1.0 - output)


def forward_propagate(network, row):
    """Outputs of the last layer for `row`; sets each neuron's 'output'.

    Parameters
    ----------
    network : list of layers
        Lists of neuron dicts ('weights', and 'output', 'delta' as set here).
    row : list of float
        One row: the inputs (and the class last, which is not read).
    """
    inputs = row
    for layer in network:
        new_inputs = []
        for neuron in layer:
            neuron["output"] = transfer(activate(neuron["weights"], inputs))
            new_inputs.append(neuron["output"])
        inputs = new_inputs
    return inputs


def backward_propagate_error(network, expected):
    """Each neuron's 'delta': (output − expected)·σ' at the output layer,
    (Σ_k w_kj·delta_k)·σ' below it.

    Parameters
    ----------
    network : list of layers
        Lists of neuron dicts ('weights', and 'output', 'delta' as set here).
    expected : list of float
        The one-hot target.
    """
    for i in reversed(range(len(network))):
        layer = network[i]
        errors = list()
        if i != len(network) - 1:
            for j in range(len(layer)):
                error = 0.0
                for neuron in network[i + 1]:
                    error += neuron["weights"][j] * neuron["delta"]
                errors.append(error)
        else:
            for j in range(len(layer)):
                errors.append(layer[j]["output"] - expected[j])
        for j in range(len(layer)):
            neuron = layer[j]
            neuron["delta"] = errors[j] * transfer_derivative(neuron["output"])


def update_weights(network, row, l_rate):
    """One SGD step from the stored deltas: w −= l_rate·delta·input,
    bias −= l_rate·delta.

    Parameters
    ----------
    network : list of layers
        Lists of neuron dicts ('weights', and 'output', 'delta' as set here).
    row : list of float
        One row: the inputs (and the class last, which is not read).
    l_rate : float
        The learning rate.
    """
    for i in range(len(network)):
        inputs = row[:-1]
        if i != 0:
            inputs = [neuron["output"] for neuron in network[i - 1]]
        for neuron in network[i]:
            for j in range(len(inputs)):
                neuron["weights"][j] -= l_rate * neuron["delta"] * inputs[j]
            neuron["weights"][-1] -= l_rate * neuron["delta"]


def train_network(network, train, l_rate, n_epoch, n_outputs, *, verbose=True, stop=None):
    """`n_epoch` epochs of online SGD over the rows of `train` in order
    (class index last), run in fastbp's compiled core.

    The trained weights are written back into the neuron dicts, with
    'output' and 'delta' of the last row. Prints the tutorial's
    ``>epoch=%d, lrate=%.3f, error=%.3f`` line for each epoch unless
    `verbose` is false (all of them once the epochs have run: they run in
    one compiled call).

    Parameters
    ----------
    network : list of layers
        Lists of neuron dicts ('weights', and 'output', 'delta' as set here).
    train : list of rows
        Inputs, the class index last.
    l_rate : float
        The learning rate.
    n_epoch : int
    n_outputs : int
        Classes: the one-hot width.
    verbose : bool
        Print the tutorial's '>epoch=..., lrate=..., error=...' line per epoch.
    stop : threading.Event, optional
        Train in stretches of epochs and raise KeyboardInterrupt at the
        first stretch after it is set (training off the main thread, which
        alone sees a Ctrl-C in the compiled loop).
    """
    sizes = _layer_sizes(network)
    X, Y = _rows(train, sizes[0], n_outputs)
    if sizes[-1] != n_outputs:
        raise ValueError(f"n_outputs is {n_outputs} but the network's last layer has "
                         f"{sizes[-1]} neurons")
    if n_epoch <= 0 or len(train) == 0:
        return
    net = Network(sizes, activation="sigmoid", cost="quadratic", seed=0)
    _to_fastbp(network, net)
    epochs = _Epochs(net, X, Y, l_rate, n_epoch, stop)
    # all epochs but the last, then the last without its last row: the
    # tutorial leaves 'output' and 'delta' of that row, before its update
    epochs.run(0, n_epoch - 1)
    epochs.run(n_epoch - 1, 1, rows=slice(0, -1))
    _from_fastbp(net, network)
    forward_propagate(network, train[-1])
    backward_propagate_error(network, Y[-1].tolist())
    epochs.run(n_epoch - 1, 1, rows=slice(-1, None))
    _from_fastbp(net, network)
    if verbose:
        for epoch, sum_error in enumerate(epochs.sum_error):
            print(">epoch=%d, lrate=%.3f, error=%.3f" % (epoch, l_rate, sum_error))


def predict(network, row):
    """Index of the largest output for `row`.

    Parameters
    ----------
    network : list of layers
        Lists of neuron dicts ('weights', and 'output', 'delta' as set here).
    row : list of float
        One row: the inputs (and the class last, which is not read).
    """
    outputs = forward_propagate(network, row)
    return outputs.index(max(outputs))


def back_propagation(train, test, l_rate, n_epoch, n_hidden):
    """Predictions for `test` of a network with `n_hidden` hidden neurons
    initialized by ``initialize_network`` and trained on `train`.

    Parameters
    ----------
    train, test : lists of rows
        The class index last (test's is not read).
    l_rate : float
        The learning rate.
    n_epoch : int
    n_hidden : int
        Hidden units.
    """
    return _trained_predictions(_initial_network(train, n_hidden), train, test, l_rate, n_epoch)


def _initial_network(train, n_hidden):
    """back_propagation's network before training (its draws from random)."""
    n_inputs = len(train[0]) - 1
    n_outputs = len(set([row[-1] for row in train]))
    return initialize_network(n_inputs, n_hidden, n_outputs)


def _trained_predictions(network, train, test, l_rate, n_epoch, stop=None):
    """back_propagation after its draws: train `network`, predict `test`."""
    train_network(network, train, l_rate, n_epoch, len(network[-1]), verbose=False, stop=stop)
    return [predict(network, row) for row in test]


def _back_propagation_folds(sets, l_rate, n_epoch, n_hidden):
    """back_propagation on each (train, test) of `sets`, several at once.

    A fold a thread: a network this small trains a row at a time on one
    thread, so the cores are used by training folds side by side. The
    networks are drawn first, in fold order, as one call after another
    draws them. Ctrl-C stops the other folds at their next stretch of
    epochs (they train in stretches of some 65,000 rows when `stop` is
    given: only the main thread's loop sees a Ctrl-C itself)."""
    networks = [_initial_network(train, n_hidden) for train, _ in sets]
    stop = threading.Event()
    with ThreadPoolExecutor(min(len(sets), get_num_threads())) as pool:
        futures = [pool.submit(_trained_predictions, network, train, test, l_rate, n_epoch, stop)
                   for network, (train, test) in zip(networks, sets)]
        try:
            return [future.result() for future in futures]
        except BaseException:
            stop.set()
            for future in futures:
                future.cancel()
            raise


# ------------------------------------------------------- fastbp underneath

class _Epochs:
    """Online SGD epochs of `net` over the rows of (X, Y) in order, in the
    compiled loop with fit's arithmetic (plain SGD at rate l_rate, batches
    of one row), several epochs a call; sum_error: the tutorial's per-epoch
    Σ‖expected − output‖², twice the core's Σ ½‖a − y‖² (each row's cost is
    measured before its update, as the tutorial's sum_error is). With
    `stop` (a threading.Event), calls of at most STRETCH rows, and
    KeyboardInterrupt between them once it is set."""

    STRETCH = 1 << 16

    def __init__(self, net, X, Y, l_rate, n_epoch, stop=None):
        self.net, self.X, self.Y, self.stop = net, X, Y, stop
        # side by side (stop given), each fold on one thread
        self.plan = net.plan(1, most_threads=1 if stop is not None else None)
        self.grads = np.empty_like(net.params)
        self.settings = _core.TrainSettings(kind=_core.PLAIN_SGD, lr=l_rate, batch_size=1,
                                            watch_interrupt=interrupt_watchable())
        self.sum_error = np.zeros(n_epoch)

    def run(self, first, epochs, rows=slice(None)):
        """Epochs first .. first + epochs - 1 over X[rows], Y[rows]."""
        X, Y = self.X[rows], self.Y[rows]
        if epochs <= 0 or len(X) == 0:
            return
        stretch = epochs if self.stop is None else max(1, self.STRETCH // len(X))
        order = np.arange(len(X), dtype=np.intp)
        for start in range(first, first + epochs, stretch):
            if self.stop is not None and self.stop.is_set():
                raise KeyboardInterrupt()
            count = min(stretch, first + epochs - start)
            loss = np.zeros(count)
            reason = _core.train_epoch(self.plan, self.net.params, self.grads, X, Y, order,
                                       self.settings, count, loss)[4]
            if reason == _core.NONFINITE or not _core.all_finite(self.net.params):
                raise FloatingPointError("train_network: the weights or the cost became NaN "
                                         "or inf (is l_rate too large?)")
            self.sum_error[start:start + count] += 2 * loss


def _layer_sizes(network):
    """[n_inputs, layer sizes...] of a list of layers of neuron dicts."""
    if len(network) == 0:
        raise ValueError("network has no layers")
    sizes = []
    for l, layer in enumerate(network):
        if len(layer) == 0:
            raise ValueError(f"network[{l}] has no neurons")
        widths = {len(neuron["weights"]) for neuron in layer}
        if len(widths) != 1:
            raise ValueError(f"the neurons of network[{l}] have weight lists of "
                             f"different lengths {sorted(widths)}")
        n_in = widths.pop() - 1
        if l == 0:
            sizes.append(n_in)
        elif n_in != sizes[-1]:
            raise ValueError(f"network[{l}]'s neurons have {n_in} input weights but "
                             f"network[{l - 1}] has {sizes[-1]} neurons")
        sizes.append(len(layer))
    if sizes[0] < 1:
        raise ValueError("network[0]'s neurons have no input weights")
    return sizes


def _rows(train, n_inputs, n_outputs):
    """Inputs X (n, n_inputs) and one-hot targets Y built as the tutorial
    builds `expected` (``[0]*n_outputs``, then ``expected[row[-1]] = 1``)."""
    X = np.empty((len(train), n_inputs))
    Y = np.zeros((len(train), n_outputs))
    for i, row in enumerate(train):
        if len(row) - 1 != n_inputs:
            raise ValueError(f"train[{i}] has {len(row) - 1} inputs and a class; the "
                             f"network takes {n_inputs} inputs")
        X[i] = row[:-1]
        expected = [0 for _ in range(n_outputs)]
        expected[row[-1]] = 1
        Y[i] = expected
    bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if len(bad):
        raise ValueError(f"train[{bad[0]}] has an input that is NaN or inf")
    return X, Y


def _to_fastbp(network, net):
    for l, layer in enumerate(network):
        for j, neuron in enumerate(layer):
            net.weights[l][j] = neuron["weights"][:-1]
            net.biases[l][j] = neuron["weights"][-1]


def _from_fastbp(net, network):
    for W, b, layer in zip(net.weights, net.biases, network):
        for w, bias, neuron in zip(W.tolist(), b.tolist(), layer):
            neuron["weights"][:] = w + [bias]
