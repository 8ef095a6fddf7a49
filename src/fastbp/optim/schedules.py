"""Learning-rate schedules for Network.fit(lr_schedule=...).

A schedule gives the rate of each epoch from the optimizer's base rate, as
torch.optim.lr_scheduler does; any callable `epoch -> lr` works too (epochs
count from 0). ReduceLROnPlateau also watches the epoch logs.

    net.fit(X, y, lr=0.5, lr_schedule=StepLR(step_size=10, gamma=0.5))
    net.fit(X, y, lr_schedule=lambda epoch: 0.5 / (1 + epoch))
"""
import math
import numbers

from .._validation import (check_name, check_non_negative_float, check_positive_float,
                           check_positive_int)


class Schedule:
    """Base: lr_at(epoch, base_lr) -> the rate of that epoch."""

    def lr_at(self, epoch, base_lr):
        """The learning rate of an epoch.

        Parameters
        ----------
        epoch : int
            The epoch, from 0.
        base_lr : float
            fit's lr (or the Optimizer's).
        """
        raise NotImplementedError

    def observe(self, logs):
        """Called with each finished epoch's logs (only plateau uses them).

        Parameters
        ----------
        logs : dict
            The epoch's logs ('loss', 'val_loss', ...), as callbacks get them.
        """


class StepLR(Schedule):
    """base · gamma^(epoch // step_size).

    Parameters
    ----------
    step_size : int
        Epochs between two reductions.
    gamma : float
        The factor of each reduction.
    """

    def __init__(self, step_size=10, gamma=0.1):
        self.step_size = check_positive_int(step_size, "step_size")
        self.gamma = check_positive_float(gamma, "gamma")

    def lr_at(self, epoch, base_lr):
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(Schedule):
    """base · gamma^epoch.

    Parameters
    ----------
    gamma : float
        The factor per epoch.
    """

    def __init__(self, gamma=0.95):
        self.gamma = check_positive_float(gamma, "gamma")

    def lr_at(self, epoch, base_lr):
        return base_lr * self.gamma ** epoch


class CosineAnnealingLR(Schedule):
    """eta_min + (base − eta_min)·(1 + cos(π·epoch/T_max))/2, then eta_min.

    Parameters
    ----------
    T_max : int
        Epochs of the half cosine.
    eta_min : float
        The rate at its end, and after it.
    """

    def __init__(self, T_max, eta_min=0.0):
        self.T_max = check_positive_int(T_max, "T_max")
        self.eta_min = check_non_negative_float(eta_min, "eta_min")

    def lr_at(self, epoch, base_lr):
        e = min(epoch, self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * e / self.T_max)) / 2


class ReduceLROnPlateau(Schedule):
    """Multiply the rate by `factor` when `monitor` ('val_loss' if present,
    else 'loss') has not improved by more than `threshold` (relative) for
    `patience` epochs; never below min_lr.

    Parameters
    ----------
    factor : float
        In (0, 1): the rate's factor at each reduction.
    patience : int
        Epochs without improvement before a reduction.
    threshold : float
        The relative improvement that counts.
    min_lr : float
        The lowest rate.
    monitor : str or None
        The log watched; None: 'val_loss' if present, else 'loss'.
    """

    def __init__(self, factor=0.1, patience=10, threshold=1e-4, min_lr=0.0, monitor=None):
        self.factor = check_positive_float(factor, "factor")
        if self.factor >= 1:
            raise ValueError(f"factor must be < 1; got {factor}")
        self.patience = check_positive_int(patience, "patience")
        self.threshold = check_non_negative_float(threshold, "threshold")
        self.min_lr = check_non_negative_float(min_lr, "min_lr")
        self.monitor = monitor
        self.scale = 1.0
        self.best = math.inf
        self.bad_epochs = 0

    def lr_at(self, epoch, base_lr):
        return max(base_lr * self.scale, self.min_lr)

    def observe(self, logs):
        value = logs.get(self.monitor or ("val_loss" if "val_loss" in logs else "loss"))
        if value is None:
            return
        if value < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.patience:
                self.scale *= self.factor
                self.bad_epochs = 0


NAMES = {"step": StepLR, "exponential": ExponentialLR, "cosine": CosineAnnealingLR,
         "plateau": ReduceLROnPlateau}


def get(schedule, epochs):
    """A Schedule from a name (default settings; cosine over `epochs`), a
    Schedule, or a callable epoch -> lr (wrapped).

    Parameters
    ----------
    schedule : str, Schedule or callable
        'step', 'exponential', 'cosine', 'plateau', a Schedule, or f(epoch) -> lr.
    epochs : int
        fit's epochs (the cosine's T_max).
    """
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str):
        check_name(schedule, tuple(NAMES), "lr_schedule")
        return CosineAnnealingLR(epochs) if schedule == "cosine" else NAMES[schedule]()
    if callable(schedule):
        return _Callable(schedule)
    raise TypeError(f"lr_schedule must be a name {list(NAMES)}, a Schedule or a callable "
                    f"epoch -> lr; got {type(schedule).__name__}")


class _Callable(Schedule):
    def __init__(self, fn):
        self.fn = fn

    def lr_at(self, epoch, base_lr):
        lr = self.fn(epoch)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr_schedule returned {lr!r} for epoch {epoch}; "
                             f"it must return a positive number")
        return float(lr)
