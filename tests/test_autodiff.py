"""fastbp.autodiff.Value: every op against central differences, the graph
walk (shared nodes, deep chains), and a network built from Values against
the compiled core: same loss and gradients to 1e-12 for every activation x
cost x 1-2 hidden layers x batch 1 and 3."""
import math

import numpy as np
import pytest

from fastbp import autodiff
from fastbp.autodiff import Value, grads, network_loss

from conftest import COSTS, HIDDEN, make_data, make_net, rel_err

EPS = 1e-6

# name -> (function of Values, points to differentiate at)
OPS = {
    "add": (lambda x, y: x + y, [(0.3, -1.2)]),
    "sub": (lambda x, y: x - y, [(0.3, -1.2)]),
    "mul": (lambda x, y: x * y, [(0.3, -1.2)]),
    "div": (lambda x, y: x / y, [(0.3, -1.2)]),
    "neg": (lambda x: -x, [(0.7,)]),
    "pow_int": (lambda x: x ** 3, [(-0.7,), (1.3,)]),
    "pow_float": (lambda x: x ** -0.5, [(1.7,)]),
    "radd": (lambda x: 2 + x, [(0.7,)]),
    "rsub": (lambda x: 2 - x, [(0.7,)]),
    "rmul": (lambda x: 2 * x, [(0.7,)]),
    "rtruediv": (lambda x: 2 / x, [(0.7,)]),
    "rpow": (lambda x: 2.5 ** x, [(0.7,)]),
    "exp": (lambda x: x.exp(), [(-0.4,), (2.0,)]),
    "log": (lambda x: x.log(), [(0.4,), (3.0,)]),
    "tanh": (lambda x: x.tanh(), [(-0.4,), (1.5,)]),
    "sigmoid": (lambda x: x.sigmoid(), [(-2.0,), (0.5,)]),
    "relu": (lambda x: x.relu(), [(-0.5,), (0.5,)]),
    "leaky_relu": (lambda x: x.leaky_relu(0.1), [(-0.5,), (0.5,)]),
    # a node used twice, and an expression mixing several ops
    "shared": (lambda x: x * x + x, [(0.8,)]),
    "mixed": (lambda x, y: (x * y + 1).log() / (y.tanh() - 3) + x.sigmoid() ** 2, [(0.6, 1.1)]),
}


def _numeric(f, point):
    """Central differences of the scalar f at point, one argument at a time."""
    out = []
    for i in range(len(point)):
        up, down = list(point), list(point)
        up[i] += EPS
        down[i] -= EPS
        out.append((f(*map(Value, up)).data - f(*map(Value, down)).data) / (2 * EPS))
    return out


@pytest.mark.parametrize("name", OPS)
def test_op_gradient_matches_central_differences(name):
    f, points = OPS[name]
    for point in points:
        args = [Value(p) for p in point]
        f(*args).backward()
        for arg, num in zip(args, _numeric(f, point)):
            assert arg.grad == pytest.approx(num, rel=1e-8, abs=1e-9), (name, point)


def test_values_and_known_derivatives():
    x = Value(2.0)
    y = (x * x + 1).log()
    y.backward()
    assert y.data == pytest.approx(math.log(5))
    assert x.grad == pytest.approx(2 * 2.0 / 5)
    # sigmoid is stable at large |x| and relu's subgradient at 0 is 0
    assert Value(-800.0).sigmoid().data == 0.0 and Value(800.0).sigmoid().data == 1.0
    z = Value(0.0)
    z.relu().backward()
    assert z.grad == 0.0


def test_backward_is_iterative_on_a_deep_graph():
    # 20,000 chained nodes: a recursive topological sort would overflow
    x = Value(0.5)
    y = x
    for _ in range(20_000):
        y = y + x * 1.0
    y.backward()
    assert x.grad == 20_001
    assert y.data == pytest.approx(0.5 * 20_001)


