"""fastbp.compat.scratch against the from-scratch tutorial's algorithm.

The functions at the top of this file are a pure-Python twin of the
tutorial's code (Jason Brownlee, "How to Code a Neural Network with
Backpropagation In Python (from scratch)", the version with error
``output - expected``), written for these tests and independent of fastbp:
one neuron dict at a time, the bias summed first. The compat module must
draw the same random numbers, make the same folds, train to the same
weights (to rounding: the compiled core sums in its own order) and print
the tutorial's scores. bench/scratch.py times the two side by side.
"""
import contextlib
import io
import os
import random
import subprocess
import sys
import textwrap
import threading
from copy import deepcopy
from math import exp
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp.compat import scratch

from conftest import rel_err

WHEAT = Path(fastbp.datasets.__file__).resolve().parent / "data" / "wheat-seeds.csv"
# What the tutorial prints for its 5-fold run (seed(1), l_rate 0.3, 500 epochs, 5 hidden)
SCORES = [92.85714285714286, 92.85714285714286, 97.61904761904762, 92.85714285714286,
          90.47619047619048]
# str_column_to_int numbers the classes in a set's order, which depends on
# PYTHONHASHSEED; the tutorial's scores are those of this numbering (the one
# PYTHONHASHSEED=0 gives)
TUTORIAL_LOOKUP = {"1": 1, "2": 0, "3": 2}
TOL = 1e-12

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


# ------------------------------------------------- the tutorial, twin copy

def load_csv(filename):
    import csv
    with open(filename) as file:
        return [row for row in csv.reader(file) if row]


def str_column_to_float(dataset, column):
    for row in dataset:
        row[column] = float(row[column].strip())


def str_column_to_int(dataset, column):
    lookup = {value: i for i, value in enumerate(set(row[column] for row in dataset))}
    for row in dataset:
        row[column] = lookup[row[column]]
    return lookup


def dataset_minmax(dataset):
    return [[min(column), max(column)] for column in zip(*dataset)]


def normalize_dataset(dataset, minmax):
    for row in dataset:
        for i in range(len(row) - 1):
            row[i] = (row[i] - minmax[i][0]) / (minmax[i][1] - minmax[i][0])


def cross_validation_split(dataset, n_folds):
    dataset_copy = list(dataset)
    fold_size = int(len(dataset) / n_folds)
    folds = []
    for _ in range(n_folds):
        fold = []
        while len(fold) < fold_size:
            fold.append(dataset_copy.pop(random.randrange(len(dataset_copy))))
        folds.append(fold)
    return folds


def accuracy_metric(actual, predicted):
    return sum(a == p for a, p in zip(actual, predicted)) / float(len(actual)) * 100.0


def evaluate_algorithm(dataset, algorithm, n_folds, *args):
    folds = cross_validation_split(dataset, n_folds)
    scores = []
    for fold in folds:
        train_set = sum([f for f in folds if f is not fold], [])
        test_set = [list(row[:-1]) + [None] for row in fold]
        predicted = algorithm(train_set, test_set, *args)
        scores.append(accuracy_metric([row[-1] for row in fold], predicted))
    return scores


def initialize_network(n_inputs, n_hidden, n_outputs):
    hidden = [{"weights": [random.random() for _ in range(n_inputs + 1)]} for _ in range(n_hidden)]
    output = [{"weights": [random.random() for _ in range(n_hidden + 1)]} for _ in range(n_outputs)]
    return [hidden, output]


def forward_propagate(network, row):
    inputs = row
    for layer in network:
        new_inputs = []
        for neuron in layer:
            w = neuron["weights"]
            activation = w[-1]  # the bias first
            for i in range(len(w) - 1):
                activation += w[i] * inputs[i]
            neuron["output"] = 1.0 / (1.0 + exp(-activation))
            new_inputs.append(neuron["output"])
        inputs = new_inputs
    return inputs


def backward_propagate_error(network, expected):
    for i in reversed(range(len(network))):
        layer = network[i]
        if i == len(network) - 1:
            errors = [neuron["output"] - expected[j] for j, neuron in enumerate(layer)]
        else:
            errors = []
            for j in range(len(layer)):
                error = 0.0
                for neuron in network[i + 1]:
                    error += neuron["weights"][j] * neuron["delta"]
                errors.append(error)
        for j, neuron in enumerate(layer):
            neuron["delta"] = errors[j] * (neuron["output"] * (1.0 - neuron["output"]))


