"""Model: a dense feed-forward network's structure and arithmetic.

All parameters live in one flat buffer, `params`, in layer order
[W_0, b_0, W_1, b_1, ...] (each W_l row-major, shape (sizes[l+1], sizes[l]));
`weights` and `biases` are views into it, so writing into them changes the
model. Gradients use the same layout. Inputs are validated here, once, and
the compiled core (fastbp._core) does the arithmetic.

The model knows nothing of training: fastbp.trainer changes its parameters,
fastbp.network.Network adds fit, save and the derivative tools on top.

Besides the public API, a Model offers fastbp's own modules (trainer,
distributed, derivatives, _io, gradcheck, autodiff, reference) an internal
interface without underscores, so that no module reaches into another's
privates: `checked_inputs`, `checked_data`, `per_sample`, `plan`, `trace`,
`flat_gradients`, `layer_activations`, `gamma_views`, `running`,
`compute_lock`, `fit_lock`, `trained_with`, `penalty`. Its inputs are
validated already where a docstring says so.
"""
from __future__ import annotations

import copy
import threading
from typing import Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._layout import ParamList, layout
from ._threads import (MIN_WORK_EVERYWHERE, batch_work, forget_dead_owners, get_num_threads,
                       thread_setting, threads_for)
from ._validation import (COST_OUTPUT, COSTS, ACTIVATIONS, INITS, check_activations,
                          check_dtype, check_inputs, check_name, check_sample_weight,
                          check_seed, check_sizes, check_targets, check_values, encode_labels,
                          is_classification, label_classes, not_finite)

# Rows per block when evaluating data sets larger than this: bounds the work
# buffers without changing any result (rows are independent in a forward pass).
EVAL_BLOCK = 1024


