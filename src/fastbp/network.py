"""Network: the public model, a dense feed-forward network trained by
backpropagation.

`Network` is `fastbp.model.Model` (structure and arithmetic) with its front
doors: `fit` (through fastbp.trainer, or fastbp.distributed with `comm`),
`apply_gradients`, `save`, and the derivatives of fastbp.derivatives. See
ARCHITECTURE.md for the direction of the imports.
"""
from __future__ import annotations

import os
from typing import Callable, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _io, derivatives, distributed, optim, trainer
from ._settings import check_fit
from ._validation import (FoundNotFinite, check_name, check_non_negative_float,
                          check_positive_float, check_positive_int, check_values, label_classes,
                          warn_if_out_of_range, warn_if_unscaled)
from .model import EVAL_BLOCK, Model  # noqa: F401  (EVAL_BLOCK: fastbp.network's, as before)
from .trainer import History  # noqa: F401  (fastbp.network.History, as before)


class Network(Model):
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
        Seed of the initial parameters, and of every `fit` without a seed of
        its own: each such fit takes the next seed spawned from it
        (numpy.random.SeedSequence), so a script trains the same way on
        every run while two fits in a row still draw different shuffles.
        None: fresh entropy for both.
    batch_norm : bool
        Batch normalization of every hidden layer (after the product, before
        the activation): y = γ·(z − μ)/√(σ² + ε) + β, with the layer's bias as
        β and the scales γ in `gammas`. Training, `gradients` and
        `loss(training=True)` use the batch's statistics; `forward`,
        `predict`, `evaluate` and `loss` the running estimates gathered by
        `fit` (momentum 0.1, ε = 1e-5, as torch's BatchNorm1d).
    """

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
        X : array_like, shape (n, sizes[0])
            Training inputs, finite, near unit scale (see InputScaleWarning).
        Y : array_like
            Targets (n, sizes[-1]), or 1-D class labels of any kind (strings,
            integers; a one-column array or DataFrame too), kept as `classes`;
            a one-output network takes real-valued targets, or two classes
            (the integer labels 0 and 1, or two other labels).
        epochs : int
            Passes over the data (L-BFGS: the most iterations).
        batch_size : int
            Rows per update (the full-batch optimizers use every row).
        lr : float
            Learning rate of a named optimizer.
        shuffle : bool
            Draw each epoch's batches from a fresh permutation of the rows;
            False: in order.
        seed : int or None
            Seed of the shuffles, dropout masks and DP-SGD noise; None: the
            next seed spawned from the network's own seed (fresh entropy for
            a network made with seed=None).
        validation_data : (X_val, Y_val) or (X_val, Y_val, w_val), optional
            Measured after each epoch: 'val_loss' (and 'val_accuracy').
        verbose : bool
            Print one line per epoch.
        on_nonfinite : 'raise' or 'stop'
            What a NaN or inf cost or parameter does (see Faults below).
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
        propagates. Either exception carries the epochs done as `.history`
        (an epoch the Ctrl-C came too late to stop is finished and recorded
        first: the parameters hold exactly the epochs in `.history` and the
        whole batches of the one stopped).
        A second fit on the same network from another thread raises
        RuntimeError.
        """
        if seed is None and self._fit_seeds is not None:
            seed = int(self._fit_seeds.spawn(1)[0].generate_state(1)[0])
        args = {k: v for k, v in locals().items() if k not in ("self", "comm")}
        previous = self._classes  # 1-D labels: kept, and read through them from here on
        self._classes = label_classes(Y, self._sizes[-1], previous)
        try:
            if comm is not None:
                return distributed.fit(self, **args, comm=comm)
            # X's finiteness: checked by the first epoch as it reads X
            settings = check_fit(self, **args, x_as_read=True)
        except Exception:
            self._classes = previous
            raise
        warn_if_unscaled(settings.X, self.activation)
        warn_if_out_of_range(settings.Y, self._output_activation)
        try:
            return trainer.fit(self, settings)
        except FoundNotFinite as e:  # nothing trained: the rest trainer.fit put back
            self._classes = previous
            raise ValueError(str(e)) from None  # as if check_fit had found it

    def __call__(self, X: ArrayLike) -> np.ndarray:
        """`forward(X)`: the network's outputs.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0]) or (sizes[0],)
        """
        return self.forward(X)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities of a softmax or sigmoid output layer.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0]) or (sizes[0],)

        Returns
        -------
        ndarray, shape (n, sizes[-1]), columns in the order of `classes`
            The outputs; for one sigmoid output p, the two columns [1 − p, p]
            (as scikit-learn's).
        """
        if self._output_activation not in ("softmax", "sigmoid"):
            raise ValueError(f"predict_proba needs softmax or sigmoid outputs; this network's "
                             f"are {self._output_activation!r}: use forward")
        out = self.forward(X)
        if self._sizes[-1] == 1:
            return np.concatenate([1 - out, out], axis=-1)
        return out

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> float:
        """As scikit-learn's: the accuracy for classes (labels, one-hot rows,
        0/1 for one output), R² (averaged over the outputs) for real-valued targets.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
        y : array_like, labels (n,) or targets (n, sizes[-1])
        sample_weight : array_like, shape (n,), optional

        Returns
        -------
        float
        """
        result = self.evaluate(X, y, sample_weight)
        if "accuracy" in result:
            return result["accuracy"]
        X, Y = self.checked_data(X, y)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        Y = Y.astype(np.float64)
        residual = np.average((Y - self.forward(X)) ** 2, axis=0, weights=w)
        spread = np.average((Y - np.average(Y, axis=0, weights=w)) ** 2, axis=0, weights=w)
        with np.errstate(divide="ignore", invalid="ignore"):  # constant column: 1 if exact
            r2 = np.where(spread > 0, 1 - residual / spread, np.where(residual == 0, 1.0, 0.0))
        return float(r2.mean())

    def apply_gradients(self, grads, optimizer="sgd", lr: Optional[float] = None, l2: float = 0.0,
                        l1: float = 0.0, max_norm: Optional[float] = None,
                        n_samples: int = 1, on_nonfinite: str = "raise") -> None:
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
        on_nonfinite : 'raise' or 'stop'
            An update that makes the parameters NaN or inf is undone, then
            FloatingPointError is raised ('raise') or a RuntimeWarning given.
        """
        n_samples = check_positive_int(n_samples, "n_samples")
        check_name(on_nonfinite, ("raise", "stop"), "on_nonfinite")
        flat = self._flat_of(grads)
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
        trainer.apply_update(self, flat, opt, l2, l1, max_norm, n_samples, on_nonfinite)

    def _flat_of(self, grads):
        """A new flat array in the params layout from apply_gradients' `grads`."""
        if isinstance(grads, (tuple, list)) and len(grads) == 2 \
                and all(isinstance(g, (tuple, list)) for g in grads):
            flat = np.empty_like(self._params)
            ws, bs = self.unflatten(flat)
            for dst, src, name in ((ws, grads[0], "grads[0]"), (bs, grads[1], "grads[1]")):
                if len(src) != len(dst):
                    raise ValueError(f"{name} needs {len(dst)} arrays; got {len(src)}")
                for l, view in enumerate(dst):
                    view[...] = check_values(src[l], view.shape, self._dtype, f"{name}[{l}]")
            return flat
        return check_values(grads, self._params.shape, self._dtype, "grads").copy()

    # Derivatives beyond the weight gradient (fastbp.derivatives)

    def _no_batch_norm(self, what):
        if self._batch_norm:
            raise NotImplementedError(f"{what} is not available for batch-norm networks yet")

    def input_gradients(self, X: ArrayLike, Y: ArrayLike) -> np.ndarray:
        """∂(mean loss)/∂X, shape (n, sizes[0]).

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
        Y : array_like, targets or labels, as for `loss`
        """
        self._no_batch_norm("input_gradients")
        return derivatives.input_gradients(self, X, Y)

    def jacobian(self, X: ArrayLike) -> np.ndarray:
        """(n, sizes[-1], sizes[0]) Jacobian of the outputs w.r.t. the inputs.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
        """
        self._no_batch_norm("jacobian")
        return derivatives.jacobian(self, X)

    def per_sample_gradients(self, X: ArrayLike, Y: ArrayLike) -> np.ndarray:
        """(n, len(params)): each sample's own cost gradient, params layout.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
        Y : array_like, targets or labels, as for `loss`
        """
        self._no_batch_norm("per_sample_gradients")
        return derivatives.per_sample_gradients(self, X, Y)

    def hvp(self, X: ArrayLike, Y: ArrayLike, v: ArrayLike) -> np.ndarray:
        """Hessian-vector product of the mean loss w.r.t. params (Pearlmutter's R-operator).

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
        Y : array_like, targets or labels, as for `loss`
        v : array_like, shape (len(params),)
            The vector, in the params layout.
        """
        self._no_batch_norm("hvp")
        return derivatives.hvp(self, X, Y, v)

    def per_sample_grad_norms(self, X: ArrayLike, Y: ArrayLike) -> np.ndarray:
        """(n,) norm of each sample's cost gradient, ‖δ_i‖·‖[a_i, 1]‖ per layer,
        without forming the per-sample gradients.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
        Y : array_like, targets or labels, as for `loss`
        """
        self._no_batch_norm("per_sample_grad_norms")
        return derivatives.per_sample_grad_norms(self, X, Y)

    def gnvp(self, X: ArrayLike, Y: ArrayLike, v: ArrayLike) -> np.ndarray:
        """Gauss-Newton-vector product of the mean loss w.r.t. params (Jᵀ·H·J·v).

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
        Y : array_like, targets or labels, as for `loss`
        v : array_like, shape (len(params),)
            The vector, in the params layout.
        """
        self._no_batch_norm("gnvp")
        return derivatives.gnvp(self, X, Y, v)


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
        _io.save(self, path, include_optimizer)



def load(path: Union[str, os.PathLike]) -> Network:
    return _io.load(path, Network)


load.__doc__ = _io.load.__doc__
