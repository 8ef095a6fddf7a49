"""Network: a dense feed-forward network trained by backpropagation.

All parameters live in one flat buffer, `params`, in layer order
[W_0, b_0, W_1, b_1, ...] (each W_l row-major, shape (sizes[l+1], sizes[l]));
`weights` and `biases` are views into it, so writing into them changes the
model. Gradients use the same layout. Inputs are validated here, once, and
the compiled core (fastbp._core) does the arithmetic.
"""
from __future__ import annotations

import numbers
import os
import threading
from typing import Callable, Optional, Sequence, Union
import time
import warnings

import numpy as np
from numpy.typing import ArrayLike

from . import _core, _progress, optim
from .optim import schedules
from ._threads import threads_for
from ._validation import (COST_OUTPUT, COSTS, ACTIVATIONS, INITS, check_activations,
                          check_dtype, check_inputs, check_name, check_positive_float,
                          check_non_negative_float, check_positive_int, check_sample_weight,
                          check_seed, check_sizes, check_targets, check_values)

# Rows per block when evaluating data sets larger than this: bounds the work
# buffers without changing any result (rows are independent in a forward pass).
EVAL_BLOCK = 1024


class _ParamList(list):
    """A list of views into the flat buffer: item assignment copies into the
    view (so `net.weights[0] = W` changes the model), shape checked."""

    def __init__(self, views, argname):
        super().__init__(views)
        self._argname = argname

    def __setitem__(self, index, value):
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"{self._argname} only supports assignment of one layer at a time")
        view = self[index]
        view[...] = check_values(value, view.shape, view.dtype, f"{self._argname}[{index}]")


class History:
    """Per-epoch training record; `history` is a dict of lists, as in Keras."""

    def __init__(self):
        self.epoch = []
        self.history = {}

    def _append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        return self.history[key]

    def __len__(self):
        return len(self.epoch)

    def plot(self, path: Optional[Union[str, os.PathLike]] = None, ax=None):
        """Loss and accuracy per epoch (training and validation) with
        matplotlib: into `path` (a PNG, say) if given, else onto `ax` or a new
        figure, which is returned."""
        try:
            import matplotlib
            if path is not None and ax is None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install 'fastbp[plot]'") from None
        if ax is None:
            fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        else:
            fig, axes = ax[0].figure, ax
        epochs = [e + 1 for e in self.epoch]
        for a, metric in zip(axes, ("loss", "accuracy")):
            for key, label in ((metric, "training"), ("val_" + metric, "validation")):
                if key in self.history:
                    a.plot(epochs, self.history[key], label=label)
            a.set_xlabel("epoch")
            a.set_ylabel(metric)
            a.legend()
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=100)
        return fig

    def __repr__(self):
        last = {k: ([round(x, 6) for x in v[-1]] if isinstance(v[-1], list) else round(v[-1], 6))
                for k, v in self.history.items()} if self.epoch else {}
        return f"History(epochs={len(self.epoch)}, last={last})"


def _diverged(message, on_nonfinite, history):
    """fit's answer to a NaN or inf, the parameters already restored: None
    after a warning ("stop"), else the FloatingPointError to raise, carrying
    the history. (Returned, not raised: distributed fit raises it on every
    rank at once.)"""
    if on_nonfinite == "stop":
        warnings.warn(message, RuntimeWarning, stacklevel=4)
        return None
    err = FloatingPointError(message)
    err.history = history  # type: ignore[attr-defined]
    return err


def _lost_in_epoch(epoch, batch, kept):
    """The message of a NaN or inf in batch `batch` (0-based) of `epoch`."""
    return (f"fit: the cost or the parameters became NaN or inf in epoch {epoch + 1}, "
            f"batch {batch + 1}; the parameters were restored to their last finite values "
            f"(after {kept} batches of that epoch)")


def _layout(sizes, batch_norm=False):
    """Offsets of each W_l, b_l and (batch norm, hidden layers) γ_l in the flat
    buffer (-1 where a layer has no γ), and its total length."""
    w_off, b_off, g_off, pos = [], [], [], 0
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w_off.append(pos)
        pos += n_out * n_in
        b_off.append(pos)
        pos += n_out
        if batch_norm and l < len(sizes) - 2:
            g_off.append(pos)
            pos += n_out
        else:
            g_off.append(-1)
    return w_off, b_off, g_off, pos


