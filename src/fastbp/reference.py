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
    hidden = net.activation
    if isinstance(hidden, str):
        hidden = [hidden] * (len(net.sizes) - 2)
    return list(hidden) + [net.output_activation]


# ---------------------------------------------------------------- forward

def feedforward(net, X, weights=None, biases=None):
    """All activations [A_0 = X, A_1, ..., A_L] and the output pre-activation Z_L.
    (Batch norm, if the network has it, with its running estimates.)"""
    if getattr(net, "batch_norm", False):
        return bn_feedforward(net, X, training=False)[:2]
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

def _sample_scale(n, sample_weight):
    """Each row's factor in the mean cost: 1/n, or w_i/Σw (weighted mean)."""
    if sample_weight is None:
        return np.full((n, 1), 1.0 / n)
    w = np.asarray(sample_weight, dtype=np.float64)
    return (w / w.sum())[:, None]


def backprop(net, X, Y, weights=None, biases=None, sample_weight=None):
    """(mean cost, ∂C/∂W per layer, ∂C/∂b per layer) for the batch (X, Y);
    with sample_weight, of the weighted mean Σ w_i c_i / Σ w_i."""
    weights = net.weights if weights is None else weights
    biases = net.biases if biases is None else biases
    Y = np.asarray(Y, dtype=net.dtype)
    scale = _sample_scale(X.shape[0], sample_weight)
    A, Z_L = feedforward(net, X, weights, biases)
    cost = float(np.sum(scale[:, 0] * cost_per_sample(net, A[-1], Z_L, Y)))
    acts = _layer_activations(net)
    L = len(weights)
    grad_w, grad_b = [None] * L, [None] * L
    delta = output_delta(net, A[-1], Y) * scale.astype(net.dtype)  # BP1
    for l in range(L - 1, -1, -1):
        grad_b[l] = delta.sum(axis=0)                             # BP3
        grad_w[l] = delta.T @ A[l]                                # BP4
        if l > 0:
            delta = (delta @ weights[l]) * activation_grad(acts[l - 1], A[l])  # BP2
    return cost, grad_w, grad_b


def gradients(net, X, Y, sample_weight=None):
    """Same contract as Network.gradients: (loss, grad_weights, grad_biases)."""
    return backprop(net, X, Y, sample_weight=sample_weight)


def sgd_epoch(net, X, Y, order, batch_size, lr):
    """One epoch of mini-batch SGD over rows taken in `order`, on copies.

    Returns (weights, biases) after the epoch; `net` is left unchanged.
    w ← w − lr·∂C/∂w for each mini-batch, C its mean cost. (The NumPy
    baseline of bench/: nothing but the matrix form of BP1-BP4.)
    """
    weights = [W.copy() for W in net.weights]
    biases = [b.copy() for b in net.biases]
    X = np.asarray(X, dtype=net.dtype)
    Y = np.asarray(Y, dtype=net.dtype)
    rate = net.dtype.type(lr)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        _, gw, gb = backprop(net, X[rows], Y[rows], weights, biases)
        for l in range(len(weights)):
            weights[l] -= rate * gw[l]
            biases[l] -= rate * gb[l]
    return weights, biases


# ---------------------------------------------------------------- training toolkit

MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix64(x):
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _uniform(seed, epoch, samples, layer, units):
    """csrc/dropout.h's counter-based uniforms in [0, 1): (len(samples), len(units))."""
    h = _mix64(np.uint64(seed))
    h = _mix64(h ^ np.uint64(epoch))
    h = _mix64(h ^ np.asarray(samples, dtype=np.uint64)[:, None])
    h = _mix64(h ^ ((np.uint64(layer) << np.uint64(32)) | np.asarray(units, dtype=np.uint64)))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def dropout_keep(seed, epoch, samples, layer, width, p):
    """Keep-mask (len(samples), width) of inverted dropout: unit j of sample s
    is kept when hash(seed, epoch, s, layer, j) / 2^64 >= p (csrc/dropout.h)."""
    return _uniform(seed, epoch, samples, layer, np.arange(width)) >= p


def dp_normal(seed, step, n):
    """DP-SGD's standard normal noise for n parameters at optimizer step
    `step` (csrc/dropout.h's fastbp_dp_normal: Box-Muller)."""
    u1 = _uniform(seed, step, [0], 0, np.arange(n))[0]
    u2 = _uniform(seed, step, [0], 1, np.arange(n))[0]
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(6.283185307179586 * u2)


