"""The base of fastbp's optimizers: hyper-parameter checks and state buffers."""
import functools
import numbers
from dataclasses import dataclass, field, fields
from typing import Dict, Optional

import numpy as np

from .._core import OPTIMIZER_CODES

# The codes of the update rules, read from the compiled core (csrc/optim.h).
CODES: Dict[str, int] = OPTIMIZER_CODES


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


# ------------------------------------------------------------ declaring fields
# An optimizer is a dataclass whose fields say, once each, the name, default
# and check of a setting. A hyper-parameter's field has the name of its field
# in csrc/optim.h's fastbp_hyper (a pair: the names of its two); fields with
# hyper=False are not passed to C.

def between(low=0.0, high=None, low_open=False, high_open=True):
    """The check of a real number in [low, high) (bounds as flagged).

    Parameters
    ----------
    low, high : float or None
        The bounds (None: no upper bound).
    low_open, high_open : bool
        Whether low and high themselves are excluded.
    """
    return lambda value, argname: _rate(value, argname, low, high, low_open, high_open)


def rate(default, hyper=True, **bounds):
    """A real-number field, checked by between(**bounds).

    Parameters
    ----------
    default : float
        The field's default.
    hyper : bool
        Passed to the C step as a hyper-parameter.
    bounds : keyword arguments of `between`
        low, high, low_open, high_open.
    """
    return field(default=default, metadata={"check": between(**bounds), "hyper": hyper})


def flag(default):
    """A True/False field (passed to C as 1.0/0.0).

    Parameters
    ----------
    default : bool
        The field's default.
    """
    return field(default=default, metadata={"check": lambda value, argname: bool(value),
                                            "hyper": True})


def pair(default, first, second, names):
    """A field of two numbers, checked by `first` and `second`, passed to C
    as the fields `names` of fastbp_hyper.

    Parameters
    ----------
    default : (float, float)
        The field's default.
    first, second : checks (value, argname) -> value
        The checks of its two numbers (`between(...)`).
    names : (str, str)
        The fields of fastbp_hyper the two numbers go to.
    """
    def check(value, argname):
        a, b = _pair(value, argname)
        return (first(a, f"{argname}[0]"), second(b, f"{argname}[1]"))
    return field(default=default, metadata={"check": check, "hyper": True, "names": names})


def setting(default, check, hyper=False):
    """A field checked by `check`; by default no hyper-parameter of the C step.

    Parameters
    ----------
    default : object
        The field's default.
    check : callable (value, argname) -> value
        Checks and converts a value.
    hyper : bool
        Passed to the C step as a hyper-parameter.
    """
    return field(default=default, metadata={"check": check, "hyper": hyper})


optimizer = dataclass(eq=False)  # an optimizer's class decorator: identity equality


class Optimizer:
    """Base class: hyper-parameters (the dataclass fields of a subclass),
    state buffers and the step count."""
    code: Optional[int] = None
    n_state = 0
    full_batch = False

    def __post_init__(self):
        for f in fields(self):  # type: ignore[arg-type]
            setattr(self, f.name, f.metadata["check"](getattr(self, f.name), f.name))
        self.state = None  # (n_state, n_params) array, made on first use
        self.steps = 0     # updates done so far
        self._check()

    def _check(self):
        """Rules between fields, after each field's own check."""

    def hyper(self):
        """The hyper-parameters csrc/optim.h reads, by their names there."""
        out = {}
        for name, names in _hyper_fields(type(self)):
            value = getattr(self, name)
            out.update(zip(names, value) if names else [(name, value)])
        return out

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
        return {"name": type(self).__name__, "lr": self.lr, "hyper": self.hyper(),
                "steps": self.steps, "state": self.state}

    def _config(self):
        """The settings by name, as the constructor takes them."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@functools.lru_cache(maxsize=None)
def _hyper_fields(cls):
    """(field, its names in optim.h or None) of the fields of an optimizer
    class that csrc/optim.h reads, once per class (dataclasses.fields takes
    some microseconds, a front end's fit of an epoch calls hyper() once)."""
    return tuple((f.name, f.metadata.get("names")) for f in fields(cls)
                 if f.metadata["hyper"] and f.name != "lr")