class Network:
    """A dense feed-forward network.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, inputs first: ``[784, 30, 10]``.
    activation : str or list of str
        Hidden activation: 'sigmoid', 'tanh', 'relu', 'leaky_relu' (slope
        0.01) or 'identity'; or a list with one of them per hidden layer.
    output_activation : str or None
        Output activation; None means 'softmax' for cost='cross_entropy',
        'sigmoid' for cost='binary_cross_entropy', else `activation` (the
        last hidden layer's, for a list).
    cost : str
        'quadratic' (½‖a−y‖²), 'binary_cross_entropy' (sigmoid outputs) or
        'cross_entropy' (categorical, softmax outputs); the network
        minimises the mean over samples.
    dtype : 'float64' or 'float32'
    init : str
        'auto' (N(0, 1/n_in) for sigmoid/tanh/identity/softmax layers, He's
        N(0, 2/n_in) for relu-like), 'gaussian' (N(0, 1), biases too:
        Nielsen ch. 1), 'xavier' (Glorot uniform), 'he'. Biases start at zero
        except for 'gaussian'.
    seed : int or None
        Seed of the initial parameters.
    batch_norm : bool
        Batch normalization of every hidden layer (after the product, before
        the activation): y = γ·(z − μ)/√(σ² + ε) + β, with the layer's bias as
        β and the scales γ in `gammas`. Training, `gradients` and
        `loss(training=True)` use the batch's statistics; `forward`,
        `predict`, `evaluate` and `loss` the running estimates gathered by
        `fit` (momentum 0.1, ε = 1e-5, as torch's BatchNorm1d).
    """

    def __init__(self, sizes: Sequence[int], activation: Union[str, Sequence[str]] = "sigmoid",
                 output_activation: Optional[str] = None, cost: str = "quadratic",
                 dtype: Union[str, np.dtype, type] = "float64", init: str = "auto",
                 seed: Optional[int] = None, batch_norm: bool = False) -> None:
        sizes = check_sizes(sizes)
        activation = check_activations(activation, len(sizes) - 2)
        check_name(cost, COSTS, "cost")
        if output_activation is None:
            last = activation if isinstance(activation, str) else (activation or ["sigmoid"])[-1]
            output_activation = COST_OUTPUT.get(cost, last)
        check_name(output_activation, ACTIVATIONS, "output_activation")
        needed = COST_OUTPUT.get(cost)
        if needed is not None and output_activation != needed:
            raise ValueError(f"cost {cost!r} needs output_activation={needed!r}; "
                             f"got {output_activation!r}")
        if output_activation == "softmax" and sizes[-1] < 2:
            raise ValueError("output_activation 'softmax' needs at least 2 output units")
        dtype = check_dtype(dtype)
        check_name(init, INITS, "init")
        seed = check_seed(seed)
        if not isinstance(batch_norm, (bool, np.bool_)):
            raise TypeError(f"batch_norm must be True or False; got {batch_norm!r}")

        self._sizes = sizes
        self._batch_norm = bool(batch_norm)
        self._activation = activation
        self._output_activation = output_activation
        self._cost = cost
        self._dtype = dtype
        self._w_off, self._b_off, self._g_off, n_params = _layout(sizes, self._batch_norm)
        try:
            self._params = np.zeros(n_params, dtype=dtype)
        except (MemoryError, ValueError):  # ValueError: more than NumPy can index
            raise MemoryError(f"sizes {list(sizes)} need {n_params:,} parameters: "
                              f"more memory than there is") from None
        # batch norm's running mean and variance of each hidden unit
        hidden_units = sum(sizes[1:-1]) if self._batch_norm else 0
        self._running = np.stack([np.zeros(hidden_units), np.ones(hidden_units)])
        self._plans: dict = {}
        self._lock = threading.RLock()        # compiled calls share the Plan buffers
        self._fit_lock = threading.Lock()     # a second concurrent fit is an error
        self._optimizer: Optional[optim.Optimizer] = None
        self._penalty = (0.0, 0.0)             # fit's (l2, l1), for loss(regularized=True)
        self._make_views()
        self._init_params(init, np.random.default_rng(seed))

    # ------------------------------------------------------------ structure

    def _make_views(self):
        ws, bs = [], []
        for l, (n_in, n_out) in enumerate(zip(self._sizes[:-1], self._sizes[1:])):
            ws.append(self._params[self._w_off[l]:self._w_off[l] + n_out * n_in].reshape(n_out, n_in))
            bs.append(self._params[self._b_off[l]:self._b_off[l] + n_out])
        self._weights = _ParamList(ws, "weights")
        self._biases = _ParamList(bs, "biases")
        self._gammas = _ParamList([self._params[g:g + n] for g, n in zip(self._g_off, self._sizes[1:])
                                   if g >= 0], "gammas")

    def _init_params(self, init, rng):
        acts = self._layer_activations()  # once: per layer made this quadratic in depth
        for l, (W, b) in enumerate(zip(self._weights, self._biases)):
            n_out, n_in = W.shape
            act = acts[l]
            if init == "gaussian":
                W[...] = rng.standard_normal(W.shape)
                b[...] = rng.standard_normal(b.shape)
            elif init == "xavier":
                limit = np.sqrt(6.0 / (n_in + n_out))
                W[...] = rng.uniform(-limit, limit, W.shape)
            else:
                he = init == "he" or (init == "auto" and act in ("relu", "leaky_relu"))
                if W.dtype == np.float64:  # in place, the same numbers: no temporaries of W's size
                    rng.standard_normal(out=W)
                    W *= np.sqrt((2.0 if he else 1.0) / n_in)
                else:
                    W[...] = rng.standard_normal(W.shape) * np.sqrt((2.0 if he else 1.0) / n_in)
        for g in self._gammas:
            g[...] = 1

    def _layer_activations(self):
        hidden = self._activation
        if isinstance(hidden, str):
            hidden = [hidden] * (len(self._sizes) - 2)
        return list(hidden) + [self._output_activation]

    def _plan(self, cap):
        """Work buffers for batches of up to `cap` rows, made once and reused."""
        macs = cap * sum(a * b for a, b in zip(self._sizes[:-1], self._sizes[1:]))
        key = (cap, threads_for(macs))
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= 4:  # keep the cache small: drop the oldest
                self._plans.pop(next(iter(self._plans)))
            codes = [ACTIVATIONS.index(a) for a in self._layer_activations()]
            plan = _core.Plan(self._sizes, self._w_off, self._b_off, codes,
                              COSTS.index(self._cost), cap, key[1], self._dtype, self._g_off)
            self._plans[key] = plan
        return plan

    @property
    def sizes(self) -> tuple:
        return self._sizes

    @property
    def batch_norm(self) -> bool:
        return self._batch_norm

    @property
    def gammas(self) -> list:
        """Batch norm's scales γ of each hidden layer (views into params);
        empty without batch norm. The shifts β are `biases`."""
        return self._gammas

    @property
    def running_mean(self) -> np.ndarray:
        """Batch norm's running mean of each hidden unit, layer after layer."""
        return self._running[0]

    @property
    def running_var(self) -> np.ndarray:
        """Batch norm's running (unbiased) variance of each hidden unit."""
        return self._running[1]

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def activation(self) -> Union[str, list]:
        """The hidden activation: a name, or a list of one name per hidden layer."""
        act = self._activation
        return act if isinstance(act, str) else list(act)

    @property
    def output_activation(self) -> str:
        return self._output_activation

    @property
    def cost(self) -> str:
        return self._cost

    @property
    def params(self) -> np.ndarray:
        """Flat 1-D view of all parameters: [W_0, b_0, W_1, b_1, ...]."""
        return self._params

    @params.setter
    def params(self, value: ArrayLike) -> None:
        self._params[...] = check_values(value, self._params.shape, self._dtype, "params")

    @property
    def weights(self) -> list:
        """weights[l], shape (sizes[l+1], sizes[l]): views into params."""
        return self._weights

    @property
    def biases(self) -> list:
        """biases[l], shape (sizes[l+1],): views into params."""
        return self._biases

    def unflatten(self, flat: np.ndarray) -> tuple:
        """Split a flat array of the params layout into (weights, biases) views."""
        ws = [flat[o:o + W.size].reshape(W.shape) for o, W in zip(self._w_off, self._weights)]
        bs = [flat[o:o + b.size] for o, b in zip(self._b_off, self._biases)]
        return ws, bs

    def _gamma_views(self, flat):
        """Batch norm's γ part of a flat array in the params layout, per layer."""
        return [flat[g:g + n] for g, n in zip(self._g_off, self._sizes[1:]) if g >= 0]

    def __repr__(self):
        return (f"Network(sizes={list(self._sizes)}, activation={self.activation!r}, "
                f"output_activation={self._output_activation!r}, cost={self._cost!r}, "
                f"dtype={self._dtype.name!r}{', batch_norm=True' if self._batch_norm else ''})")

    # ------------------------------------------------------------ compute

    def _inputs(self, X, argname="X"):
        return check_inputs(X, self._sizes[0], self._dtype, argname)

    def _data(self, X, Y, xname="X", yname="Y"):
        X = self._inputs(X, xname)
        return X, check_targets(Y, X.shape[0], self._sizes[-1], self._dtype, yname)

    def forward(self, X: ArrayLike) -> np.ndarray:
        """The network's outputs.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0]) or (sizes[0],)
            Samples in rows (or one sample); finite, numeric.

        Returns
        -------
        ndarray, shape (n, sizes[-1]), the network's dtype
            With batch norm, normalized by the running estimates.
        """
        X = self._inputs(X)
        out = np.empty((X.shape[0], self._sizes[-1]), dtype=self._dtype)
        with self._lock:
            _core.forward(self._plan(min(X.shape[0], EVAL_BLOCK)), self._params, X, out,
                          self._running)
        return out

    def _per_sample(self, X, Y, training=False):
        """Per-sample cost and correctness of validated (X, Y); training: batch
        norm with the statistics of all of X (one block)."""
        n = X.shape[0]
        cost = np.empty(n, dtype=np.float64)
        correct = np.empty(n, dtype=np.int8)
        training = training and self._batch_norm
        with self._lock:
            _core.evaluate(self._plan(n if training else min(n, EVAL_BLOCK)), self._params,
                           X, Y, cost, correct, self._running, training)
        return cost, correct

    def loss(self, X: ArrayLike, Y: ArrayLike, regularized: bool = False, training: bool = False,
             sample_weight: Optional[ArrayLike] = None) -> float:
        """Mean over samples of the per-sample cost.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
        Y : array_like, shape (n, sizes[-1]), or (n,) integer class labels
        regularized : bool
            Add the penalty of the last fit, λ2/2·Σ‖W‖² + λ1·Σ|W| (weights only).
        training : bool
            Batch norm with the statistics of X, as in fit (else the running
            estimates).
        sample_weight : array_like, shape (n,), optional
            Non-negative weights: the weighted mean Σ w_i c_i / Σ w_i.

        Returns
        -------
        float
        """
        X, Y = self._data(X, Y)
        w = check_sample_weight(sample_weight, X.shape[0])
        cost, _ = self._per_sample(X, Y, training=bool(training))
        return float(np.average(cost, weights=w)) + (self._penalty_value() if regularized else 0.0)

    def _penalty_value(self):
        """The last fit's penalty at the current weights: λ2/2·Σ‖W‖² + λ1·Σ|W|."""
        l2, l1 = self._penalty
        return sum(l2 / 2 * float(np.sum(W.astype(np.float64) ** 2))
                   + l1 * float(np.sum(np.abs(W))) for W in self._weights)

    def evaluate(self, X: ArrayLike, Y: ArrayLike,
                 sample_weight: Optional[ArrayLike] = None) -> dict:
        """Loss and accuracy on (X, Y).

        Parameters
        ----------
        X, Y, sample_weight : as for `loss`.

        Returns
        -------
        dict
            {'loss': mean cost, 'accuracy': fraction of samples classed right
            (argmax, or threshold 0.5 for one output)}, weighted means with
            sample_weight.
        """
        X, Y = self._data(X, Y)
        w = check_sample_weight(sample_weight, X.shape[0])
        cost, correct = self._per_sample(X, Y)
        return {"loss": float(np.average(cost, weights=w)),
                "accuracy": float(np.average(correct, weights=w))}

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted classes.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0]) or (sizes[0],)

        Returns
        -------
        ndarray of int64, shape (n,)
            The argmax of the outputs; for one output unit, 1 where it is > 0.5.
        """
        out = self.forward(X)
        if out.shape[1] == 1:
            return (out[:, 0] > 0.5).astype(np.int64)
        return out.argmax(axis=1)

    def gradients(self, X: ArrayLike, Y: ArrayLike,
                  sample_weight: Optional[ArrayLike] = None) -> tuple:
        """The mean cost and its gradient by backpropagation (BP1-BP4).

        Parameters
        ----------
        X, Y, sample_weight : as for `loss` (batch norm with the statistics of X).

        Returns
        -------
        loss : float
        grad_weights : list of ndarray, shapes of `weights`
        grad_biases : list of ndarray, shapes of `biases`
            Views of one new flat array in the params layout.
        """
        X, Y = self._data(X, Y)
        loss, grads = self._flat_gradients(X, Y, check_sample_weight(sample_weight, X.shape[0]))
        gw, gb = self.unflatten(grads)
        return loss, gw, gb

    def _trace(self, X, Y):
        """Everything backprop computes for validated (X, Y), as copies:
        (mean cost, activations [A_0=X, A_1, ..., A_L], Z_L, deltas
        [Δ_0, ..., Δ_{L-1}] with Δ_l = ∂C/∂Z_{l+1} of the mean cost C)."""
        n = X.shape[0]
        with self._lock:
            plan = self._plan(n)
            total = _core.gradients(plan, self._params, np.empty_like(self._params), X, Y,
                                    weights=False)
            acts, deltas = [X.copy()], []
            for l, width in enumerate(self._sizes[1:]):
                off = plan.a_offset(l + 1)
                acts.append(plan.acts[off:off + n * width].reshape(n, width).copy())
                deltas.append(plan.deltas[off:off + n * width].reshape(n, width).copy())
            z_out = plan.zout[:n * self._sizes[-1]].reshape(n, -1).copy()
        return total / n, acts, z_out, deltas

    def _flat_gradients(self, X, Y, sample_weight=None):
        """(mean cost, gradient in the params layout) for validated (X, Y) and
        sample weights."""
        grads = np.empty_like(self._params)
        with self._lock:
            total = _core.gradients(self._plan(X.shape[0]), self._params, grads, X, Y,
                                    sample_weight=sample_weight)
        weight = X.shape[0] if sample_weight is None else sample_weight.sum()
        return total / weight, grads

    def apply_gradients(self, grads, optimizer="sgd", lr: Optional[float] = None, l2: float = 0.0,
                        l1: float = 0.0, max_norm: Optional[float] = None,
                        n_samples: int = 1) -> None:
        """One update of the parameters from a gradient computed elsewhere (a
        custom loop, a sum over MPI ranks), with fit's arithmetic for a batch.

        Parameters
        ----------
        grads : array, shape (len(params),), or the pair (grad_weights,
            grad_biases) that `gradients` returns (a tuple or a list). Not
            modified.
        optimizer : name or fastbp.optim.Optimizer
            A name makes a fresh optimizer (with `lr`) for this one step; pass
            an Optimizer object to keep its state (momentum, Adam's moments)
            from step to step.
        lr : float
            Learning rate for a named optimizer (an Optimizer uses its own).
        l2, l1, max_norm : as in `fit`.
        n_samples : int
            The samples `grads` is the mean gradient of: Quickprop adds its
            decay to the summed slope, as FANN does (the other rules ignore it).
        """
        n_samples = check_positive_int(n_samples, "n_samples")
        if isinstance(grads, (tuple, list)) and len(grads) == 2 \
                and all(isinstance(g, (tuple, list)) for g in grads):
            flat = np.empty_like(self._params)
            ws, bs = self.unflatten(flat)
            for dst, src, name in ((ws, grads[0], "grads[0]"), (bs, grads[1], "grads[1]")):
                if len(src) != len(dst):
                    raise ValueError(f"{name} needs {len(dst)} arrays; got {len(src)}")
                for l, view in enumerate(dst):
                    view[...] = check_values(src[l], view.shape, self._dtype, f"{name}[{l}]")
        else:
            flat = check_values(grads, self._params.shape, self._dtype, "grads").copy()
        if isinstance(optimizer, str):
            if lr is None:
                raise ValueError("apply_gradients with an optimizer name needs lr")
            lr = check_positive_float(lr, "lr")
        opt = optim.get(optimizer, lr)
        if isinstance(opt, optim.LBFGS):
            raise TypeError("optimizer: LBFGS needs the loss along its line search, not one "
                            "gradient; use fit(..., optimizer='lbfgs')")
        l2 = check_non_negative_float(l2, "l2")
        l1 = check_non_negative_float(l1, "l1")
        if max_norm is not None:
            max_norm = check_positive_float(max_norm, "max_norm")
        with self._lock:
            kind, state = self._update_rule(opt)
            _core.apply_update(self._plan(1), self._params, flat, opt.lr, kind,
                               np.asarray(opt._hyper_for(n_samples), dtype=np.float64),
                               opt.steps + 1,
                               state, l1, l2, max_norm or 0.0)
            opt.steps += 1
            self._optimizer = opt

    def _update_rule(self, opt):
        """(kind code for the core, state buffers) of an optimizer: plain SGD
        (no momentum, no decay) is kind -1 with no state, which lets the core
        fuse its step into the gradient product."""
        if isinstance(opt, optim.SGD) and opt.momentum == 0 and opt.weight_decay == 0:
            return -1, np.empty((0, 0), dtype=self._dtype)
        return opt.code, opt._bind(self._params)

    def fit(self, X: ArrayLike, Y: ArrayLike, epochs: int = 30, batch_size: int = 10,
            lr: float = 3.0, shuffle: bool = True, seed: Optional[int] = None,
            validation_data: Optional[tuple] = None, verbose: bool = False,
            on_nonfinite: str = "raise", optimizer: Union[str, optim.Optimizer] = "sgd",
            l2: float = 0.0, l1: float = 0.0, dropout: Union[float, Sequence[float]] = 0.0,
            max_norm: Optional[float] = None, lr_schedule=None,
            early_stopping: Optional[int] = None,
            callbacks: Optional[Sequence[Callable]] = None,
            sample_weight: Optional[ArrayLike] = None, clip_per_sample: Optional[float] = None,
            noise: float = 0.0, progress: bool = False, comm=None) -> History:
        """Train by mini-batch gradient descent on the mean cost C of each batch.

        Each epoch runs in the compiled core without returning to Python
        between batches; batches are drawn from a permutation of the rows
        (seeded by `seed`) when `shuffle`, else in order.

        Parameters
        ----------
        optimizer : name or fastbp.optim.Optimizer
            'sgd' (w ← w − lr·∇C, the default), 'adam', 'adamw', 'rmsprop',
            'adagrad', with `lr`; the full-batch 'rprop' (= 'irprop-'),
            'irprop+', 'quickprop', and 'lbfgs' (SciPy's L-BFGS-B; `epochs`
            caps its iterations, `lr` is unused); or an Optimizer object,
            whose own lr and state are used (and kept for the next fit).
        l2, l1 : float
            Add λ2/2·Σ‖W‖² and λ1·Σ|W| (weights, not biases) to the cost.
        dropout : float or list of float
            Inverted dropout rate of each hidden layer, while training only;
            the masks come from a counter-based generator keyed by (seed,
            epoch, sample, unit), so they do not depend on the thread count.
        max_norm : float or None
            Rescale each unit's incoming weight vector to at most this norm.
        lr_schedule : name, fastbp.optim.schedules.Schedule or callable
            'step', 'exponential', 'cosine', 'plateau', a Schedule, or a
            function epoch -> lr.
        early_stopping : int or None
            Stop when val_loss has not improved for this many epochs and
            restore the best weights (needs validation_data).
        callbacks : list of callables f(epoch, logs)
            Called after each epoch; returning False stops training.
        sample_weight : array of shape (n,) or None
            Non-negative weights: each batch's cost becomes its weighted mean
            Σ w_i c_i / Σ w_i (a batch whose weights are all zero is
            skipped), and 'loss'/'accuracy' are weighted means.
            validation_data may then be (X_val, Y_val, w_val).
        clip_per_sample, noise : float
            DP-SGD (Abadi et al., 2016): each sample's gradient is clipped to
            norm clip_per_sample (its norm found without forming it, see
            `per_sample_grad_norms`), and Gaussian noise of std
            noise·clip_per_sample is added to the sum of each batch's clipped
            gradients before the division by the batch size. The noise is
            drawn from a counter-based generator keyed by `seed`, the step and
            the parameter, so a run is reproducible and thread-count-free.

        progress : bool
            A tqdm progress bar over the epochs (loss and accuracy as it
            goes), shown only when stderr is a terminal.
        comm : mpi4py communicator or None
            Data-parallel training over MPI: X, Y are this rank's shard, and
            fit is `fastbp.distributed.fit(self, ..., comm=comm)`.

        Returns a History with per-epoch 'loss' and 'accuracy' (averaged
        over the epoch's batches, each measured before its update, as Keras
        does), 'val_loss'/'val_accuracy' (with validation_data), 'lr',
        'seconds' and 'grad_norm' (‖∇C‖ of each layer's weights and biases on
        the epoch's last batch: Nielsen's vanishing-gradient diagnostic; NaN
        if that batch was skipped for having no weight).

        Faults: if a batch's cost or the parameters become NaN or inf, the
        parameters are restored to their last finite values and fit raises
        FloatingPointError naming the epoch and batch (`on_nonfinite="raise"`)
        or warns and returns (`"stop"`). Ctrl-C stops at the next batch with
        the parameters of the last complete update; the KeyboardInterrupt
        propagates. Either exception carries the epochs done as `.history`.
        A second fit on the same network from another thread raises
        RuntimeError.
        """
        if comm is not None:
            from . import distributed
            return distributed.fit(
                self, X, Y, epochs=epochs, batch_size=batch_size, lr=lr, shuffle=shuffle,
                seed=seed, validation_data=validation_data, verbose=verbose,
                on_nonfinite=on_nonfinite, optimizer=optimizer, l2=l2, l1=l1, dropout=dropout,
                max_norm=max_norm, lr_schedule=lr_schedule, early_stopping=early_stopping,
                callbacks=callbacks, sample_weight=sample_weight,
                clip_per_sample=clip_per_sample, noise=noise, progress=progress, comm=comm)
        c = self._check_fit(X, Y, epochs, batch_size, lr, seed, validation_data, on_nonfinite,
                            optimizer, l2, l1, dropout, max_norm, lr_schedule, early_stopping,
                            callbacks, sample_weight, clip_per_sample, noise, progress)
        X, Y, epochs, opt, validation = c["X"], c["Y"], c["epochs"], c["optimizer"], c["validation"]
        batch_size = X.shape[0] if opt.full_batch else c["batch_size"]
        config = {k: c[k] for k in ("optimizer", "l1", "l2", "dropout", "max_norm", "schedule",
                                    "early_stopping", "callbacks", "sample_weight", "clip",
                                    "noise")}
        if not self._fit_lock.acquire(blocking=False):
            raise RuntimeError("fit is already running on this network in another thread")
        history = History()
        config["bar"] = _progress._NoBar()
        try:
            config["bar"] = _progress.bar(epochs, c["progress"])
            with self._lock:
                if isinstance(opt, optim.LBFGS):
                    return optim.lbfgs.fit(self, opt, X, Y, epochs, validation, verbose,
                                           c["on_nonfinite"], config, history)
                return self._fit(X, Y, epochs, min(batch_size, X.shape[0]), shuffle,
                                 np.random.default_rng(c["seed"]), validation, verbose,
                                 c["on_nonfinite"], config, history)
        except KeyboardInterrupt as e:
            # in the compiled loop or between epochs: the epochs done so far
            e.history = history  # type: ignore[attr-defined]
            raise
        finally:
            config["bar"].close()
            self._fit_lock.release()

    def _check_fit(self, X, Y, epochs, batch_size, lr, seed, validation_data, on_nonfinite,
                   optimizer, l2, l1, dropout, max_norm, lr_schedule, early_stopping, callbacks,
                   sample_weight, clip_per_sample, noise, progress, weights=check_sample_weight,
                   each_rank=True):
        """fit's argument checks, done once, before anything changes: the
        checked values by name. fastbp.distributed.fit runs the same checks
        with its own `weights` (the sample-weight check), and each_rank=False:
        validation data for early stopping on some rank is enough."""
        X, Y = self._data(X, Y)
        sample_weight = weights(sample_weight, X.shape[0], "sample_weight")
        epochs = check_positive_int(epochs, "epochs")
        batch_size = check_positive_int(batch_size, "batch_size")
        lr = check_positive_float(lr, "lr")
        seed = check_seed(seed)
        check_name(on_nonfinite, ("raise", "stop"), "on_nonfinite")
        opt = optim.get(optimizer, lr)
        l2 = check_non_negative_float(l2, "l2")
        l1 = check_non_negative_float(l1, "l1")
        rates = self._dropout_rates(dropout)
        if max_norm is not None:
            max_norm = check_positive_float(max_norm, "max_norm")
        schedule = None if lr_schedule is None else schedules.get(lr_schedule, epochs)
        if not isinstance(progress, (bool, np.bool_)):
            raise TypeError(f"progress must be True or False; got {progress!r}")
        if early_stopping is not None:
            early_stopping = check_positive_int(early_stopping, "early_stopping")
            if validation_data is None and each_rank:
                raise ValueError("early_stopping needs validation_data")
        callbacks = list(callbacks or ())
        for f in callbacks:
            if not callable(f):
                raise TypeError(f"callbacks must be callables f(epoch, logs); got {f!r}")
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise TypeError("validation_data must be (X_val, Y_val) or (X_val, Y_val, w_val)")
            validation = self._data(validation_data[0], validation_data[1],
                                    xname="validation_data[0]", yname="validation_data[1]")
            validation += (weights(validation_data[2] if len(validation_data) == 3 else None,
                                   validation[0].shape[0], "validation_data[2]"),)
        if clip_per_sample is not None:
            clip_per_sample = check_positive_float(clip_per_sample, "clip_per_sample")
            if self._batch_norm or sample_weight is not None:
                raise ValueError("clip_per_sample (DP-SGD) does not combine with "
                                 + ("batch_norm" if self._batch_norm else "sample_weight"))
        noise = check_non_negative_float(noise, "noise")
        if noise and clip_per_sample is None:
            raise ValueError("noise needs clip_per_sample: DP-SGD's noise is noise·clip_per_sample")
        return dict(X=X, Y=Y, epochs=epochs, batch_size=batch_size, seed=seed,
                    on_nonfinite=on_nonfinite, optimizer=opt, l1=l1, l2=l2, dropout=rates,
                    max_norm=max_norm or 0.0, schedule=schedule, early_stopping=early_stopping,
                    callbacks=callbacks, validation=validation, sample_weight=sample_weight,
                    clip=clip_per_sample or 0.0, noise=noise, progress=bool(progress))

    def _dropout_rates(self, dropout):
        """Drop rate of each layer's output (0 for the output layer), float64."""
        hidden = len(self._sizes) - 2
        rates = list(dropout) if isinstance(dropout, (list, tuple, np.ndarray)) else [dropout] * hidden
        if len(rates) != hidden:
            raise ValueError(f"dropout needs one rate per hidden layer ({hidden}); got {len(rates)}")
        out = np.zeros(hidden + 1)
        for l, p in enumerate(rates):
            if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
                raise TypeError(f"dropout rates must be numbers in [0, 1); got {p!r}")
            if not 0 <= p < 1:
                raise ValueError(f"dropout rates must be in [0, 1); got {p}")
            out[l] = p
        return out

    def _fit(self, X, Y, epochs, batch_size, shuffle, rng, validation, verbose,
             on_nonfinite, config, history):
        n = X.shape[0]
        opt = config["optimizer"]
        kind, state = self._update_rule(opt)
        sample_weight = config["sample_weight"]
        weight = n if sample_weight is None else float(sample_weight.sum())
        hyper = np.asarray(opt._hyper_for(weight), dtype=np.float64)
        dropout = config["dropout"] if config["dropout"].any() else None
        # its own stream, so that the batches do not depend on dropout
        dropout_seed = int(rng.bit_generator.seed_seq.spawn(1)[0].generate_state(1, np.uint64)[0])
        noise_seed = int(rng.bit_generator.seed_seq.spawn(1)[0].generate_state(1, np.uint64)[0])
        unit_off = np.concatenate([[0], np.cumsum(self._sizes[1:])]).astype(np.intp)
        row_sq = np.zeros(unit_off[-1])
        grads = np.empty_like(self._params)
        plan = self._plan(batch_size)
        best = (np.inf, None, -1)  # (val_loss, params, epoch): none yet
        # Ctrl-C can only be caught by the compiled loop in the main thread
        watch = threading.current_thread() is threading.main_thread()
        self._optimizer = opt
        self._penalty = (config["l2"], config["l1"])
        for epoch in range(epochs):
            lr = opt.lr if config["schedule"] is None else config["schedule"].lr_at(epoch, opt.lr)
            order = (rng.permutation(n) if shuffle else np.arange(n)).astype(np.intp)
            memory = getattr(opt, "_loss_memory", None)  # iRprop+'s last objective
            backup = (self._params.copy(), state.copy(), opt.steps, self._running.copy(),
                      None if memory is None else memory.copy())
            args = dict(kind=kind, hyper=hyper, state=state, l1=config["l1"], l2=config["l2"],
                        max_norm=config["max_norm"], dropout=dropout, seed=dropout_seed,
                        epoch=epoch, running=self._running, sample_weight=sample_weight,
                        loss_memory=memory, clip=config["clip"], noise=config["noise"],
                        noise_seed=noise_seed,
                        # iRprop+ compares objectives: the data cost plus this
                        penalty=self.loss(X[:1], Y[:1], regularized=True) - self.loss(X[:1], Y[:1])
                        if memory is not None else 0.0)
            row_sq[...] = np.nan  # stays NaN if the epoch's last batch is skipped (no weight)
            start = time.perf_counter()
            try:
                total, n_correct, done, updates, stop = _core.train_epoch(
                    plan, self._params, grads, X, Y, order, batch_size, lr, watch,
                    step=opt.steps + 1, row_sq=row_sq, unit_off=unit_off, **args)
            except KeyboardInterrupt as e:  # Ctrl-C: the updates done count as steps
                opt.steps += getattr(e, "updates", 0)
                raise
            seconds = time.perf_counter() - start
            opt.steps += updates
            if stop == _core.NONFINITE or not np.isfinite(self._params).all():
                kept = self._restore_finite(backup, opt, plan, grads, X, Y, order,
                                            batch_size, lr, done, args)
                failure = _diverged(_lost_in_epoch(epoch, done, kept), on_nonfinite, history)
                if failure is not None:
                    raise failure
                return history
            logs = {"loss": total / weight, "accuracy": n_correct / weight}
            if validation is not None:
                cost, correct = self._per_sample(*validation[:2])
                logs["val_loss"] = float(np.average(cost, weights=validation[2]))
                logs["val_accuracy"] = float(np.average(correct, weights=validation[2]))
            logs["lr"] = lr
            logs["seconds"] = seconds
            logs["grad_norm"] = [float(np.sqrt(row_sq[a:b].sum()))
                                 for a, b in zip(unit_off[:-1], unit_off[1:])]
            history._append(epoch, logs)
            config["bar"].update()
            config["bar"].set_postfix(loss=f"{logs['loss']:.4f}", acc=f"{logs['accuracy']:.3f}")
            if verbose:
                config["bar"].write(f"epoch {epoch + 1}/{epochs}: " + "  ".join(
                    f"{k} {v:.4f}" for k, v in logs.items() if k != "grad_norm")
                    + f"  ({n / seconds:,.0f} samples/s)")
            if config["schedule"] is not None:
                config["schedule"].observe(logs)
            if config["early_stopping"] is not None:
                if logs["val_loss"] < best[0]:
                    best = (logs["val_loss"], self._params.copy(), epoch)
                elif epoch - best[2] >= config["early_stopping"]:
                    break  # the best weights are restored below
            if any(f(epoch, logs) is False for f in config["callbacks"]):
                break
        if config["early_stopping"] is not None and best[1] is not None:
            self._params[...] = best[1]  # the best weights, as Keras' restore_best_weights
        return history

    def _restore_finite(self, backup, opt, plan, grads, X, Y, order, batch_size, lr, done,
                        args):
        """Make params the last finite ones of this epoch: after its first
        `done` batches if those are finite, else replay fewer batches from the
        epoch's start (the replay computes the same bits). Returns the batches
        kept."""
        start_params, start_state, start_steps, start_running, start_memory = backup
        state = args["state"]
        for kept in range(done, -1, -1):
            if kept < done:
                self._params[...] = start_params
                self._running[...] = start_running
                state[...] = start_state
                if start_memory is not None:
                    args["loss_memory"][...] = start_memory
                opt.steps = start_steps
                if kept:
                    opt.steps += _core.train_epoch(plan, self._params, grads, X, Y,
                                                   order[:kept * batch_size], batch_size, lr,
                                                   step=start_steps + 1, **args)[3]
            if np.isfinite(self._params).all():
                return kept
        raise AssertionError("unreachable: the epoch started from finite parameters")

    # Derivatives beyond the weight gradient (fastbp.derivatives)

    def _no_batch_norm(self, what):
        if self._batch_norm:
            raise NotImplementedError(f"{what} is not available for batch-norm networks yet")

    def input_gradients(self, X: ArrayLike, Y: ArrayLike) -> np.ndarray:
        """∂(mean loss)/∂X, shape (n, sizes[0])."""
        self._no_batch_norm("input_gradients")
        from .derivatives import input_gradients
        return input_gradients(self, X, Y)

    def jacobian(self, X: ArrayLike) -> np.ndarray:
        """(n, sizes[-1], sizes[0]) Jacobian of the outputs w.r.t. the inputs."""
        self._no_batch_norm("jacobian")
        from .derivatives import jacobian
        return jacobian(self, X)

    def per_sample_gradients(self, X: ArrayLike, Y: ArrayLike) -> np.ndarray:
        """(n, len(params)): each sample's own cost gradient, params layout."""
        self._no_batch_norm("per_sample_gradients")
        from .derivatives import per_sample_gradients
        return per_sample_gradients(self, X, Y)

    def hvp(self, X: ArrayLike, Y: ArrayLike, v: ArrayLike) -> np.ndarray:
        """Hessian-vector product of the mean loss w.r.t. params (Pearlmutter's R-operator)."""
        self._no_batch_norm("hvp")
        from .derivatives import hvp
        return hvp(self, X, Y, v)

    def per_sample_grad_norms(self, X: ArrayLike, Y: ArrayLike) -> np.ndarray:
        """(n,) norm of each sample's cost gradient, ‖δ_i‖·‖[a_i, 1]‖ per layer,
        without forming the per-sample gradients."""
        self._no_batch_norm("per_sample_grad_norms")
        from .derivatives import per_sample_grad_norms
        return per_sample_grad_norms(self, X, Y)

    def gnvp(self, X: ArrayLike, Y: ArrayLike, v: ArrayLike) -> np.ndarray:
        """Gauss-Newton-vector product of the mean loss w.r.t. params (Jᵀ·H·J·v)."""
        self._no_batch_norm("gnvp")
        from .derivatives import gnvp
        return gnvp(self, X, Y, v)

    @property
    def optimizer(self):
        """The optimizer of the last fit (with its state), or None."""
        return self._optimizer

    def save(self, path: Union[str, os.PathLike], include_optimizer: bool = False) -> None:
        """Write the model to a file; `fastbp.load` reads it back.

        Parameters
        ----------
        path : str or os.PathLike
            An .npz holding a JSON header and the parameters (no pickle),
            written atomically (temp file, fsync, rename).
        include_optimizer : bool
            Also the last fit's optimizer and its state, so that
            fit(..., optimizer=net.optimizer) resumes exactly.
        """
        from ._io import save
        save(self, path, include_optimizer)

    def copy(self) -> Network:
        """An independent network with the same structure and parameters."""
        net = Network.__new__(Network)
        net.__dict__.update(self.__dict__)
        net._params = self._params.copy()
        net._running = self._running.copy()
        net._plans = {}
        net._lock = threading.RLock()
        net._fit_lock = threading.Lock()
        net._make_views()
        return net
