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

from ._base import CODES, Optimizer, between, flag, optimizer, pair, rate, setting

UNIT = dict(high=1.0)  # a rate in [0, 1)


@optimizer
class SGD(Optimizer):
    """SGD with optional momentum (heavy ball or Nesterov) and weight decay:
    d = g + wd·p; buf = μ·buf + d; d = d + μ·buf (Nesterov) or buf; p −= lr·d.

    Parameters
    ----------
    lr : float
        Learning rate (> 0).
    momentum : float
        μ in [0, 1); 0: plain SGD.
    nesterov : bool
        Nesterov's momentum (needs momentum > 0).
    weight_decay : float
        wd ≥ 0, added to the gradient as wd·p (L2).
    """
    code = CODES["sgd"]
    lr: float = rate(0.1, low_open=True)
    momentum: float = rate(0.0, **UNIT)
    nesterov: bool = flag(False)
    weight_decay: float = rate(0.0)

    def _check(self):
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs a momentum > 0")
        self.n_state = 1 if self.momentum else 0


@optimizer
class Adam(Optimizer):
    """Adam (Kingma & Ba), with torch's bias correction and optional AMSGrad;
    weight decay added to the gradient (L2), as torch.optim.Adam does.
    With epsilon_hat=True, eps is the paper's ε̂ of its efficient form, added
    to √v before the bias correction (Keras, scikit-learn):
    p −= lr·√(1−β2ᵗ)/(1−β1ᵗ) · m/(√v + ε̂).

    Parameters
    ----------
    lr : float
        Learning rate (> 0).
    betas : (float, float)
        β1, β2 in [0, 1): decay rates of the first and second moments.
    eps : float
        ε > 0 added to √v̂ (or ε̂ to √v, epsilon_hat).
    weight_decay : float
        wd ≥ 0 added to the gradient as wd·p (L2; AdamW: decoupled).
    amsgrad : bool
        AMSGrad: divide by the running maximum of v.
    epsilon_hat : bool
        eps is ε̂, added before the bias correction (Keras, scikit-learn).
    """
    code = CODES["adam"]
    decoupled = False
    lr: float = rate(1e-3, low_open=True)
    betas: tuple = pair((0.9, 0.999), between(**UNIT), between(**UNIT), ("beta1", "beta2"))
    eps: float = rate(1e-8, low_open=True)
    weight_decay: float = rate(0.0)
    amsgrad: bool = flag(False)
    epsilon_hat: bool = flag(False)

    def _check(self):
        self.n_state = 3 if self.amsgrad else 2

    def hyper(self):
        return {**super().hyper(), "decoupled": self.decoupled}


