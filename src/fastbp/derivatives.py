"""fastbp.derivatives: derivatives of a Network beyond the weight gradient.

Purpose: the input gradient, the input-output Jacobian, per-sample weight
gradients and their norms, exact Hessian-vector and Gauss-Newton-vector
products, in NumPy over the activations
and deltas the compiled core computes (`Network._trace`; the Jacobian, which
has no targets, over `fastbp.reference.feedforward`), each vectorized over
the samples (loops run over layers only).

Notation as in fastbp.reference, layer l = 0..L-1 mapping A_l to A_{l+1}:

    Z_{l+1} = A_l·W_lᵀ + b_l,   A_{l+1} = σ(Z_{l+1}),
    Δ_l = ∂C/∂Z_{l+1} of the mean cost C = (1/n)·Σ_i c_i  (what _trace returns).

Every result is computed and returned in the network's dtype; a float32
network's results carry float32 rounding (the tests compare them with a
float64 twin at a float32 tolerance).
"""
import numpy as np

from ._validation import check_values
from .model import Model
from .reference import activation_grad, feedforward


# ------------------------------------------------------------ helpers

def _check_net(net):
    if not isinstance(net, Model):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__}")


def _layer_blocks(net):
    """Column slices of each (W_l, b_l) in the flat params layout. Taken from
    net.unflatten of the positions, so the layout is defined in one place."""
    ws, bs = net.unflatten(np.arange(net.params.size))
    return [(slice(w[0, 0], w[-1, -1] + 1), slice(b[0], b[-1] + 1)) for w, b in zip(ws, bs)]


def _jvp(name, a, u):
    """(∂σ/∂z)·u along the last axis, from a = σ(z): σ'(z) ⊙ u, or for
    softmax a ⊙ (u − ⟨a, u⟩)."""
    if name == "softmax":
        return a * (u - np.sum(a * u, axis=-1, keepdims=True))
    return activation_grad(name, a) * u


def _second_derivative(name, a):
    """σ''(z) written in terms of a = σ(z) (elementwise activations)."""
    if name == "sigmoid":
        return a * (1 - a) * (1 - 2 * a)      # d/dz of a(1−a), with a' = a(1−a)
    if name == "tanh":
        return -2 * a * (1 - a * a)           # d/dz of 1−a², with a' = 1−a²
    # relu, leaky_relu, identity: piecewise linear, σ'' = 0 away from the kink
    return np.zeros_like(a)


def _trace(net, X, Y):
    """Validated (X, Y) and the core's (activations, deltas) for them."""
    _check_net(net)
    X, Y = net.checked_data(X, Y)
    _, acts, _, deltas = net.trace(X, Y)
    return X, Y, acts, deltas


def _along(net, X, Y, v):
    """_trace(net, X, Y) and the direction v of hvp, gnvp: (X, Y, acts,
    deltas, activation names, V_w, V_b), v split like (weights, biases)."""
    _check_net(net)
    v = check_values(v, net.params.shape, net.dtype, "v")
    X, Y, acts, deltas = _trace(net, X, Y)
    return (X, Y, acts, deltas, net.layer_activations()) + net.unflatten(v)


# ------------------------------------------------------------ public functions

def input_gradients(net, X, Y):
    """Gradient of the mean loss with respect to the inputs.

    Parameters
    ----------
    net : fastbp.Network
    X : array_like, shape (n, sizes[0]) or (sizes[0],)
    Y : array_like
        Targets (n, sizes[-1]) or 1-D class labels, as for ``net.loss``.

    Returns
    -------
    ndarray, shape (n, sizes[0])
        ∂C/∂X with C the mean over the rows of the per-sample cost
        (BP2 carried one layer further: Δ_0·W_0). Row i is the gradient of
        sample i's own cost divided by n.
    """
    _, _, _, deltas = _trace(net, X, Y)
    return deltas[0] @ net.weights[0]


def jacobian(net, X):
    """Jacobian of the network's outputs with respect to its inputs.

    Parameters
    ----------
    net : fastbp.Network
    X : array_like, shape (n, sizes[0]) or (sizes[0],)

    Returns
    -------
    ndarray, shape (n, sizes[-1], sizes[0])
        ``J[i, k, j] = ∂A_L[i, k] / ∂X[i, j]``.

    Notes
    -----
    Reverse mode, all output units and samples at once: G starts as
    ∂A_L/∂Z_L (diagonal σ', or diag(a) − a·aᵀ for softmax) and is carried
    back by G ← (G·W_l) ⊙ σ'(Z_l). Memory is n·sizes[-1]·max(sizes).
    """
    _check_net(net)
    X = net.checked_inputs(X)
    acts, _ = feedforward(net, X)
    names = net.layer_activations()
    n, n_out = X.shape[0], net.sizes[-1]
    # seed: one row per output unit, G[i, k, :] = e_kᵀ·∂A_L/∂Z_L of sample i
    eye = np.broadcast_to(np.eye(n_out, dtype=net.dtype), (n, n_out, n_out))
    G = _jvp(names[-1], acts[-1][:, None, :], eye)
    for l in range(len(net.weights) - 1, 0, -1):
        G = _jvp(names[l - 1], acts[l][:, None, :], G @ net.weights[l])
    return G @ net.weights[0]