class Model:
    """The structure and arithmetic of a dense feed-forward network: the
    parameter buffer and its views, the compiled plans, forward, loss,
    gradients. Its arguments are `Network`'s; fastbp.Network is the class to
    use."""

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
        self._w_off, self._b_off, self._g_off, n_params = layout(sizes, self._batch_norm)
        try:
            self._params = _core.aligned_zeros(n_params, dtype)
        except (MemoryError, ValueError):  # ValueError: more than NumPy can index
            raise MemoryError(f"sizes {list(sizes)} need {n_params:,} parameters: "
                              f"more memory than there is") from None
        # batch norm's running mean and variance of each hidden unit
        hidden_units = sum(sizes[1:-1]) if self._batch_norm else 0
        self._running = np.stack([np.zeros(hidden_units), np.ones(hidden_units)])
        self._plans: dict = {}
        self.compute_lock = threading.RLock()  # compiled calls share the Plan buffers
        self.fit_lock = threading.Lock()       # a second concurrent fit is an error
        forget_dead_owners(self)
        self._optimizer = None                 # the last fit's optimizer (fastbp.trainer)
        self._penalty = (0.0, 0.0)             # fit's (l2, l1), for loss(regularized=True)
        # fit(seed=None) spawns its seed from here: a seeded network trains repeatably
        self._fit_seeds = None if seed is None else np.random.SeedSequence(seed)
        self._classes = None                   # the labels of fit's 1-D Y (Network.fit)
        self._make_views()
        self._init_params(init, np.random.default_rng(seed))

    # ------------------------------------------------------------ structure

    def _make_views(self):
        ws, bs = [], []
        for l, (n_in, n_out) in enumerate(zip(self._sizes[:-1], self._sizes[1:])):
            ws.append(self._params[self._w_off[l]:self._w_off[l] + n_out * n_in].reshape(n_out, n_in))
            bs.append(self._params[self._b_off[l]:self._b_off[l] + n_out])
        self._weights = ParamList(ws, "weights")
        self._biases = ParamList(bs, "biases")
        self._gammas = ParamList([self._params[g:g + n] for g, n in zip(self._g_off, self._sizes[1:])
                                   if g >= 0], "gammas")

    def _init_params(self, init, rng):
        acts = self.layer_activations()  # once: per layer made this quadratic in depth
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

    def layer_activations(self):
        """The activation of every layer, hidden ones and the output's, by name."""
        hidden = self._activation
        if isinstance(hidden, str):
            hidden = [hidden] * (len(self._sizes) - 2)
        return list(hidden) + [self._output_activation]

    def plan(self, cap, most_threads=None):
        """Work buffers for batches of up to `cap` rows, made once and reused;
        on at most `most_threads` threads if given (a caller that runs
        several at once), else on what fastbp's setting gives this work."""
        # keyed by what the threads are chosen from, not by the choice: a
        # forward of one row would spend a tenth of its time making it again
        key = (cap, most_threads, thread_setting())
        plan = self._plans.get(key)
        if plan is None:
            work = batch_work(tuple(self._sizes), cap)
            threads = threads_for(*work)
            # the team of train_epoch where every thread computes the output layer
            everywhere = (threads_for(*work, min_work=MIN_WORK_EVERYWHERE)
                          if _core.output_everywhere(self._sizes, self._batch_norm) else threads)
            if most_threads:
                threads, everywhere = min(threads, most_threads), min(everywhere, most_threads)
            if len(self._plans) >= 4:  # keep the cache small: drop the oldest
                self._plans.pop(next(iter(self._plans)))
            codes = [_core.ACTIVATION_CODES[a] for a in self.layer_activations()]
            plan = _core.Plan(self._sizes, self._w_off, self._b_off, codes,
                              _core.COST_CODES[self._cost], cap, threads, self._dtype,
                              self._g_off, everywhere)
            self._plans[key] = plan
        return plan

    sizes = property(lambda self: self._sizes, doc="Layer widths, inputs first.")
    batch_norm = property(lambda self: self._batch_norm, doc="Batch norm of hidden layers?")
    dtype = property(lambda self: self._dtype, doc="The float type of everything.")
    output_activation = property(lambda self: self._output_activation, doc="Its name.")
    cost = property(lambda self: self._cost, doc="Its name.")

    def _set_classes(self, value):  # labels of exactly the outputs (two for one unit)
        self._classes = None if value is None else label_classes(value, self._sizes[-1],
                                                                 argname="classes")
    classes = property(lambda self: self._classes, _set_classes,
                       doc="The labels the outputs stand for, sorted (scikit-learn's classes_): "
                           "kept by a fit on 1-D labels; None when fit had targets.")

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
    def running(self) -> np.ndarray:
        """Batch norm's running estimates, float64 (2, hidden units): the rows
        running_mean and running_var; fit updates them in place."""
        return self._running

    @property
    def activation(self) -> Union[str, list]:
        """The hidden activation: a name, or a list of one name per hidden layer."""
        act = self._activation
        return act if isinstance(act, str) else list(act)

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

    def gamma_views(self, flat):
        """Batch norm's γ part of a flat array in the params layout, per layer."""
        return [flat[g:g + n] for g, n in zip(self._g_off, self._sizes[1:]) if g >= 0]

    def __repr__(self):
        return (f"{type(self).__name__}(sizes={list(self._sizes)}, activation={self.activation!r}, "
                f"output_activation={self._output_activation!r}, cost={self._cost!r}, "
                f"dtype={self._dtype.name!r}{', batch_norm=True' if self._batch_norm else ''})")

    # ------------------------------------------------------------ compute

    def checked_inputs(self, X, argname="X", finite=True):
        """X checked (C-contiguous, finite, of the model's dtype), 2-d;
        finite=False: all but the finiteness (which forward checks on the way)."""
        return check_inputs(X, self._sizes[0], self._dtype, argname, finite, get_num_threads())

    def checked_data(self, X, Y, xname="X", yname="Y", x_finite=True):
        """(X, Y) checked against the model's shapes and dtype; x_finite=False:
        all of X but its finiteness (see checked_inputs)."""
        X = self.checked_inputs(X, xname, x_finite)
        Y = Y if self._classes is None else encode_labels(Y, self._classes, self._sizes[-1], yname)
        return X, check_targets(Y, X.shape[0], self._sizes[-1], self._dtype, yname, self._cost)

    def forward(self, X: ArrayLike) -> np.ndarray:
        """The network's outputs.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0]) or (sizes[0],)
            Samples in rows (or one sample); finite, numeric.

        Returns
        -------
        ndarray, shape (n, sizes[-1]) (or (sizes[-1],) for one sample), the network's dtype
            With batch norm, normalized by the running estimates.
        """
        # given: for its ndim, once it passed the check; X's finiteness is
        # checked by the core: by the first product's kernel, or as its
        # threads read X (a pass over X fewer, or none)
        given, X = X, self.checked_inputs(X, finite=False)
        out = np.empty((X.shape[0], self._sizes[-1]), dtype=self._dtype)
        with self.compute_lock:
            finite = _core.forward(self.plan(min(X.shape[0], EVAL_BLOCK)), self._params, X, out,
                                   self._running, check_finite=True)
        if not finite:
            raise not_finite("X", self._dtype)
        return out[0] if np.ndim(given) == 1 else out  # one sample: one row

    def per_sample(self, X, Y, training=False):
        """Per-sample cost and correctness of validated (X, Y); training: batch
        norm with the statistics of all of X (one block)."""
        n = X.shape[0]
        cost = np.empty(n, dtype=np.float64)
        correct = np.empty(n, dtype=np.int8)
        training = training and self._batch_norm
        with self.compute_lock:
            _core.evaluate(self.plan(n if training else min(n, EVAL_BLOCK)), self._params,
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
        X, Y = self.checked_data(X, Y)
        w = check_sample_weight(sample_weight, X.shape[0])
        cost, _ = self.per_sample(X, Y, training=bool(training))
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
            sample_weight; no 'accuracy' for real-valued targets (not labels, one-hot or 0/1).
        """
        X, Y = self.checked_data(X, Y)
        w = check_sample_weight(sample_weight, X.shape[0])
        cost, correct = self.per_sample(X, Y)
        accuracy = {"accuracy": float(np.average(correct, weights=w))} if is_classification(Y) else {}
        return {"loss": float(np.average(cost, weights=w)), **accuracy}

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted classes.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0]) or (sizes[0],)

        Returns
        -------
        ndarray, shape (n,)
            The argmax of the outputs (one output unit: 1 where > 0.5), as the
            labels of `classes` when fit kept them (else int64 indices).
        """
        out = self.forward(self.checked_inputs(X))
        index = (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
        return index if self._classes is None else self._classes[index]

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
        X, Y = self.checked_data(X, Y)
        loss, grads = self.flat_gradients(X, Y, check_sample_weight(sample_weight, X.shape[0]))
        gw, gb = self.unflatten(grads)
        return loss, gw, gb

    def trace(self, X, Y):
        """Everything backprop computes for validated (X, Y), as copies:
        (mean cost, activations [A_0=X, A_1, ..., A_L], Z_L, deltas
        [Δ_0, ..., Δ_{L-1}] with Δ_l = ∂C/∂Z_{l+1} of the mean cost C)."""
        n = X.shape[0]
        with self.compute_lock:
            plan = self.plan(n)
            total = _core.gradients(plan, self._params, np.empty_like(self._params), X, Y,
                                    weights=False)
            acts, deltas = [X.copy()], []
            for l, width in enumerate(self._sizes[1:]):
                off = plan.a_offset(l + 1)
                acts.append(plan.acts[off:off + n * width].reshape(n, width).copy())
                deltas.append(plan.deltas[off:off + n * width].reshape(n, width).copy())
            z_out = plan.zout[:n * self._sizes[-1]].reshape(n, -1).copy()
        return total / n, acts, z_out, deltas

    def flat_gradients(self, X, Y, sample_weight=None, params=None):
        """(mean cost, gradient in the params layout) for validated (X, Y) and
        sample weights, at the parameters (or at `params`, an array like
        them: the model's are not changed)."""
        grads = np.empty_like(self._params)
        with self.compute_lock:
            total = _core.gradients(self.plan(X.shape[0]),
                                    self._params if params is None else params, grads, X, Y,
                                    sample_weight=sample_weight)
        weight = X.shape[0] if sample_weight is None else sample_weight.sum()
        return total / weight, grads

    @property
    def optimizer(self):
        """The optimizer of the last fit (with its state), or None."""
        return self._optimizer

    @property
    def penalty(self) -> tuple:
        """(l2, l1) of the last fit, for loss(regularized=True)."""
        return self._penalty

    def trained_with(self, optimizer, l2, l1):
        """Record what the trainer trains with: the optimizer (`optimizer`,
        saved with the model) and the penalty (loss(regularized=True))."""
        self._optimizer = optimizer
        self._penalty = (l2, l1)

    def copy(self) -> Model:
        """An independent network with the same structure and parameters (and
        its own copy of the last fit's optimizer, and of the seeds of its fits
        at the same point)."""
        with self.compute_lock:  # a fit holds it during an epoch: no torn copy
            seeds = self._fit_seeds
            if seeds is not None:
                seeds = np.random.SeedSequence(seeds.entropy,
                                               n_children_spawned=seeds.n_children_spawned)
            return _rebuilt(type(self), dict(
                self.__dict__, _params=self._params.copy(), _running=self._running.copy(),
                _optimizer=copy.deepcopy(self._optimizer), _fit_seeds=seeds))

    def __reduce__(self):
        """pickle and copy.deepcopy: a copy() without locks or work buffers."""
        return _rebuilt, (type(self), {k: v for k, v in self.copy().__dict__.items() if k not in
                                       ("_plans", "compute_lock", "fit_lock", "fit_owner")})


def _rebuilt(cls, state):
    """A `cls` of the attributes `state`, with new locks, work buffers, views."""
    net = cls.__new__(cls)
    net.__dict__.update(state, _plans={}, compute_lock=threading.RLock(), fit_lock=threading.Lock())
    forget_dead_owners(net)
    net._make_views()
    return net
