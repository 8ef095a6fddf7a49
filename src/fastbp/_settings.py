"""FitSettings: fit's arguments, checked once, as one typed and frozen object.

`check_fit` is the only place that reads fit's keyword arguments; what it
returns is what `Network.fit`, L-BFGS, the distributed trainer and the
scikit-learn estimators train with, and what fastbp.trainer turns into the
compiled core's `_core.TrainSettings` (`trainer.train_settings`).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

import numpy as np

from . import optim
from .optim import schedules
from ._threads import get_num_threads
from ._validation import (check_finite, check_name, check_non_negative_float,
                          check_positive_float, check_positive_int, check_sample_weight,
                          check_seed)


@dataclass(frozen=True)
class FitSettings:
    """Everything one fit trains with, checked (see `Network.fit` for the
    meaning of each). Off is 0.0 for max_norm, clip and noise, None for
    schedule and early_stopping."""
    X: np.ndarray
    Y: np.ndarray
    epochs: int
    batch_size: int
    shuffle: bool
    seed: Optional[int]
    verbose: bool
    on_nonfinite: str
    optimizer: optim.Optimizer
    l2: float
    l1: float
    dropout: np.ndarray            # drop rate of each layer's output, float64
    max_norm: float
    schedule: Optional[schedules.Schedule]
    early_stopping: Optional[int]
    callbacks: Tuple[Callable, ...]
    validation: Optional[tuple]    # (X_val, Y_val, w_val or None)
    sample_weight: Optional[np.ndarray]
    clip: float
    noise: float
    progress: bool
    # a front end's own epochs (one_epoch): the rows in this order, and
    # penalties divided by each batch's weight, Σ‖W‖² before each update
    # added to weight_sq (_core.TrainSettings)
    order: Optional[np.ndarray] = None
    penalty_per_weight: bool = False
    weight_sq: Optional[np.ndarray] = None
    # do the targets hold classes (accuracy is then reported)? None: found
    # from Y (is_classification), which a front end that knows can skip
    classes: Optional[bool] = None
    # is X known finite? False: the Trainer's first epoch checks its rows as
    # it reads them (check_fit's x_as_read), and raises FoundNotFinite
    x_checked: bool = True

    @property
    def rows_per_batch(self) -> int:
        """Rows per update: all of them for a full-batch optimizer (Rprop)."""
        n = self.X.shape[0]
        return n if self.optimizer.full_batch else min(self.batch_size, n)


def check_fit(model: Any, X, Y, *, epochs, batch_size, lr, shuffle, seed, validation_data,
              verbose, on_nonfinite, optimizer, l2, l1, dropout, max_norm, lr_schedule,
              early_stopping, callbacks, sample_weight, clip_per_sample, noise, progress,
              weights=check_sample_weight, each_rank=True, x_as_read=False) -> FitSettings:
    """fit's argument checks, done once, before anything changes.
    fastbp.distributed.fit runs the same checks with its own `weights` (the
    sample-weight check) and each_rank=False: validation data for early
    stopping on some rank is enough. x_as_read: X's finiteness is left to
    the first epoch of mini-batch training (fastbp.trainer.fit's Trainer),
    which checks each batch's rows as it reads them: a pass over X fewer,
    some 4% of a 3-epoch fit of Nielsen's 784-30-10. The caller then undoes
    the fit's set-up on FoundNotFinite (trainer.fit does, but the model's
    labels)."""
    X, Y = model.checked_data(X, Y, x_finite=False)
    sample_weight = weights(sample_weight, X.shape[0], "sample_weight")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    lr = check_positive_float(lr, "lr")
    seed = check_seed(seed)
    check_name(on_nonfinite, ("raise", "stop"), "on_nonfinite")
    opt = optim.get(optimizer, lr)
    x_checked = not x_as_read or isinstance(opt, optim.LBFGS)  # (L-BFGS reads X in blocks)
    if x_checked:
        check_finite(X, "X", get_num_threads())
    if model.batch_norm and (X.shape[0] if opt.full_batch else min(batch_size, X.shape[0])) == 1:
        # as torch: a batch of one has no variance to normalize by
        raise ValueError("batch_norm needs more than one sample per batch; got batches of 1")
    l2 = check_non_negative_float(l2, "l2")
    l1 = check_non_negative_float(l1, "l1")
    rates = dropout_rates(model, dropout)
    if max_norm is not None:
        max_norm = check_positive_float(max_norm, "max_norm")
    schedule = None if lr_schedule is None else schedules.get(lr_schedule, epochs)
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False; got {progress!r}")
    if early_stopping is not None:
        early_stopping = check_positive_int(early_stopping, "early_stopping")
        if validation_data is None and each_rank:
            raise ValueError("early_stopping needs validation_data")
    callbacks = tuple(callbacks or ())
    for f in callbacks:
        if not callable(f):
            raise TypeError(f"callbacks must be callables f(epoch, logs); got {f!r}")
    validation = _validation(model, validation_data, weights)
    clip, noise = _dp_sgd(model, clip_per_sample, noise, sample_weight)
    return FitSettings(X=X, Y=Y, epochs=epochs, batch_size=batch_size, shuffle=bool(shuffle),
                       seed=seed, verbose=bool(verbose), on_nonfinite=on_nonfinite,
                       optimizer=opt, l2=l2, l1=l1, dropout=rates, max_norm=max_norm or 0.0,
                       schedule=schedule, early_stopping=early_stopping, callbacks=callbacks,
                       validation=validation, sample_weight=sample_weight, clip=clip,
                       noise=noise, progress=bool(progress), x_checked=x_checked)


def _validation(model, validation_data, weights):
    """(X_val, Y_val, w_val or None), checked, or None."""
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise TypeError("validation_data must be (X_val, Y_val) or (X_val, Y_val, w_val)")
    validation = model.checked_data(validation_data[0], validation_data[1],
                             xname="validation_data[0]", yname="validation_data[1]")
    return validation + (weights(validation_data[2] if len(validation_data) == 3 else None,
                                 validation[0].shape[0], "validation_data[2]"),)


def _dp_sgd(model, clip_per_sample, noise, sample_weight):
    """DP-SGD's (clip, noise), 0.0 for off."""
    if clip_per_sample is not None:
        clip_per_sample = check_positive_float(clip_per_sample, "clip_per_sample")
        if model.batch_norm or sample_weight is not None:
            raise ValueError("clip_per_sample (DP-SGD) does not combine with "
                             + ("batch_norm" if model.batch_norm else "sample_weight"))
    noise = check_non_negative_float(noise, "noise")
    if noise and clip_per_sample is None:
        raise ValueError("noise needs clip_per_sample: DP-SGD's noise is noise·clip_per_sample")
    return clip_per_sample or 0.0, noise