def optimizer_step(opt, p, g, state, t, lr, worse=False, n_samples=1):
    """One step of a fastbp.optim optimizer on p (in place), torch's rules,
    written out in NumPy; state is its (n_state, n) buffers, t the 1-based step.
    iRprop+ backtracks if `worse` (the cost went up since the last step);
    Quickprop's decay is FANN's, on the slope summed over n_samples."""
    name = type(opt).__name__
    if name == "SGD":
        d = g + opt.weight_decay * p
        if opt.momentum:
            state[0] = opt.momentum * state[0] + d
            d = d + opt.momentum * state[0] if opt.nesterov else state[0].copy()
        p -= lr * d
    elif name in ("Adam", "AdamW"):
        b1, b2 = opt.betas
        d = g.copy()
        if name == "AdamW":
            p *= 1 - lr * opt.weight_decay
        else:
            d += opt.weight_decay * p
        state[0] = b1 * state[0] + (1 - b1) * d
        state[1] = b2 * state[1] + (1 - b2) * d * d
        second = state[1]
        if opt.amsgrad:
            state[2] = np.maximum(state[2], state[1])
            second = state[2]
        if opt.epsilon_hat:
            denom = (np.sqrt(second) + opt.eps) / np.sqrt(1 - b2 ** t)
        else:
            denom = np.sqrt(second) / np.sqrt(1 - b2 ** t) + opt.eps
        p -= lr / (1 - b1 ** t) * state[0] / denom
    elif name == "RMSprop":
        d = g + opt.weight_decay * p
        state[0] = opt.alpha * state[0] + (1 - opt.alpha) * d * d
        if opt.centered:
            state[2] = opt.alpha * state[2] + (1 - opt.alpha) * d
            denom = np.sqrt(state[0] - state[2] ** 2) + opt.eps
        else:
            denom = np.sqrt(state[0]) + opt.eps
        if opt.momentum > 0:
            state[1] = opt.momentum * state[1] + d / denom
            p -= lr * state[1]
        else:
            p -= lr * d / denom
    elif name == "Adagrad":
        d = g + opt.weight_decay * p
        state[0] += d * d
        p -= lr / (1 + (t - 1) * opt.lr_decay) * d / (np.sqrt(state[0]) + opt.eps)
    elif name == "IRpropPlus":
        (minus, plus), (lo, hi) = opt.etas, opt.step_sizes
        sign = np.sign(g * state[0])
        state[1] = np.where(sign > 0, np.minimum(state[1] * plus, hi),
                            np.where(sign < 0, np.maximum(state[1] * minus, lo), state[1]))
        if worse:
            p -= np.where(sign < 0, state[2], 0)
        state[2] = np.where(sign < 0, 0, -np.sign(g) * state[1])
        p += state[2]
        state[0] = np.where(sign < 0, 0, g)
    elif name == "Quickprop":
        mu, decay = opt.mu, opt.decay / n_samples
        slope = -g + decay * p
        prev_step, prev_slope = state[0], state[1]
        shrink = mu / (1 + mu)
        with np.errstate(divide="ignore", invalid="ignore"):
            quad = prev_step * slope / (prev_slope - slope)
        up, down = prev_step > 0.001, prev_step < -0.001
        nxt = np.where(up, np.where(slope > 0, lr * slope, 0)
                       + np.where(slope > shrink * prev_slope, mu * prev_step, quad),
                       np.where(down, np.where(slope < 0, lr * slope, 0)
                                + np.where(slope < shrink * prev_slope, mu * prev_step, quad),
                                lr * slope))
        state[0] = nxt
        p[...] = np.clip(p + nxt, -1500, 1500)
        state[1] = slope
    elif name in ("Rprop", "IRpropMinus"):
        (minus, plus), (lo, hi) = opt.etas, opt.step_sizes
        sign = np.sign(g * state[0])
        state[1] = np.where(sign > 0, np.minimum(state[1] * plus, hi),
                            np.where(sign < 0, np.maximum(state[1] * minus, lo), state[1]))
        d = np.where(sign < 0, 0, g)
        p -= np.sign(d) * state[1]
        state[0] = d
    else:
        raise ValueError(f"unknown optimizer {name}")


