"""Optimizers for Network.fit, with the update rules of torch.optim.

Each optimizer holds its hyper-parameters and, once used, its state buffers
in the layout of `net.params` (one row per buffer), so a second `fit` with
the same object continues where the first stopped, and `net.save(path,
include_optimizer=True)` can store it. The update itself runs in the
compiled epoch loop (csrc/optim.c), for each thread's own rows.

    net.fit(X, y, optimizer=fastbp.optim.Adam(lr=1e-3))
    net.fit(X, y, optimizer="adam", lr=1e-3)     # a fresh Adam per fit call
"""
import numbers

import numpy as np

from .._validation import check_name

from ._base import (ADAGRAD_CODE, ADAM_CODE, IRPROP_PLUS_CODE, QUICKPROP_CODE, RMSPROP_CODE,
                    RPROP_CODE, SGD_CODE, Optimizer, _pair, _rate)


class SGD(Optimizer):
    """SGD with optional momentum (heavy ball or Nesterov) and weight decay:
    d = g + wd·p; buf = μ·buf + d; d = d + μ·buf (Nesterov) or buf; p −= lr·d."""
    code = SGD_CODE

    def __init__(self, lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr)
        self.momentum = _rate(momentum, "momentum", 0.0, 1.0)
        self.nesterov = bool(nesterov)
        self.weight_decay = _rate(weight_decay, "weight_decay")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs a momentum > 0")
        self.n_state = 1 if self.momentum else 0

    def hyper(self):
        return (self.momentum, float(self.nesterov), self.weight_decay)

    def _config(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam (Kingma & Ba), with torch's bias correction and optional AMSGrad;
    weight decay added to the gradient (L2), as torch.optim.Adam does.
    With epsilon_hat=True, eps is the paper's ε̂ of its efficient form, added
    to √v before the bias correction (Keras, scikit-learn):
    p −= lr·√(1−β2ᵗ)/(1−β1ᵗ) · m/(√v + ε̂)."""
    code = ADAM_CODE
    decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 epsilon_hat=False):
        super().__init__(lr)
        b1, b2 = _pair(betas, "betas")
        self.betas = (_rate(b1, "betas[0]", 0.0, 1.0), _rate(b2, "betas[1]", 0.0, 1.0))
        self.eps = _rate(eps, "eps", low_open=True)
        self.weight_decay = _rate(weight_decay, "weight_decay")
        self.amsgrad = bool(amsgrad)
        self.epsilon_hat = bool(epsilon_hat)
        self.n_state = 3 if self.amsgrad else 2

    def hyper(self):
        return (*self.betas, self.eps, self.weight_decay, float(self.amsgrad),
                float(self.decoupled), float(self.epsilon_hat))

    def _config(self):
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps,
                "weight_decay": self.weight_decay, "amsgrad": self.amsgrad,
                "epsilon_hat": self.epsilon_hat}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p ← p·(1 − lr·wd)
    before the Adam step, as torch.optim.AdamW."""
    decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 epsilon_hat=False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad, epsilon_hat)


class RMSprop(Optimizer):
    """RMSprop (Hinton), optionally centered and with momentum, as torch."""
    code = RMSPROP_CODE

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        super().__init__(lr)
        self.alpha = _rate(alpha, "alpha", 0.0, 1.0)
        self.eps = _rate(eps, "eps", low_open=True)
        self.weight_decay = _rate(weight_decay, "weight_decay")
        self.momentum = _rate(momentum, "momentum", 0.0, 1.0)
        self.centered = bool(centered)
        self.n_state = 3

    def hyper(self):
        return (self.alpha, self.eps, self.weight_decay, self.momentum, float(self.centered))

    def _config(self):
        return {"lr": self.lr, "alpha": self.alpha, "eps": self.eps,
                "weight_decay": self.weight_decay, "momentum": self.momentum,
                "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.) with torch's lr_decay and initial accumulator."""
    code = ADAGRAD_CODE
    n_state = 1

    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10):
        super().__init__(lr)
        self.lr_decay = _rate(lr_decay, "lr_decay")
        self.weight_decay = _rate(weight_decay, "weight_decay")
        self.initial_accumulator_value = _rate(initial_accumulator_value,
                                               "initial_accumulator_value")
        self.eps = _rate(eps, "eps", low_open=True)

    def hyper(self):
        return (self.lr_decay, self.weight_decay, self.eps)

    def _initial_state(self, params):
        return np.full((1, params.size), self.initial_accumulator_value, dtype=params.dtype)

    def _config(self):
        return {"lr": self.lr, "lr_decay": self.lr_decay, "weight_decay": self.weight_decay,
                "initial_accumulator_value": self.initial_accumulator_value, "eps": self.eps}