def dropout_rates(model, dropout):
    """Drop rate of each layer's output (0 for the output layer), float64."""
    hidden = len(model.sizes) - 2
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


def one_epoch(model: Any, X, Y, optimizer, batch_size, l2=0.0, sample_weight=None, order=None,
              l2_per_weight=False, weight_sq=None, classes=None) -> FitSettings:
    """One epoch over (X, Y), batches of batch_size, with `optimizer` and
    `l2`: for data a front end has checked already (the scikit-learn
    estimators check theirs once per fit, not once per epoch). X, Y:
    C-contiguous, of the model's dtype; sample_weight: float64, largest 1;
    order: the rows' order (intp, a permutation of them; None: as they are);
    l2_per_weight: each batch's L2 term is l2 / (its weight); weight_sq:
    float64 (1,), receives + Σ‖W‖² before each update; classes: whether Y
    holds classes (None: found from Y)."""
    return FitSettings(X=X, Y=Y, epochs=1, batch_size=batch_size, shuffle=False, seed=None,
                       verbose=False, on_nonfinite="raise", optimizer=optimizer, l2=l2, l1=0.0,
                       dropout=np.zeros(len(model.sizes) - 1), max_norm=0.0, schedule=None,
                       early_stopping=None, callbacks=(), validation=None,
                       sample_weight=sample_weight, clip=0.0, noise=0.0, progress=False,
                       order=order, penalty_per_weight=l2_per_weight, weight_sq=weight_sq,
                       classes=classes)