def per_sample_gradients(net, X, Y):
    """Gradient of each sample's own cost with respect to the parameters.

    Parameters
    ----------
    net : fastbp.Network
    X, Y : array_like
        As for ``net.gradients``.

    Returns
    -------
    ndarray, shape (n, len(net.params))
        Row i is ∂c_i/∂params in the params layout ([W_0, b_0, W_1, ...]);
        the mean of the rows is ``net.gradients(X, Y)``.

    Notes
    -----
    BP3/BP4 without the sum over rows: ∂c_i/∂W_l = n·Δ_l[i] ⊗ A_l[i] and
    ∂c_i/∂b_l = n·Δ_l[i] (n undoes the 1/n of the mean cost in Δ_l).
    """
    X, _, acts, deltas = _trace(net, X, Y)
    n = X.shape[0]
    out = np.empty((n, net.params.size), dtype=net.dtype)
    for (w_cols, b_cols), A, D in zip(_layer_blocks(net), acts, deltas):
        D = D * net.dtype.type(n)
        out[:, w_cols] = (D[:, :, None] * A[:, None, :]).reshape(n, -1)
        out[:, b_cols] = D
    return out


def hvp(net, X, Y, v):
    """Hessian-vector product H·v of the mean loss with respect to params.

    Parameters
    ----------
    net : fastbp.Network
    X, Y : array_like
        As for ``net.gradients``.
    v : array_like, shape (len(net.params),)
        A direction in the params layout; finite.

    Returns
    -------
    ndarray, shape (len(net.params),)
        ∇²C·v in the params layout, exact up to rounding.

    Notes
    -----
    Pearlmutter's R-operator, R{f} = d/dt f(params + t·v) at t = 0, applied
    to each line of the forward pass and of backprop:

        R-forward   R{Z_{l+1}} = R{A_l}·W_lᵀ + A_l·V_lᵀ + v_b,l,  R{A_0} = 0
                    R{A_{l+1}} = σ'(Z_{l+1}) ⊙ R{Z_{l+1}}
        R-BP1       R{Δ_{L-1}} from the cost (below)
        R-BP2       R{Δ_{l-1}} = (R{Δ_l}·W_l + Δ_l·V_l) ⊙ σ'(Z_l)
                                 + (Δ_l·W_l) ⊙ σ''(Z_l) ⊙ R{Z_l}
        R-BP3/4     R{∂C/∂W_l} = R{Δ_l}ᵀ·A_l + Δ_lᵀ·R{A_l}
                    R{∂C/∂b_l} = Σ_rows R{Δ_l}

    For the cross-entropies Δ_{L-1} = (A_L − Y)/n, so R{Δ_{L-1}} = R{A_L}/n.
    For the quadratic cost Δ_{L-1} = (∂A_L/∂Z_L)ᵀ·(A_L − Y)/n, whose
    R-derivative adds the σ'' term (elementwise outputs) or the derivative
    of the softmax Jacobian.
    Piecewise-linear activations have σ'' = 0 (the Hessian away from kinks).
    """
    X, Y, acts, deltas, names, V_w, V_b = _along(net, X, Y, v)
    n = X.shape[0]

    # R-forward: R{Z_{l+1}} and R{A_{l+1}} for every layer
    RZ, RA = [], [np.zeros_like(X)]
    for l, (W, name) in enumerate(zip(net.weights, names)):
        RZ.append(RA[l] @ W.T + acts[l] @ V_w[l].T + V_b[l])
        RA.append(_jvp(name, acts[l + 1], RZ[l]))

    # R-BP1 for the output delta D = n·Δ_{L-1} (of each sample's cost), then / n
    a, Ra, out_name = acts[-1], RA[-1], names[-1]
    if net.cost != "quadratic":
        RD = Ra                                        # D = a − y
    elif out_name == "softmax":
        # D = a ⊙ (g − ⟨a, g⟩) with g = a − y, so R{g} = R{a}
        g = a - Y
        RD = (Ra * (g - np.sum(a * g, axis=1, keepdims=True))
              + a * (Ra - np.sum(Ra * g + a * Ra, axis=1, keepdims=True)))
    else:
        # D = (a − y) ⊙ σ'(Z_L)
        RD = (Ra * activation_grad(out_name, a)
              + (a - Y) * _second_derivative(out_name, a) * RZ[-1])
    RD = RD / net.dtype.type(n)

    # R-BP2 .. R-BP4, from the last layer down
    result = np.empty_like(net.params)
    R_w, R_b = net.unflatten(result)
    for l in range(len(net.weights) - 1, -1, -1):
        R_w[l][...] = RD.T @ acts[l] + deltas[l].T @ RA[l]
        R_b[l][...] = RD.sum(axis=0)
        if l > 0:
            back = deltas[l] @ net.weights[l]            # Δ_{l-1} before ⊙ σ'
            RD = (_jvp(names[l - 1], acts[l], RD @ net.weights[l] + deltas[l] @ V_w[l])
                  + back * _second_derivative(names[l - 1], acts[l]) * RZ[l - 1])
    return result