def _backprop_dropout(net, X, Y, weights, biases, masks, rates, sample_weight=None):
    """backprop with inverted dropout on hidden outputs (masks[l] for layer l)."""
    Y = np.asarray(Y, dtype=net.dtype)
    scale = _sample_scale(X.shape[0], sample_weight)
    acts = _layer_activations(net)
    A, pre = [X], []
    for l, (W, b) in enumerate(zip(weights, biases)):
        Z = A[-1] @ W.T + b
        a = activate(acts[l], Z)
        pre.append(a)
        if l < len(weights) - 1 and rates[l] > 0:
            a = a * masks[l] / (1 - rates[l])
        A.append(a)
    cost = float(np.sum(scale[:, 0] * cost_per_sample(net, A[-1], Z, Y)))
    L = len(weights)
    gw, gb = [None] * L, [None] * L
    delta = output_delta(net, A[-1], Y) * scale.astype(net.dtype)
    for l in range(L - 1, -1, -1):
        gb[l] = delta.sum(axis=0)
        gw[l] = delta.T @ A[l]
        if l > 0:
            delta = delta @ weights[l]
            if rates[l - 1] > 0:
                delta = delta * masks[l - 1] / (1 - rates[l - 1])
            delta = delta * activation_grad(acts[l - 1], pre[l - 1])
    return cost, gw, gb


def train_epoch(net, X, Y, order, batch_size, lr, optimizer=None, state=None, step=1,
                l1=0.0, l2=0.0, dropout=None, seed=0, epoch=0, max_norm=0.0,
                sample_weight=None, clip=None, noise=0.0, noise_seed=0):
    """One training epoch as Network.fit runs it, on copies of the parameters.

    optimizer None is plain SGD; else a fastbp.optim object whose `state`
    (n_state, n_params) array is updated in place, its step count starting at
    `step`. With sample_weight each batch's cost is its weighted mean, and a
    batch whose weights are all zero is skipped (no update, no step).
    With clip (DP-SGD) each sample's gradient is computed on its own, clipped
    to norm clip, and noise·clip·dp_normal(noise_seed, step) is added to the
    sum before the division by the batch size.
    Returns (weights, biases, last batch's gradient (gw, gb))."""
    weights = [W.copy() for W in net.weights]
    biases = [b.copy() for b in net.biases]
    X = np.asarray(X, dtype=net.dtype)
    Y = np.asarray(Y, dtype=net.dtype)
    rates = list(dropout) if dropout is not None else [0.0] * len(weights)
    offsets = np.cumsum([0] + [a.size for pair in zip(weights, biases) for a in pair])
    last = None
    k = -1  # updates so far: the optimizer's step is step + k
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        sw = None if sample_weight is None else np.asarray(sample_weight)[rows]
        if sw is not None and sw.sum() == 0:
            continue
        k += 1
        masks = [dropout_keep(seed, epoch, rows, l, W.shape[0], rates[l]) if rates[l] > 0 else None
                 for l, W in enumerate(weights)]
        if clip is None:
            _, gw, gb = _backprop_dropout(net, X[rows], Y[rows], weights, biases, masks, rates, sw)
        else:
            gw, gb = _dp_gradient(net, X, Y, rows, weights, biases, masks, rates, clip,
                                  noise * clip * dp_normal(noise_seed, step + k, offsets[-1]),
                                  offsets)
        last = (list(gw), list(gb))  # the last batch's gradient, before penalty terms
        for l in range(len(weights)):
            gw[l] = gw[l] + l2 * weights[l] + l1 * np.sign(weights[l])
            if optimizer is None:
                weights[l] -= net.dtype.type(lr) * gw[l]
                biases[l] -= net.dtype.type(lr) * gb[l]
            else:
                for param, grad, at in ((weights[l], gw[l], offsets[2 * l]),
                                        (biases[l], gb[l], offsets[2 * l + 1])):
                    flat = param.reshape(-1)
                    st = state[:, at:at + flat.size]
                    optimizer_step(optimizer, flat, grad.reshape(-1), st, step + k, lr)
            if max_norm > 0:
                norms = np.sqrt(np.sum(weights[l].astype(np.float64) ** 2, axis=1))
                over = norms > max_norm
                weights[l][over] *= (max_norm / norms[over])[:, None].astype(net.dtype)
    return weights, biases, last


def _dp_gradient(net, X, Y, rows, weights, biases, masks, rates, clip, noise, offsets):
    """DP-SGD's batch gradient: (Σ_i clip_C(g_i) + noise) / len(rows), each
    sample's g_i from backprop on that sample alone."""
    total = np.zeros(offsets[-1])
    for i, r in enumerate(rows):
        row_masks = [None if m is None else m[i:i + 1] for m in masks]
        _, gw, gb = _backprop_dropout(net, X[[r]], Y[[r]], weights, biases, row_masks, rates)
        g = np.concatenate([a.ravel() for pair in zip(gw, gb) for a in pair]).astype(np.float64)
        total += g * min(1.0, clip / max(np.linalg.norm(g), 1e-300))
    total = ((total + noise) / len(rows)).astype(net.dtype)
    gw = [total[offsets[2 * l]:offsets[2 * l + 1]].reshape(W.shape) for l, W in enumerate(weights)]
    gb = [total[offsets[2 * l + 1]:offsets[2 * l + 2]] for l in range(len(weights))]
    return gw, gb


