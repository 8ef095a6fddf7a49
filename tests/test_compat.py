"""fastbp.compat.network / network2 against Nielsen's algorithm.

`Nielsen` below is his algorithm written the way his code is (column
vectors, one backprop per sample, gradients summed over the mini-batch), in
plain NumPy and independent of fastbp; the compat classes must give the same
numbers from the same start and the same mini-batches.
"""
import json
import random
import re
import runpy
import sys
import textwrap

import numpy as np
import pytest

import fastbp
from fastbp.compat import network, network2
from fastbp.datasets import load_mnist_5k, train_test_split

from conftest import rel_err

SIZES = [7, 9, 4, 3]  # two hidden layers: exercises the BP2 loop twice


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def sig_prime(z):
    return sig(z) * (1 - sig(z))


class Nielsen:
    """His network.py / network2.py training, per sample, in plain NumPy."""

    def __init__(self, weights, biases, cross_entropy=False):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]
        self.biases = [np.array(b, dtype=np.float64) for b in biases]
        self.cross_entropy = cross_entropy

    def feedforward(self, a):
        for w, b in zip(self.weights, self.biases):
            a = sig(w @ a + b)
        return a

    def backprop(self, x, y):
        activations, zs = [x], []
        for w, b in zip(self.weights, self.biases):
            zs.append(w @ activations[-1] + b)
            activations.append(sig(zs[-1]))
        L = len(self.weights)
        nabla_b, nabla_w = [None] * L, [None] * L
        delta = activations[-1] - y
        if not self.cross_entropy:
            delta = delta * sig_prime(zs[-1])
        nabla_b[-1], nabla_w[-1] = delta, delta @ activations[-2].T
        for l in range(2, L + 1):
            delta = (self.weights[-l + 1].T @ delta) * sig_prime(zs[-l])
            nabla_b[-l], nabla_w[-l] = delta, delta @ activations[-l - 1].T
        return nabla_b, nabla_w

    def update_mini_batch(self, batch, eta, lmbda=0.0, n=1):
        sum_b = [np.zeros_like(b) for b in self.biases]
        sum_w = [np.zeros_like(w) for w in self.weights]
        for x, y in batch:
            db, dw = self.backprop(x, y)
            sum_b = [s + d for s, d in zip(sum_b, db)]
            sum_w = [s + d for s, d in zip(sum_w, dw)]
        self.weights = [(1 - eta * (lmbda / n)) * w - (eta / len(batch)) * s
                        for w, s in zip(self.weights, sum_w)]
        self.biases = [b - (eta / len(batch)) * s for b, s in zip(self.biases, sum_b)]

    def SGD(self, data, epochs, size, eta, lmbda=0.0, test_data=None):
        lines = []
        for j in range(epochs):
            random.shuffle(data)
            for k in range(0, len(data), size):
                self.update_mini_batch(data[k:k + size], eta, lmbda, len(data))
            if test_data:
                right = sum(int(np.argmax(self.feedforward(x)) == y) for x, y in test_data)
                lines.append(f"Epoch {j}: {right} / {len(test_data)}")
        return lines


def one_hot(label, k):
    e = np.zeros((k, 1))
    e[label] = 1.0
    return e