def per_sample_grad_norms(net, X, Y):
    """Norm of each sample's own cost gradient, without forming it.

    Parameters: net, X, Y as for ``per_sample_gradients``.

    Returns
    -------
    ndarray, shape (n,), float64
        ‖∂c_i/∂params‖ for each row i: the row norms of
        ``per_sample_gradients(X, Y)``.

    Notes
    -----
    Sample i's gradient in layer l is the outer product D_l[i] ⊗ [A_l[i], 1]
    (D = n·Δ, weights and bias), and ‖u ⊗ v‖ = ‖u‖·‖v‖, so

        ‖g_i‖² = Σ_l ‖D_l[i]‖² · (‖A_l[i]‖² + 1),

    O(n·Σ widths) instead of O(n·len(params)). DP-SGD's clipping
    (``fit(..., clip_per_sample=C)``) uses the same identity in the core.
    """
    X, _, acts, deltas = _trace(net, X, Y)
    n = X.shape[0]
    sq = np.zeros(n)
    for A, D in zip(acts, deltas):
        D = D.astype(np.float64) * n
        sq += np.sum(D * D, axis=1) * (np.sum(A.astype(np.float64) ** 2, axis=1) + 1)
    return np.sqrt(sq)


def gnvp(net, X, Y, v):
    """Gauss-Newton-vector product G·v of the mean loss w.r.t. params.

    Parameters: net, X, Y, v as for ``hvp``.

    Returns
    -------
    ndarray, shape (len(net.params),)
        G·v with G = (1/n) Σ_i J_iᵀ·H_i·J_i: J_i the Jacobian of sample i's
        outputs w.r.t. params and H_i the Hessian of its cost w.r.t. those
        outputs. G is positive semi-definite; it equals the Hessian when the
        outputs are linear in the parameters, and drops the terms of ∇²
        that carry the residual (Schraudolph 2002).

    Notes
    -----
    The split is where cost and output activation match: at Z_L for the
    two cross-entropies (H = diag(a) − aaᵀ for softmax, diag(a(1−a)) for
    sigmoid), at A_L for the quadratic cost (H = I). One R-forward pass
    gives J·v (R{Z_L}, R{A_L}, as in `hvp`); H·J·v enters backprop as the
    output delta, and BP2-BP4 carry it back as Jᵀ(·) with no second-order
    terms.
    """
    X, Y, acts, _, names, V_w, V_b = _along(net, X, Y, v)
    n = X.shape[0]
    RZ, RA = None, np.zeros_like(X)
    for l, (W, name) in enumerate(zip(net.weights, names)):
        RZ = RA @ W.T + acts[l] @ V_w[l].T + V_b[l]
        RA = _jvp(name, acts[l + 1], RZ)
    # H·J·v at Z_L: R{A_L} is (∂a/∂z)·R{Z_L}, which is H_z·J·v for the
    # matching cross-entropies; for ½‖a − y‖², (∂a/∂z)ᵀ·I·R{A_L}
    delta = RA if net.cost != "quadratic" else _jvp(names[-1], acts[-1], RA)
    delta = delta / net.dtype.type(n)
    result = np.empty_like(net.params)
    G_w, G_b = net.unflatten(result)
    for l in range(len(net.weights) - 1, -1, -1):
        G_w[l][...] = delta.T @ acts[l]
        G_b[l][...] = delta.sum(axis=0)
        if l > 0:
            delta = _jvp(names[l - 1], acts[l], delta @ net.weights[l])
    return result
