"""fastbp.autodiff: a scalar reverse-mode automatic-differentiation engine.

Purpose: the teaching view of backpropagation and an oracle that shares
nothing with the compiled core or fastbp.reference. Each `Value` holds one
number, the values it was computed from and a `_backward` closure that
pushes its gradient to them (the chain rule for one op); `backward()` visits
the graph in reverse topological order, so each node's gradient is complete
before it is passed on. This is BP1-BP4 one scalar at a time.

    x = Value(2.0); y = (x * x + 1).log(); y.backward(); x.grad  # 2x/(x²+1)

`network_loss` builds a fastbp Network's mean cost out of Values, so a test
can compare every weight gradient of the compiled core against it. It is
slow by design (one Python object per multiply): keep networks small.
"""
import math

import numpy as np

from ._validation import LEAKY_SLOPE

__all__ = ["Value", "network_loss", "grads"]


def _lift(x):
    """Numbers enter a graph as constant leaves."""
    return x if isinstance(x, Value) else Value(x)


def _noop():
    pass


class Value:
    """A scalar node of a computation graph.

    Parameters
    ----------
    data : float
        The value.

    Attributes
    ----------
    data : float
    grad : float
        ∂(output)/∂(this node) after ``output.backward()``; gradients
        accumulate over calls, as in PyTorch (build a fresh graph, or set
        ``grad = 0`` on the leaves, before differentiating again).
    """

    __slots__ = ("data", "grad", "_backward", "_prev", "_op")

    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._backward = _noop
        self._prev = _children
        self._op = _op

    def __repr__(self):
        op = f", op={self._op!r}" if self._op else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{op})"

    # -------------------------------------------------------- binary ops

    def __add__(self, other):
        other = _lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = _lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        if not isinstance(k, (int, float)):
            raise TypeError(f"Value ** k needs a number k; got {type(k).__name__}")
        out = Value(self.data ** k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def __rpow__(self, base):
        # base ** x = exp(x ln base): d/dx = out · ln base (base > 0)
        out = Value(base ** self.data, (self,), f"{base}**")

        def _backward():
            self.grad += out.data * math.log(base) * out.grad
        out._backward = _backward
        return out

    # The rest are compositions of the ops above: their backward comes free.
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-_lift(other))

    def __truediv__(self, other):
        return self * _lift(other) ** -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return _lift(other) - self

    def __rtruediv__(self, other):
        return _lift(other) / self

    # -------------------------------------------------------- unary ops

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self):
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def tanh(self):
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            self.grad += (1 - out.data ** 2) * out.grad
        out._backward = _backward
        return out

    def sigmoid(self):
        # exp of a non-positive argument only, so no overflow for large |x|
        e = math.exp(-abs(self.data))
        out = Value(1 / (1 + e) if self.data >= 0 else e / (1 + e), (self,), "sigmoid")

        def _backward():
            self.grad += out.data * (1 - out.data) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        return self.leaky_relu(0.0)

    def leaky_relu(self, slope=0.01):
        """x for x > 0, else slope·x (relu is slope 0)."""
        out = Value(self.data if self.data > 0 else slope * self.data, (self,),
                    "relu" if slope == 0 else "leaky_relu")

        def _backward():
            # the subgradient at 0 is the left one, as in the compiled core
            self.grad += (1.0 if self.data > 0 else slope) * out.grad
        out._backward = _backward
        return out

    # -------------------------------------------------------- backprop

    def backward(self):
        """Fill ``.grad`` of every node this one depends on with
        ∂(self)/∂(node), by one pass in reverse topological order.

        The sort is iterative (an explicit stack), so graphs deeper than
        Python's recursion limit are fine.
        """
        order, seen = [], set()
        stack = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)        # post-order: after all its inputs
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev if child not in seen)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


# ------------------------------------------------------------ a Network as Values

def _activate(name, z, slope):
    """σ applied to one layer's list of pre-activations z."""
    if name == "softmax":
        m = max(v.data for v in z)    # a constant shift: softmax is invariant to it
        e = [(v - m).exp() for v in z]
        total = sum(e)
        return [x / total for x in e]
    if name == "identity":
        return list(z)
    if name == "leaky_relu":
        return [v.leaky_relu(slope) for v in z]
    return [getattr(v, name)() for v in z]


def _softplus(z):
    """ln(1 + eˣ) with exp of a non-positive argument only."""
    return z + (1 + (-z).exp()).log() if z.data >= 0 else (1 + z.exp()).log()


def _cost(name, a, z, y):
    """One sample's cost, as fastbp.reference.cost_per_sample defines it."""
    if name == "quadratic":
        return 0.5 * sum((ak - yk) ** 2 for ak, yk in zip(a, y))
    if name == "binary_cross_entropy":
        return sum(_softplus(zk) - yk * zk for zk, yk in zip(z, y))
    if name == "cross_entropy":
        m = max(v.data for v in z)
        lse = m + sum((zk - m).exp() for zk in z).log()
        return sum(yk * (lse - zk) for zk, yk in zip(z, y))
    raise ValueError(f"unknown cost {name!r}")


def network_loss(net, X, Y):
    """A fastbp Network's mean cost over (X, Y), built from Values.

    Parameters
    ----------
    net : fastbp.Network
        Any activation and cost; its parameters are copied into new leaf
        Values (the network is not changed).
    X, Y : array_like
        As for ``net.loss``; validated by the network. Keep them small: every
        multiply is a Python object.

    Returns
    -------
    loss : Value
        Mean over the rows of the per-sample cost; call ``loss.backward()``.
    weights : list of list of list of Value
        ``weights[l][j][k]`` is the leaf of ``net.weights[l][j, k]``.
    biases : list of list of Value
        ``biases[l][j]`` is the leaf of ``net.biases[l][j]``.
    """
    X, Y = net.checked_data(X, Y)
    weights = [[[Value(w) for w in row] for row in W] for W in net.weights]
    biases = [[Value(b) for b in bl] for bl in net.biases]
    acts = net.layer_activations()
    total = 0.0
    for x, y in zip(X.tolist(), Y.tolist()):
        a = x
        for W, b, act in zip(weights, biases, acts):
            z = [sum((wk * ak for wk, ak in zip(row, a)), bj) for row, bj in zip(W, b)]
            a = _activate(act, z, LEAKY_SLOPE)
        total = total + _cost(net.cost, a, z, y)
    return total / X.shape[0], weights, biases


def grads(values):
    """The ``.grad`` of a nested list of Values, as a float64 array of its shape."""
    if isinstance(values, Value):
        return np.float64(values.grad)
    return np.array([grads(v) for v in values], dtype=np.float64)