@optimizer
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p ← p·(1 − lr·wd)
    before the Adam step, as torch.optim.AdamW.

    Parameters
    ----------
    lr, betas, eps, amsgrad, epsilon_hat : as in `Adam`.
    weight_decay : float
        wd ≥ 0 (default 1e-2): p ← p·(1 − lr·wd) before each step.
    """
    decoupled = True
    weight_decay: float = rate(1e-2)


@optimizer
class RMSprop(Optimizer):
    """RMSprop (Hinton), optionally centered and with momentum, as torch.

    Parameters
    ----------
    lr : float
        Learning rate (> 0).
    alpha : float
        Decay rate in [0, 1) of the mean square of the gradient.
    eps : float
        ε > 0 added to the root mean square.
    weight_decay : float
        wd ≥ 0 added to the gradient as wd·p (L2).
    momentum : float
        Momentum in [0, 1) of the scaled step.
    centered : bool
        Divide by the variance estimate (mean square minus squared mean).
    """
    code = CODES["rmsprop"]
    n_state = 3
    lr: float = rate(1e-2, low_open=True)
    alpha: float = rate(0.99, **UNIT)
    eps: float = rate(1e-8, low_open=True)
    weight_decay: float = rate(0.0)
    momentum: float = rate(0.0, **UNIT)
    centered: bool = flag(False)


@optimizer
class Adagrad(Optimizer):
    """Adagrad (Duchi et al.) with torch's lr_decay and initial accumulator.

    Parameters
    ----------
    lr : float
        Learning rate (> 0).
    lr_decay : float
        The rate at step t is lr / (1 + (t − 1)·lr_decay).
    weight_decay : float
        wd ≥ 0 added to the gradient as wd·p (L2).
    initial_accumulator_value : float
        Start of the sum of squared gradients.
    eps : float
        ε > 0 added to its square root.
    """
    code = CODES["adagrad"]
    n_state = 1
    lr: float = rate(1e-2, low_open=True)
    lr_decay: float = rate(0.0)
    weight_decay: float = rate(0.0)
    initial_accumulator_value: float = rate(0.0, hyper=False)
    eps: float = rate(1e-10, low_open=True)

    def _initial_state(self, params):
        return np.full((1, params.size), self.initial_accumulator_value, dtype=params.dtype)


@optimizer
class Rprop(Optimizer):
    """Resilient backpropagation (Riedmiller & Braun; torch's variant, Rprop−):
    each weight's step grows by etas[1] while its gradient keeps its sign and
    shrinks by etas[0] when it flips, within step_sizes. Full batch: fit
    uses all samples per update, as FANN does.

    Parameters
    ----------
    lr : float
        The initial step size of every weight.
    etas : (float, float)
        η−, η+: factors (0 < η− < 1 < η+) that shrink or grow a step when the
        gradient's sign changes or stays.
    step_sizes : (float, float)
        The smallest and largest step size.
    """
    code = CODES["rprop"]
    n_state = 2
    full_batch = True
    lr: float = rate(0.01, low_open=True)
    etas: tuple = pair((0.5, 1.2), between(high=1.0, low_open=True), between(1.0, low_open=True),
                       ("eta_minus", "eta_plus"))
    step_sizes: tuple = pair((1e-6, 50), between(), between(low_open=True),
                             ("step_min", "step_max"))

    def _check(self):
        if self.step_sizes[0] > self.step_sizes[1]:
            raise ValueError(f"step_sizes must be (min, max) with min <= max; "
                             f"got {self.step_sizes}")

    def _initial_state(self, params):
        state = np.zeros((self.n_state, params.size), dtype=params.dtype)
        state[1] = self.lr  # every step size starts at lr
        return state


@optimizer
class IRpropMinus(Rprop):
    """iRprop− (Igel & Hüsken, 2000): after a sign change the step shrinks
    and the weight does not move. The same rule as `Rprop` (torch's Rprop is
    iRprop−), under its own name.

    Parameters
    ----------
    lr, etas, step_sizes : as in `Rprop`.
    """


@optimizer
class IRpropPlus(Rprop):
    """iRprop+ (Igel & Hüsken, 2000): iRprop− plus weight backtracking: when
    a weight's gradient changes sign and the full-batch objective (cost plus
    fit's L1/L2 penalty) went up since the last update, that weight's last
    change is undone. Full batch.

    Parameters
    ----------
    lr, etas, step_sizes : as in `Rprop`.
    """
    code = CODES["irprop_plus"]
    n_state = 3

    def _check(self):
        super()._check()
        self._loss_memory = np.array([np.inf])  # the last update's cost

    def _initial_state(self, params):
        self._loss_memory[0] = np.inf
        return super()._initial_state(params)


def _decay(value, argname):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
            or not np.isfinite(value) or value > 0:
        raise ValueError(f"decay must be a finite number <= 0 (FANN's sign); got {value!r}")
    return float(value)


@optimizer
class Quickprop(Optimizer):
    """Quickprop (Fahlman, 1988), as FANN implements it, with FANN's
    defaults: lr (FANN's learning_rate) 0.7, mu 1.75, decay −1e-4. Each
    weight jumps toward the minimum of a parabola through its last two
    slopes, at most mu times its last step. FANN adds decay·w to the summed
    slope over the data; the same is done here (decay/n on the mean), so the
    steps equal FANN's. Full batch.

    Parameters
    ----------
    lr : float
        FANN's learning_rate (> 0): the plain gradient step's rate.
    mu : float
        The most a step may grow over the last one (> 0).
    decay : float
        ≤ 0, FANN's sign: decay·w added to the summed slope.
    """
    code = CODES["quickprop"]
    n_state = 2
    full_batch = True
    lr: float = rate(0.7, low_open=True)
    mu: float = rate(1.75, low_open=True)
    decay: float = setting(-1e-4, _decay, hyper=True)

    def _hyper_for(self, n_samples):
        return {**self.hyper(), "decay": self.decay / n_samples}


from .lbfgs import LBFGS  # noqa: E402

OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop,
              "adagrad": Adagrad, "rprop": Rprop, "irprop-": IRpropMinus,
              "irprop+": IRpropPlus, "quickprop": Quickprop, "lbfgs": LBFGS}


def get(optimizer, lr):
    """An Optimizer from a name (with fit's lr) or an Optimizer object (its own lr).

    Parameters
    ----------
    optimizer : str or Optimizer
        A name of OPTIMIZERS ('sgd', 'adam', ...) or an Optimizer (returned as is).
    lr : float
        The learning rate of a named optimizer (L-BFGS has none).
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        check_name(optimizer, tuple(OPTIMIZERS), "optimizer")
        cls = OPTIMIZERS[optimizer]
        return cls() if cls is LBFGS else cls(lr=lr)  # L-BFGS has no learning rate
    raise TypeError(f"optimizer must be a name {list(OPTIMIZERS)} or a fastbp.optim.Optimizer; "
                    f"got {type(optimizer).__name__}")


from . import schedules  # noqa: E402  (the submodule fastbp.optim.schedules)
