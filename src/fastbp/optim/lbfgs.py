"""L-BFGS over the flat parameter vector, with SciPy's L-BFGS-B: its settings.

scikit-learn's default solver for small data sets. Each evaluation of the
objective is one compiled full-batch pass (loss and gradient together, in
blocks of rows, weighted if fit has sample weights); SciPy's Fortran keeps
the curvature pairs. `Network.fit(X, Y, optimizer=LBFGS(), epochs=N)` runs
at most N iterations, each logged in the History like an epoch; the loop
is fastbp.trainer.fit_lbfgs.
"""
from .._validation import check_positive_int
from ._base import Optimizer, between, optimizer, setting


@optimizer
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
    tol: float = setting(1e-5, between())  # 0: stop on ftol, max_fun or the iterations only
    ftol: float = setting(2.220446049250313e-09, between(low_open=True))
    max_fun: int = setting(15000, check_positive_int)
    history_size: int = setting(10, check_positive_int)

    def _check(self):
        self.lr = 1.0  # no learning rate: the line search picks each step
        self.result = None

    def hyper(self):
        return ()