def test_repr_and_bad_exponent():
    v = Value(1.5) * 2
    assert repr(v) == "Value(data=3, grad=0, op='*')"
    assert repr(Value(0.25)) == "Value(data=0.25, grad=0)"
    with pytest.raises(TypeError, match="k"):
        Value(2.0) ** Value(3.0)


def _graph_gradients(net, X, Y):
    """Loss and flat gradient (params layout) of the network built from Values."""
    loss, weights, biases = network_loss(net, X, Y)
    loss.backward()
    flat = np.empty(net.params.size)
    gw, gb = net.unflatten(flat)
    for l, (W, b) in enumerate(zip(weights, biases)):
        gw[l][...] = grads(W)
        gb[l][...] = grads(b)
    return loss.data, flat


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("hidden", [1, 2])
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_network_of_values_matches_compiled_core(activation, cost, hidden, batch):
    net = make_net([4, 5, 3] if hidden == 1 else [3, 4, 5, 3], activation, cost, seed=hidden)
    X, Y = make_data(net, batch, seed=batch)
    loss, flat = _graph_gradients(net, X, Y)
    core_loss, core_flat = net.flat_gradients(*net.checked_data(X, Y))
    assert rel_err(loss, core_loss) <= 1e-12
    assert rel_err(flat, core_flat) <= 1e-12


@pytest.mark.parametrize("out_act", ["softmax", "tanh", "relu", "leaky_relu", "identity"])
def test_quadratic_cost_with_other_outputs(out_act):
    net = make_net([4, 5, 3], "sigmoid", "quadratic", output_activation=out_act)
    X, Y = make_data(net, 3)
    loss, flat = _graph_gradients(net, X, Y)
    core_loss, core_flat = net.flat_gradients(*net.checked_data(X, Y))
    assert rel_err(loss, core_loss) <= 1e-12
    assert rel_err(flat, core_flat) <= 1e-12


def test_float32_network_and_labels():
    # Values compute in float64 from the float32 parameters; the core in float32
    net = make_net([4, 5, 3], "tanh", "cross_entropy", dtype="float32", init="auto")
    X, _ = make_data(net, 3)
    y = np.array([0, 2, 1])                   # class labels are one-hot encoded
    loss, flat = _graph_gradients(net, X, y)
    core_loss, core_flat = net.flat_gradients(*net.checked_data(X, y))
    assert rel_err(loss, core_loss) <= 1e-5
    assert rel_err(flat, core_flat) <= 1e-5


def test_network_comparison_detects_a_wrong_derivative(monkeypatch):
    # A comparison that cannot fail is no oracle: a sigmoid whose backward
    # forgets the (1 − a) factor must show as a large gradient error.
    def bad_sigmoid(self):
        out = Value(1 / (1 + math.exp(-self.data)), (self,), "sigmoid")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    net = make_net([4, 5, 3], "sigmoid", "quadratic")
    X, Y = make_data(net, 3)
    monkeypatch.setattr(autodiff.Value, "sigmoid", bad_sigmoid)
    loss, flat = _graph_gradients(net, X, Y)
    core_loss, core_flat = net.flat_gradients(*net.checked_data(X, Y))
    assert rel_err(loss, core_loss) <= 1e-12       # the forward pass is still right
    assert rel_err(flat, core_flat) > 0.1


def test_network_loss_validates_and_leaves_net_unchanged():
    net = make_net([4, 5, 3], "relu", "quadratic")
    X, Y = make_data(net, 2)
    before = net.params.copy()
    loss, weights, _ = network_loss(net, X, Y)
    loss.backward()
    assert np.array_equal(net.params, before)
    assert grads(weights[0]).shape == net.weights[0].shape
    with pytest.raises(ValueError, match="X"):
        network_loss(net, X[:, :3], Y)
    with pytest.raises(ValueError, match="Y"):
        network_loss(net, X, Y[:1])