class Rprop(Optimizer):
    """Resilient backpropagation (Riedmiller & Braun; torch's variant, Rprop−):
    each weight's step grows by etas[1] while its gradient keeps its sign and
    shrinks by etas[0] when it flips, within step_sizes. Full batch: fit
    uses all samples per update, as FANN does."""
    code = RPROP_CODE
    n_state = 2
    full_batch = True

    def __init__(self, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50)):
        super().__init__(lr)
        minus, plus = _pair(etas, "etas")
        self.etas = (_rate(minus, "etas[0]", 0.0, 1.0, low_open=True),
                     _rate(plus, "etas[1]", 1.0, low_open=True))
        lo, hi = _pair(step_sizes, "step_sizes")
        self.step_sizes = (_rate(lo, "step_sizes[0]"), _rate(hi, "step_sizes[1]", low_open=True))
        if self.step_sizes[0] > self.step_sizes[1]:
            raise ValueError(f"step_sizes must be (min, max) with min <= max; got {step_sizes}")

    def hyper(self):
        return (*self.etas, *self.step_sizes)

    def _initial_state(self, params):
        state = np.zeros((2, params.size), dtype=params.dtype)
        state[1] = self.lr  # every step size starts at lr
        return state

    def _config(self):
        return {"lr": self.lr, "etas": self.etas, "step_sizes": self.step_sizes}


class IRpropMinus(Rprop):
    """iRprop− (Igel & Hüsken, 2000): after a sign change the step shrinks
    and the weight does not move. The same rule as `Rprop` (torch's Rprop is
    iRprop−), under its own name."""


class IRpropPlus(Rprop):
    """iRprop+ (Igel & Hüsken, 2000): iRprop− plus weight backtracking: when
    a weight's gradient changes sign and the full-batch objective (cost plus
    fit's L1/L2 penalty) went up since the last update, that weight's last
    change is undone. Full batch."""
    code = IRPROP_PLUS_CODE
    n_state = 3

    def __init__(self, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50)):
        super().__init__(lr, etas, step_sizes)
        self._loss_memory = np.array([np.inf])  # the last update's cost

    def _initial_state(self, params):
        state = np.zeros((3, params.size), dtype=params.dtype)
        state[1] = self.lr
        self._loss_memory[0] = np.inf
        return state


class Quickprop(Optimizer):
    """Quickprop (Fahlman, 1988), as FANN implements it, with FANN's
    defaults: lr (FANN's learning_rate) 0.7, mu 1.75, decay −1e-4. Each
    weight jumps toward the minimum of a parabola through its last two
    slopes, at most mu times its last step. FANN adds decay·w to the summed
    slope over the data; the same is done here (decay/n on the mean), so the
    steps equal FANN's. Full batch."""
    code = QUICKPROP_CODE
    n_state = 2
    full_batch = True

    def __init__(self, lr=0.7, mu=1.75, decay=-1e-4):
        super().__init__(lr)
        self.mu = _rate(mu, "mu", low_open=True)
        if isinstance(decay, (bool, np.bool_)) or not isinstance(decay, numbers.Real) \
                or not np.isfinite(decay) or decay > 0:
            raise ValueError(f"decay must be a finite number <= 0 (FANN's sign); got {decay!r}")
        self.decay = float(decay)

    def hyper(self):
        return (self.mu, self.decay)

    def _hyper_for(self, n_samples):
        return (self.mu, self.decay / n_samples)

    def _config(self):
        return {"lr": self.lr, "mu": self.mu, "decay": self.decay}


from .lbfgs import LBFGS  # noqa: E402

OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop,
              "adagrad": Adagrad, "rprop": Rprop, "irprop-": IRpropMinus,
              "irprop+": IRpropPlus, "quickprop": Quickprop, "lbfgs": LBFGS}


def get(optimizer, lr):
    """An Optimizer from a name (with fit's lr) or an Optimizer object (its own lr)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        check_name(optimizer, tuple(OPTIMIZERS), "optimizer")
        cls = OPTIMIZERS[optimizer]
        return cls() if cls is LBFGS else cls(lr=lr)  # L-BFGS has no learning rate
    raise TypeError(f"optimizer must be a name {list(OPTIMIZERS)} or a fastbp.optim.Optimizer; "
                    f"got {type(optimizer).__name__}")


from . import schedules  # noqa: E402  (the submodule fastbp.optim.schedules)