def update_weights(network, row, l_rate):
    for i, layer in enumerate(network):
        inputs = row[:-1] if i == 0 else [neuron["output"] for neuron in network[i - 1]]
        for neuron in layer:
            for j in range(len(inputs)):
                neuron["weights"][j] -= l_rate * neuron["delta"] * inputs[j]
            neuron["weights"][-1] -= l_rate * neuron["delta"]


def train_network(network, train, l_rate, n_epoch, n_outputs, verbose=False):
    """The case study's train_network; verbose: the "Train Network" section's,
    which prints each epoch's Σ (expected − output)²."""
    for epoch in range(n_epoch):
        sum_error = 0
        for row in train:
            outputs = forward_propagate(network, row)
            expected = [0 for _ in range(n_outputs)]
            expected[row[-1]] = 1
            sum_error += sum([(expected[i] - outputs[i]) ** 2 for i in range(len(expected))])
            backward_propagate_error(network, expected)
            update_weights(network, row, l_rate)
        if verbose:
            print(">epoch=%d, lrate=%.3f, error=%.3f" % (epoch, l_rate, sum_error))


def predict(network, row):
    outputs = forward_propagate(network, row)
    return outputs.index(max(outputs))


def back_propagation(train, test, l_rate, n_epoch, n_hidden):
    n_outputs = len(set(row[-1] for row in train))
    network = initialize_network(len(train[0]) - 1, n_hidden, n_outputs)
    train_network(network, train, l_rate, n_epoch, n_outputs)
    return [predict(network, row) for row in test]


def wheat(module):
    """The tutorial's preparation of the wheat seeds data with `module`'s
    helpers, the classes numbered as in its published run."""
    dataset = module.load_csv(str(WHEAT))
    for i in range(len(dataset[0]) - 1):
        module.str_column_to_float(dataset, i)
    lookup = module.str_column_to_int(dataset, len(dataset[0]) - 1)
    by_index = {i: value for value, i in lookup.items()}
    for row in dataset:
        row[-1] = TUTORIAL_LOOKUP[by_index[row[-1]]]
    module.normalize_dataset(dataset, module.dataset_minmax(dataset))
    return dataset, lookup


# ------------------------------------------------------------------ helpers

def flat(network, key="weights"):
    """All values of `key` in a network, neuron by neuron."""
    if key == "weights":
        return np.array([w for layer in network for neuron in layer for w in neuron["weights"]])
    return np.array([neuron[key] for layer in network for neuron in layer])


def max_rel(a, b):
    """Largest elementwise relative difference."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))))


def assert_same_network(ours, twin, tol=TOL):
    assert [[len(n["weights"]) for n in layer] for layer in ours] == \
        [[len(n["weights"]) for n in layer] for layer in twin]
    for key in ("weights", "output", "delta"):
        err = rel_err(flat(ours, key), flat(twin, key))
        print(f"{key}: norm-wise {err:.2e}, elementwise max {max_rel(flat(ours, key), flat(twin, key)):.2e}")
        assert err <= tol, key


def recording(module, monkeypatch):
    """Networks made by module.initialize_network from now on (trained in
    place by back_propagation)."""
    made = []
    original = module.initialize_network

    def init(*args):
        made.append(original(*args))
        return made[-1]

    monkeypatch.setattr(module, "initialize_network", init)
    return made


# -------------------------------------------------------------------- tests

def test_data_helpers_are_the_tutorials():
    ours, ours_lookup = wheat(scratch)
    twin, twin_lookup = wheat(sys.modules[__name__])
    assert ours_lookup == twin_lookup  # the same set order in one process
    assert ours == twin
    assert all(0 <= x <= 1 for row in ours for x in row[:-1])
    assert scratch.accuracy_metric([0, 1, 2, 1], [0, 1, 1, 1]) == 75.0


def test_same_draws_folds_and_initial_weights():
    dataset, _ = wheat(scratch)
    random.seed(1)
    ours = scratch.cross_validation_split(dataset, 5)
    net_ours = scratch.initialize_network(7, 5, 3)
    after_ours = random.random()
    random.seed(1)
    twin = cross_validation_split(dataset, 5)
    net_twin = initialize_network(7, 5, 3)
    assert ours == twin and [len(f) for f in ours] == [42] * 5
    assert net_ours == net_twin  # exactly: the same random() in the same order
    assert after_ours == random.random()


def test_five_fold_evaluation_matches_the_twin(monkeypatch, capsys):
    """The tutorial's run: folds, trained weights, 'output' and 'delta' of
    each fold's network and the scores, compat against the twin."""
    ours_nets = recording(scratch, monkeypatch)
    twin_nets = recording(sys.modules[__name__], monkeypatch)
    dataset, _ = wheat(scratch)
    random.seed(1)
    ours = scratch.evaluate_algorithm(dataset, scratch.back_propagation, 5, 0.3, 500, 5)
    random.seed(1)
    twin = evaluate_algorithm(dataset, back_propagation, 5, 0.3, 500, 5)
    assert capsys.readouterr().out == ""  # the case study prints nothing while training
    assert ours == twin == SCORES
    assert "%.3f" % (sum(ours) / len(ours)) == "93.333"
    assert len(ours_nets) == len(twin_nets) == 5
    with capsys.disabled():
        for k, (a, b) in enumerate(zip(ours_nets, twin_nets)):
            print(f"\nfold {k}: ", end="")
            assert_same_network(a, b)


