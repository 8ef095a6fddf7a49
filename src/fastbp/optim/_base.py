"""The base of fastbp's optimizers: hyper-parameter checks and state buffers."""
import numbers
from typing import Optional

import numpy as np

# Codes of csrc/optim.h.
SGD_CODE, ADAM_CODE, RMSPROP_CODE, ADAGRAD_CODE, RPROP_CODE, IRPROP_PLUS_CODE, QUICKPROP_CODE \
    = range(7)


def _rate(value, argname, low=0.0, high=None, low_open=False, high_open=True):
    """A real number in [low, high) (bounds as flagged), named in errors."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argname} must be a number; got {value!r}")
    value = float(value)
    ok = np.isfinite(value) and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = "" if high is None else (f"{high})" if high_open else f"{high}]")
        raise ValueError(f"{argname} must be in {lo}{low}, {hi or 'inf)'}; got {value}")
    return value


def _pair(value, argname):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{argname} must be a pair of numbers; got {value!r}")
    return value


class Optimizer:
    """Base class: hyper-parameters, state buffers and the step count."""
    code: Optional[int] = None
    n_state = 0
    full_batch = False

    def __init__(self, lr):
        self.lr = _rate(lr, "lr", low_open=True)
        self.state = None  # (n_state, n_params) array, made on first use
        self.steps = 0     # updates done so far

    def hyper(self):
        """Hyper-parameters in the order csrc/optim.h reads them."""
        raise NotImplementedError

    def _hyper_for(self, n_samples):
        """hyper() for a full batch of n_samples (Quickprop scales its decay)."""
        return self.hyper()

    def _initial_state(self, params):
        return np.zeros((self.n_state, params.size), dtype=params.dtype)

    def _bind(self, params):
        """State buffers for this parameter vector (fresh if it changed)."""
        if self.state is None or self.state.shape[1:] != params.shape or self.state.dtype != params.dtype:
            self.state = self._initial_state(params)
            self.steps = 0
        return self.state

    def state_dict(self):
        """Everything needed to resume: the kind, hyper-parameters, state."""
        return {"name": type(self).__name__, "lr": self.lr, "hyper": list(self.hyper()),
                "steps": self.steps, "state": self.state}

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        return f"{type(self).__name__}({fields})"

    def _config(self):
        return {"lr": self.lr}