# ---------------------------------------------------------------- batch norm

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


def _running_slices(net):
    offsets = np.cumsum([0] + list(net.sizes[1:-1]))
    return [slice(a, b) for a, b in zip(offsets[:-1], offsets[1:])]


def bn_feedforward(net, X, training, params=None):
    """Forward pass of a batch-norm network: hidden layers
    y = γ·(z − μ)/√(σ² + ε) + β (β the bias), μ, σ² of the batch when
    training, else the running estimates. Returns (A, Z_L, per hidden layer
    (ẑ, 1/√(σ²+ε), μ, σ²))."""
    p = net.params if params is None else params
    ws, bs = net.unflatten(p)
    gs = net.gamma_views(p)
    A = [np.asarray(X, dtype=net.dtype)]
    stats = []
    acts = _layer_activations(net)
    for l, (W, b) in enumerate(zip(ws, bs)):
        Z = A[-1] @ W.T
        if l < len(ws) - 1:
            if training:
                mu, var = Z.mean(axis=0), Z.var(axis=0)
            else:
                sl = _running_slices(net)[l]
                mu, var = net.running_mean[sl], net.running_var[sl]
            inv = 1 / np.sqrt(var + BN_EPS)
            zhat = (Z - mu) * inv
            Z = gs[l] * zhat + b
            stats.append((zhat, inv, mu, var))
        else:
            Z = Z + b
        A.append(activate(acts[l], Z))
    return A, Z, stats


def bn_gradients(net, X, Y, params=None):
    """(mean cost, ∂C/∂W, ∂C/∂b (= ∂C/∂β), ∂C/∂γ) of a batch-norm network,
    with the batch's statistics, as Network.gradients computes them."""
    p = net.params if params is None else params
    ws, _ = net.unflatten(p)
    gs = net.gamma_views(p)
    Y = np.asarray(Y, dtype=net.dtype)
    n = X.shape[0]
    A, Z_L, stats = bn_feedforward(net, X, True, p)
    cost = float(np.mean(cost_per_sample(net, A[-1], Z_L, Y)))
    acts = _layer_activations(net)
    L = len(ws)
    gw, gb, gg = [None] * L, [None] * L, [None] * (L - 1)
    delta = output_delta(net, A[-1], Y) / n
    for l in range(L - 1, -1, -1):
        if l < L - 1:
            # delta is dy of this hidden layer: through batch norm to dz
            zhat, inv, _, _ = stats[l]
            gb[l] = delta.sum(axis=0)
            gg[l] = (delta * zhat).sum(axis=0)
            delta = gs[l] * inv * (delta - gb[l] / n - zhat * gg[l] / n)
        else:
            gb[l] = delta.sum(axis=0)
        gw[l] = delta.T @ A[l]
        if l > 0:
            delta = (delta @ ws[l]) * activation_grad(acts[l - 1], A[l])
    return cost, gw, gb, gg


def bn_sgd_epoch(net, X, Y, order, batch_size, lr):
    """One SGD epoch of a batch-norm network on copies: returns (params,
    running (2, units)); the running estimates move by momentum 0.1 toward
    each batch's mean and unbiased variance, as torch does."""
    p = net.params.copy()
    running = np.stack([net.running_mean, net.running_var]).copy()
    X = np.asarray(X, dtype=net.dtype)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        m = len(rows)
        _, _, stats = bn_feedforward(net, X[rows], True, p)
        for sl, (_, _, mu, var) in zip(_running_slices(net), stats):
            running[0, sl] = (1 - BN_MOMENTUM) * running[0, sl] + BN_MOMENTUM * mu
            unbiased = var * m / (m - 1) if m > 1 else var
            running[1, sl] = (1 - BN_MOMENTUM) * running[1, sl] + BN_MOMENTUM * unbiased
        _, gw, gb, gg = bn_gradients(net, X[rows], np.asarray(Y)[rows], p)
        g = np.zeros_like(p)
        for view, grad in zip(net.unflatten(g)[0] + net.unflatten(g)[1] + net.gamma_views(g),
                              gw + gb + gg):
            view[...] = grad
        p -= net.dtype.type(lr) * g
    return p, running