def test_tutorial_script_runs_unchanged():
    """The tutorial's driver with its definitions replaced by the import, in
    a fresh interpreter with the PYTHONHASHSEED of its published run."""
    script = textwrap.dedent(f"""\
        from random import seed
        from fastbp.compat.scratch import *

        # Test Backprop on Seeds dataset
        seed(1)
        # load and prepare data
        filename = {str(WHEAT)!r}
        dataset = load_csv(filename)
        for i in range(len(dataset[0])-1):
            str_column_to_float(dataset, i)
        # convert class column to integers
        str_column_to_int(dataset, len(dataset[0])-1)
        # normalize input variables
        minmax = dataset_minmax(dataset)
        normalize_dataset(dataset, minmax)
        # evaluate algorithm
        n_folds = 5
        l_rate = 0.3
        n_epoch = 500
        n_hidden = 5
        scores = evaluate_algorithm(dataset, back_propagation, n_folds, l_rate, n_epoch, n_hidden)
        print('Scores: %s' % scores)
        print('Mean Accuracy: %.3f%%' % (sum(scores)/float(len(scores))))
        """)
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    here = str(Path(fastbp.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Scores: {SCORES}\nMean Accuracy: 93.333%\n"


# The "Train Network" section's data: two inputs, two classes
SMALL = [[2.7810836, 2.550537003, 0], [1.465489372, 2.362125076, 0],
         [3.396561688, 4.400293529, 0], [1.38807019, 1.850220317, 0],
         [3.06407232, 3.005305973, 0], [7.627531214, 2.759262235, 1],
         [5.332441248, 2.088626775, 1], [6.922596716, 1.77106367, 1],
         [8.675418651, -0.242068655, 1], [7.673756466, 3.508563011, 1]]


def test_train_network_prints_the_tutorials_epoch_lines(capsys):
    random.seed(1)
    ours = scratch.initialize_network(2, 2, 2)
    twin = deepcopy(ours)
    scratch.train_network(ours, SMALL, 0.5, 20, 2)
    printed = capsys.readouterr().out
    train_network(twin, SMALL, 0.5, 20, 2, verbose=True)
    expected = capsys.readouterr().out
    assert printed == expected
    assert len(printed.splitlines()) == 20 and printed.startswith(">epoch=0, lrate=0.500, error=")
    assert_same_network(ours, twin)
    capsys.readouterr()
    scratch.train_network(ours, SMALL, 0.5, 3, 2, verbose=False)
    assert capsys.readouterr().out == ""


def test_deeper_hand_built_network_trains():
    """The tutorial's suggested extension: more hidden layers, built by hand."""
    random.seed(5)
    widths = [7, 6, 4, 5, 3]
    ours = [[{"weights": [random.random() - 0.5 for _ in range(n_in + 1)]} for _ in range(n_out)]
            for n_in, n_out in zip(widths[:-1], widths[1:])]
    twin = deepcopy(ours)
    dataset, _ = wheat(scratch)
    train = dataset[:60]
    scratch.train_network(ours, train, 0.3, 100, 3, verbose=False)
    train_network(twin, train, 0.3, 100, 3)
    assert_same_network(ours, twin)
    assert [scratch.predict(ours, row) for row in dataset] == [predict(twin, row) for row in dataset]


def test_weights_lists_are_updated_in_place():
    random.seed(2)
    network = scratch.initialize_network(2, 3, 2)
    lists = [neuron["weights"] for layer in network for neuron in layer]
    before = deepcopy(lists)
    scratch.train_network(network, SMALL, 0.5, 0, 2)  # no epochs: nothing changes
    assert lists == before and "output" not in network[0][0]
    scratch.train_network(network, SMALL[:1], 0.5, 2, 2, verbose=False)  # one row
    assert [neuron["weights"] for layer in network for neuron in layer] == lists
    assert all(a is b for a, b in zip(lists, [n["weights"] for layer in network for n in layer]))
    assert lists != before


def test_bad_networks_and_rows_are_refused():
    random.seed(3)
    network = scratch.initialize_network(2, 3, 2)
    with pytest.raises(ValueError, match="n_outputs is 3"):
        scratch.train_network(network, SMALL, 0.5, 1, 3)
    with pytest.raises(ValueError, match=r"train\[0\] has 1 inputs"):
        scratch.train_network(network, [[0.5, 1]], 0.5, 1, 2)
    broken = deepcopy(network)
    broken[1][0]["weights"].append(0.1)
    with pytest.raises(ValueError, match="different lengths"):
        scratch.train_network(broken, SMALL, 0.5, 1, 2)
    with pytest.raises(ValueError, match=r"network\[1\]'s neurons have 2 input weights"):
        scratch.train_network([network[0], [{"weights": [0.1, 0.2, 0.3]}] * 2], SMALL, 0.5, 1, 2)
    with pytest.raises(ValueError, match=r"train\[1\] has an input that is NaN or inf"):
        scratch.train_network(network, [SMALL[0], [float("nan"), 1.0, 1]], 0.5, 1, 2)
    broken = deepcopy(network)
    broken[0][0]["weights"][0] = float("inf")
    with pytest.raises(FloatingPointError, match="NaN or inf"):
        scratch.train_network(broken, SMALL, 0.5, 1, 2, verbose=False)


def test_folds_side_by_side_are_folds_one_after_another(monkeypatch):
    """evaluate_algorithm trains back_propagation's folds on two threads at
    once: the same draws, networks (bit for bit) and scores as on one."""
    dataset, _ = wheat(scratch)
    old = fastbp.get_num_threads()
    runs = []
    try:
        for threads in (1, 2):
            fastbp.set_num_threads(threads)
            nets = recording(scratch, monkeypatch)
            random.seed(1)
            scores = scratch.evaluate_algorithm(dataset, scratch.back_propagation, 5, 0.3, 40, 5)
            runs.append((scores, [flat(net) for net in nets], random.random()))
    finally:
        fastbp.set_num_threads(old)
    (scores_1, nets_1, after_1), (scores_2, nets_2, after_2) = runs
    assert scores_1 == scores_2 and after_1 == after_2 and len(nets_1) == len(nets_2) == 5
    assert all(np.array_equal(a, b) for a, b in zip(nets_1, nets_2))
    assert not np.array_equal(nets_1[0], nets_1[1])


def test_a_fold_that_fails_side_by_side_raises():
    dataset, _ = wheat(scratch)
    old = fastbp.get_num_threads()
    fastbp.set_num_threads(2)
    try:
        dataset[7][3] = float("nan")  # in the training rows of all folds but one
        with pytest.raises(ValueError, match="an input that is NaN or inf"):
            scratch.evaluate_algorithm(dataset, scratch.back_propagation, 3, 0.3, 5, 5)
    finally:
        fastbp.set_num_threads(old)


def test_a_set_stop_event_interrupts_train_network():
    """Training off the main thread stops at its next stretch of epochs once
    `stop` is set (evaluate_algorithm sets it at a Ctrl-C)."""
    random.seed(4)
    network = scratch.initialize_network(2, 3, 2)
    before = deepcopy(network)
    stop = threading.Event()
    stop.set()
    with pytest.raises(KeyboardInterrupt):
        scratch.train_network(network, SMALL, 0.5, 10, 2, verbose=False, stop=stop)
    assert network == before
    stop.clear()
    scratch.train_network(network, SMALL * 7000, 0.5, 3, 2, verbose=False, stop=stop)
    twin = deepcopy(before)
    train_network(twin, SMALL * 7000, 0.5, 3, 2)  # 3 epochs of 70,000 rows: 4 stretches
    assert_same_network(network, twin)
