"""fastbp.reference: every computation of the compiled core in plain NumPy.

Written to be read next to chapter 2 of Nielsen's *Neural Networks and Deep
Learning*, in its mini-batch matrix form (one row per sample):

    forward   Z_l = A_{l-1}·W_lᵀ + b_l,   A_l = σ(Z_l)
    BP1       Δ_L = ∇_A C ⊙ σ'(Z_L)       (A_L − Y for the cross-entropies)
    BP2       Δ_l = (Δ_{l+1}·W_{l+1}) ⊙ σ'(Z_l)
    BP3       ∂C/∂b_l = Σ_rows Δ_l
    BP4       ∂C/∂W_l = Δ_lᵀ·A_{l-1}

C is the mean over the batch of the per-sample cost. This module is the
oracle of the tests and the NumPy baseline of bench/; it shares nothing with
the compiled path but the names, and never changes a network it is given.
"""
import numpy as np

from ._validation import LEAKY_SLOPE


# ---------------------------------------------------------------- activations

def activate(name, z):
    """σ(z) for an activation name; softmax is taken over each row."""
    if name == "sigmoid":
        # exp of non-positive arguments only, as the core does
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_SLOPE * z)
    if name == "identity":
        return z
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(f"unknown activation {name!r}")


def activation_grad(name, a):
    """σ'(z) written in terms of a = σ(z) (not defined for softmax)."""
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a * a
    if name == "relu":
        return (a > 0).astype(a.dtype)
    if name == "leaky_relu":
        return np.where(a > 0, 1, LEAKY_SLOPE).astype(a.dtype)
    if name == "identity":
        return np.ones_like(a)
    raise ValueError(f"no elementwise derivative for {name!r}")


def _softplus(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _layer_activations(net):
    return [net.activation] * (len(net.sizes) - 2) + [net.output_activation]


# ---------------------------------------------------------------- forward

def feedforward(net, X, weights=None, biases=None):
    """All activations [A_0 = X, A_1, ..., A_L] and the output pre-activation Z_L."""
    weights = net.weights if weights is None else weights
    biases = net.biases if biases is None else biases
    A = [np.asarray(X, dtype=net.dtype)]
    for W, b, act in zip(weights, biases, _layer_activations(net)):
        Z = A[-1] @ W.T + b
        A.append(activate(act, Z))
    return A, Z


def forward(net, X):
    """Network output A_L, shape (n, sizes[-1])."""
    return feedforward(net, X)[0][-1]


# ---------------------------------------------------------------- costs

def cost_per_sample(net, A_L, Z_L, Y):
    """Per-sample cost, shape (n,). The two cross-entropies are computed from
    Z_L (log-sum-exp, softplus) so they never take log(0)."""
    if net.cost == "quadratic":
        return 0.5 * np.sum((A_L - Y) ** 2, axis=1)
    if net.cost == "binary_cross_entropy":
        # −[y ln σ(z) + (1−y) ln(1−σ(z))] = softplus(z) − y·z
        return np.sum(_softplus(Z_L) - Y * Z_L, axis=1)
    if net.cost == "cross_entropy":
        m = Z_L.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(Z_L - m).sum(axis=1, keepdims=True))
        return np.sum(Y * (lse - Z_L), axis=1)
    raise ValueError(f"unknown cost {net.cost!r}")


def output_delta(net, A_L, Y):
    """BP1: Δ_L = ∂C_x/∂Z_L for each sample x (not yet divided by n)."""
    if net.cost in ("binary_cross_entropy", "cross_entropy"):
        return A_L - Y
    G = A_L - Y  # ∇_a of ½‖a − y‖²
    if net.output_activation == "softmax":
        # softmax Jacobian-vector product: a ⊙ (g − ⟨a, g⟩)
        return A_L * (G - np.sum(A_L * G, axis=1, keepdims=True))
    return G * activation_grad(net.output_activation, A_L)


def loss(net, X, Y):
    """Mean per-sample cost over the rows of (X, Y)."""
    A, Z_L = feedforward(net, X)
    return float(np.mean(cost_per_sample(net, A[-1], Z_L, np.asarray(Y, dtype=net.dtype))))


def accuracy(net, X, Y):
    """Fraction of rows whose predicted class is the target's class."""
    A_L = forward(net, X)
    Y = np.asarray(Y)
    if A_L.shape[1] == 1:
        return float(np.mean((A_L[:, 0] > 0.5) == (Y[:, 0] > 0.5)))
    return float(np.mean(A_L.argmax(axis=1) == Y.argmax(axis=1)))


# ---------------------------------------------------------------- backprop

def backprop(net, X, Y, weights=None, biases=None):
    """(mean cost, ∂C/∂W per layer, ∂C/∂b per layer) for the batch (X, Y)."""
    weights = net.weights if weights is None else weights
    biases = net.biases if biases is None else biases
    Y = np.asarray(Y, dtype=net.dtype)
    n = X.shape[0]
    A, Z_L = feedforward(net, X, weights, biases)
    cost = float(np.mean(cost_per_sample(net, A[-1], Z_L, Y)))
    acts = _layer_activations(net)
    L = len(weights)
    grad_w, grad_b = [None] * L, [None] * L
    delta = output_delta(net, A[-1], Y) / n                       # BP1
    for l in range(L - 1, -1, -1):
        grad_b[l] = delta.sum(axis=0)                             # BP3
        grad_w[l] = delta.T @ A[l]                                # BP4
        if l > 0:
            delta = (delta @ weights[l]) * activation_grad(acts[l - 1], A[l])  # BP2
    return cost, grad_w, grad_b


def gradients(net, X, Y):
    """Same contract as Network.gradients: (loss, grad_weights, grad_biases)."""
    return backprop(net, X, Y)


def sgd_epoch(net, X, Y, order, batch_size, lr):
    """One epoch of mini-batch SGD over rows taken in `order`, on copies.

    Returns (weights, biases) after the epoch; `net` is left unchanged.
    w ← w − lr·∂C/∂w for each mini-batch, C its mean cost.
    """
    weights = [W.copy() for W in net.weights]
    biases = [b.copy() for b in net.biases]
    X = np.asarray(X, dtype=net.dtype)
    Y = np.asarray(Y, dtype=net.dtype)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        _, gw, gb = backprop(net, X[rows], Y[rows], weights, biases)
        for l in range(len(weights)):
            weights[l] -= net.dtype.type(lr) * gw[l]
            biases[l] -= net.dtype.type(lr) * gb[l]
    return weights, biases
