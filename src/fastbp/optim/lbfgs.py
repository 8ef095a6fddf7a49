"""L-BFGS over the flat parameter vector, with SciPy's L-BFGS-B: its settings.

scikit-learn's default solver for small data sets. Each evaluation of the
objective is one compiled full-batch pass (loss and gradient together, in
blocks of rows, weighted if fit has sample weights); SciPy's Fortran keeps
the curvature pairs. `Network.fit(X, Y, optimizer=LBFGS(), epochs=N)` runs
at most N iterations, each logged in the History like an epoch; the loop
is fastbp.trainer.fit_lbfgs.
"""
from .._validation import check_positive_int
from ._base import Optimizer, _rate


class LBFGS(Optimizer):
    """Limited-memory BFGS (scipy.optimize.minimize, method 'L-BFGS-B').

    Parameters
    ----------
    tol : float
        Stop when the largest gradient component is below tol (SciPy's gtol).
    ftol : float
        Stop when the relative decrease of the objective is below ftol.
    max_fun : int
        At most this many evaluations of loss and gradient (scikit-learn's
        max_fun); the iterations are capped by fit's `epochs`.
    history_size : int
        Curvature pairs kept (SciPy's maxcor).

    After fit, `result` holds SciPy's OptimizeResult (nit, nfev, message).
    The objective is fit's: the (weighted) mean cost plus λ2/2·Σ‖W‖². L-BFGS
    keeps no state between fits: a second fit starts a new curvature memory.
    """
    full_batch = True

    def __init__(self, tol=1e-5, ftol=2.220446049250313e-09, max_fun=15000, history_size=10):
        super().__init__(1.0)  # no learning rate: the line search picks each step
        self.tol = _rate(tol, "tol")  # 0: stop on ftol, max_fun or the iterations only
        self.ftol = _rate(ftol, "ftol", low_open=True)
        self.max_fun = check_positive_int(max_fun, "max_fun")
        self.history_size = check_positive_int(history_size, "history_size")
        self.result = None

    def hyper(self):
        return ()

    def _config(self):
        return {"tol": self.tol, "ftol": self.ftol, "max_fun": self.max_fun,
                "history_size": self.history_size}