def toy_data(n, sizes=SIZES, seed=1):
    """n samples in his training format: x (n_in, 1), one-hot y (n_out, 1)."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((sizes[0], 1)), one_hot(rng.integers(sizes[-1]), sizes[-1]))
            for _ in range(n)]


def as_test(data):
    """His test format: integer labels."""
    return [(x, int(np.argmax(y))) for x, y in data]


def assert_same_params(net, ref, tol=1e-12):
    for got, want in zip(list(net.weights) + list(net.biases), ref.weights + ref.biases):
        assert got.shape == want.shape
        assert rel_err(got, want) <= tol


MAKERS = {
    "network": (lambda: network.Network(SIZES), False),
    "network2-quadratic": (lambda: network2.Network(SIZES, cost=network2.QuadraticCost), False),
    "network2-cross-entropy": (lambda: network2.Network(SIZES), True),
}


# ------------------------------------------------------------------ (a) training


# lmbda > 0 (network2 only): his weight decay as fastbp.Network.fit(l2=lmbda/n)
@pytest.mark.parametrize("kind, lmbda", [(k, 0.0) for k in MAKERS]
                         + [(k, 2.0) for k in MAKERS if k != "network"])
def test_sgd_epochs_equal_his_algorithm(kind, lmbda):
    net, ref = _with_his(kind, seed=0)
    data = toy_data(53)  # 53 = 5 batches of 10 and a short one of 3
    ours, his = list(data), list(data)
    kwargs = {"lmbda": lmbda} if kind != "network" else {}
    random.seed(7)
    net.SGD(ours, 2, 10, 0.7, **kwargs)
    random.seed(7)
    ref.SGD(his, 2, 10, 0.7, lmbda=lmbda)
    assert_same_params(net, ref)
    # the caller's list is shuffled in place, exactly as his SGD leaves it
    assert [id(x) for x, _ in ours] == [id(x) for x, _ in his]
    assert net.weights[0].shape == (SIZES[1], SIZES[0]) and net.biases[0].shape == (SIZES[1], 1)


def _with_his(kind, seed):
    """Our network of `kind` (NumPy's global seed `seed`) and his Network on
    the same parameters."""
    make, cross_entropy = MAKERS[kind]
    np.random.seed(seed)
    net = make()
    return net, Nielsen(net.weights, net.biases, cross_entropy)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_update_mini_batch_equals_his(kind):
    net, ref = _with_his(kind, seed=2)
    batch = toy_data(6, seed=3)
    if kind == "network":
        net.update_mini_batch(batch, 1.5)
        ref.update_mini_batch(batch, 1.5)
    else:
        net.update_mini_batch(batch, 1.5, 0.3, 40)
        ref.update_mini_batch(batch, 1.5, 0.3, 40)
    assert_same_params(net, ref)


def test_initial_parameters_are_his_randn_draws():
    np.random.seed(11)
    net = network.Network([3, 4, 2])
    np.random.seed(11)
    biases = [np.random.randn(4, 1), np.random.randn(2, 1)]
    weights = [np.random.randn(4, 3), np.random.randn(2, 4)]
    for got, want in zip(list(net.weights) + list(net.biases), weights + biases):
        np.testing.assert_array_equal(got, want)

    np.random.seed(11)
    net2 = network2.Network([3, 4, 2])
    np.testing.assert_array_equal(net2.weights[0], weights[0] / np.sqrt(3))
    np.testing.assert_array_equal(net2.biases[1], biases[1])
    np.random.seed(11)
    net2.large_weight_initializer()
    np.testing.assert_array_equal(net2.weights[1], weights[1])


# ------------------------------------------------------------------ (b) his scripts

MNIST_LOADER = '''
"""Stand-in for his mnist_loader: the bundled MNIST subset in his format."""
import numpy as np
from fastbp.datasets import load_mnist_5k, train_test_split

def load_data_wrapper():
    X, y = load_mnist_5k()
    X_train, X_test, y_train, y_test = train_test_split(X, y, 0.2, seed=0)
    training_data = [(x.reshape(784, 1), np.eye(10)[j].reshape(10, 1))
                     for x, j in zip(X_train, y_train)]
    test_data = [(x.reshape(784, 1), int(j)) for x, j in zip(X_test, y_test)]
    return training_data, None, test_data
'''


def run_script(tmp_path, monkeypatch, body):
    """Run a script beside the mnist_loader stand-in; return what it printed."""
    (tmp_path / "mnist_loader.py").write_text(textwrap.dedent(MNIST_LOADER))
    (tmp_path / "script.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mnist_loader", raising=False)
    return runpy.run_path(str(tmp_path / "script.py"))


def test_his_network_script_runs_unchanged(tmp_path, monkeypatch, capsys):
    # His chapter 1 session; the import line is the only change.
    run_script(tmp_path, monkeypatch, """
        import random
        import numpy as np
        import mnist_loader
        from fastbp.compat import network      # was: import network
        random.seed(0); np.random.seed(0)
        training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
        net = network.Network([784, 30, 10])
        net.SGD(training_data, 3, 10, 3.0, test_data=test_data)
    """)
    lines = capsys.readouterr().out.splitlines()
    assert [re.sub(r"\d+ /", "k /", s) for s in lines] == [f"Epoch {j}: k / 1000" for j in range(3)]

    # His algorithm from the same seeds prints the same counts.
    X, y = load_mnist_5k()
    X_train, X_test, y_train, y_test = train_test_split(X, y, 0.2, seed=0)
    training_data = [(x.reshape(784, 1), one_hot(j, 10)) for x, j in zip(X_train, y_train)]
    test_data = [(x.reshape(784, 1), int(j)) for x, j in zip(X_test, y_test)]
    random.seed(0)
    np.random.seed(0)
    biases = [np.random.randn(30, 1), np.random.randn(10, 1)]
    weights = [np.random.randn(30, 784), np.random.randn(10, 30)]
    assert Nielsen(weights, biases).SGD(training_data, 3, 10, 3.0, test_data=test_data) == lines
    # Chapter 1's N(0, 1) start saturates many sigmoids, so 3 epochs of 4,000
    # images learn slowly (about 64% here, 60-85% across seeds); chance is 10%.
    assert int(lines[-1].split()[2]) > 600


def test_his_network2_script_reaches_85_percent(tmp_path, monkeypatch, capsys):
    # His chapter 3 session, again only the import changed.
    namespace = run_script(tmp_path, monkeypatch, """
        import random
        import numpy as np
        import mnist_loader
        from fastbp.compat import network2     # was: import network2
        random.seed(0); np.random.seed(0)
        training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
        net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
        evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = net.SGD(
            training_data, 3, 10, 0.5, lmbda=5.0, evaluation_data=test_data,
            monitor_evaluation_accuracy=True)
    """)
    assert namespace["evaluation_accuracy"][-1] > 850
    assert "Accuracy on evaluation data: {} / 1000".format(
        namespace["evaluation_accuracy"][-1]) in capsys.readouterr().out


def test_zip_inputs_as_from_his_python3_loader():
    np.random.seed(0)
    net = network.Network(SIZES)
    data = toy_data(20)
    net.SGD(zip(*zip(*data)), 1, 5, 0.5, test_data=zip(*zip(*as_test(data))))
    assert 0 <= net.evaluate(zip(*zip(*as_test(data)))) <= 20


# ------------------------------------------------------------------ (c) backprop


@pytest.mark.parametrize("kind", list(MAKERS))
def test_backprop_shapes_and_values(kind):
    net, ref = _with_his(kind, seed=4)
    (x, y), = toy_data(1, seed=5)
    nabla_b, nabla_w = net.backprop(x, y)
    want_b, want_w = ref.backprop(x, y)
    assert [b.shape for b in nabla_b] == [(n, 1) for n in SIZES[1:]]
    assert [w.shape for w in nabla_w] == [(m, n) for n, m in zip(SIZES[:-1], SIZES[1:])]
    for got, want in zip(nabla_b + nabla_w, want_b + want_w):
        assert rel_err(got, want) <= 1e-12


def test_feedforward_evaluate_cost_derivative():
    np.random.seed(6)
    net = network.Network(SIZES)
    ref = Nielsen(net.weights, net.biases)
    data = toy_data(30, seed=8)
    x = data[0][0]
    assert net.feedforward(x).shape == (SIZES[-1], 1)
    assert rel_err(net.feedforward(x), ref.feedforward(x)) <= 1e-12
    # several columns at once, as np.dot in his code allows
    block = np.hstack([x for x, _ in data])
    assert rel_err(net.feedforward(block), ref.feedforward(block)) <= 1e-12
    want = sum(int(np.argmax(ref.feedforward(x)) == y) for x, y in as_test(data))
    assert net.evaluate(as_test(data)) == want
    a, y = np.arange(3.0).reshape(3, 1), np.ones((3, 1))
    np.testing.assert_array_equal(net.cost_derivative(a, y), a - y)
    z = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(network.sigmoid_prime(z), sig_prime(z))
    np.testing.assert_array_equal(network2.vectorized_result(3), one_hot(3, 10))


# ------------------------------------------------------------------ (d) network2


def his_total_cost(ref, data, lmbda, fn, convert):
    cost = 0.0
    for x, y in data:
        cost += fn(ref.feedforward(x), one_hot(y, SIZES[-1]) if convert else y) / len(data)
    return cost + 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in ref.weights)


def test_network2_monitors_and_returned_lists(capsys):
    np.random.seed(9)
    net = network2.Network(SIZES, cost=network2.CrossEntropyCost)
    ref = Nielsen(net.weights, net.biases, cross_entropy=True)
    data, evaluation = toy_data(40, seed=10), as_test(toy_data(15, seed=12))
    random.seed(1)
    result = net.SGD(list(data), 3, 8, 0.4, lmbda=0.5, evaluation_data=evaluation,
                     monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                     monitor_training_cost=True, monitor_training_accuracy=True)
    random.seed(1)
    ref.SGD(list(data), 3, 8, 0.4, lmbda=0.5)
    eval_cost, eval_acc, train_cost, train_acc = result
    assert [len(r) for r in result] == [3, 3, 3, 3]
    fn = network2.CrossEntropyCost.fn
    assert rel_err(train_cost[-1], his_total_cost(ref, data, 0.5, fn, False)) <= 1e-12
    assert rel_err(eval_cost[-1], his_total_cost(ref, evaluation, 0.5, fn, True)) <= 1e-12
    assert train_acc[-1] == sum(int(np.argmax(ref.feedforward(x)) == np.argmax(y)) for x, y in data)
    assert eval_acc[-1] == sum(int(np.argmax(ref.feedforward(x)) == y) for x, y in evaluation)
    assert net.accuracy(data, convert=True) == train_acc[-1]
    assert net.accuracy(evaluation) == eval_acc[-1]
    assert rel_err(net.total_cost(evaluation, 0.5, convert=True), eval_cost[-1]) <= 1e-12
    out = capsys.readouterr().out
    assert "Epoch 2 training complete" in out
    assert f"Accuracy on evaluation data: {eval_acc[-1]} / 15" in out
    assert f"Accuracy on training data: {train_acc[-1]} / 40" in out

    assert net.SGD(data, 1, 8, 0.4) == ([], [], [], [])


def test_network2_quadratic_total_cost_and_cost_switch():
    np.random.seed(13)
    net = network2.Network(SIZES, cost=network2.QuadraticCost)
    ref = Nielsen(net.weights, net.biases)
    data = toy_data(12, seed=14)
    want = his_total_cost(ref, data, 0.0, network2.QuadraticCost.fn, False)
    assert rel_err(net.total_cost(data, 0.0), want) <= 1e-12
    net.cost = network2.CrossEntropyCost  # his code allows swapping the cost class
    want = his_total_cost(ref, data, 0.0, network2.CrossEntropyCost.fn, False)
    assert rel_err(net.total_cost(data, 0.0), want) <= 1e-12
    with pytest.raises(ValueError, match="QuadraticCost or CrossEntropyCost"):
        network2.Network(SIZES, cost=object)


# ------------------------------------------------------------------ (e) save / load


def test_save_load_round_trip(tmp_path):
    np.random.seed(15)
    net = network2.Network(SIZES, cost=network2.QuadraticCost)
    path = tmp_path / "net.json"
    net.save(str(path))
    data = json.loads(path.read_text())
    assert set(data) == {"sizes", "weights", "biases", "cost"} and data["cost"] == "QuadraticCost"
    assert np.array(data["biases"][0]).shape == (SIZES[1], 1)
    back = network2.load(str(path))
    assert back.cost is network2.QuadraticCost and back.sizes == SIZES
    for got, want in zip(list(back.weights) + list(back.biases), list(net.weights) + list(net.biases)):
        np.testing.assert_array_equal(got, want)


def test_load_file_written_his_way(tmp_path):
    # What his save() writes: json.dump of lists, the cost by class name.
    weights = [[[0.5, -1.0], [2.0, 0.25], [0.0, 1.0]], [[1.0, -1.0, 0.5]]]
    biases = [[[0.1], [0.2], [0.3]], [[-0.4]]]
    path = tmp_path / "his.json"
    with open(path, "w") as f:
        json.dump({"sizes": [2, 3, 1], "weights": weights, "biases": biases,
                   "cost": "CrossEntropyCost"}, f)
    net = network2.load(str(path))
    assert net.cost is network2.CrossEntropyCost
    ref = Nielsen([np.array(w) for w in weights], [np.array(b) for b in biases])
    x = np.array([[0.3], [-0.7]])
    assert rel_err(net.feedforward(x), ref.feedforward(x)) <= 1e-12


@pytest.mark.parametrize("text", ["not json", '{"sizes": [2, 1]}',
                                  '{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], '
                                  '"cost": "HingeCost"}',
                                  '{"sizes": [2, 1], "weights": [[[1, 2, 3]]], "biases": [[[0]]], '
                                  '"cost": "QuadraticCost"}'])
def test_load_rejects_bad_files_naming_them(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="bad.json"):
        network2.load(str(path))


# ------------------------------------------------------------------ (f) views


def test_weights_and_biases_are_views_of_the_model():
    np.random.seed(16)
    net = network.Network(SIZES)
    params = net.fastbp_network.params
    assert all(np.shares_memory(a, params) for a in list(net.weights) + list(net.biases))
    x = toy_data(1)[0][0]
    before = net.feedforward(x).copy()
    net.weights[0][0, 0] += 1.0
    assert not np.allclose(net.feedforward(x), before)
    assert net.fastbp_network.weights[0][0, 0] == net.weights[0][0, 0]

    # whole-list assignment (as his load() and notebooks do) copies in
    net.biases = [np.zeros((n, 1)) for n in SIZES[1:]]
    assert not any(b.any() for b in net.fastbp_network.biases)
    assert all(np.shares_memory(b, params) for b in net.biases)
    with pytest.raises(ValueError, match="shape"):
        net.weights = [w.T for w in net.weights]
