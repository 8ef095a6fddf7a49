"""L-BFGS over the flat parameter vector, with SciPy's L-BFGS-B.

scikit-learn's default solver for small data sets. Each evaluation of the
objective is one compiled full-batch pass (loss and gradient together, in
blocks of rows, weighted if fit has sample weights); SciPy's Fortran keeps
the curvature pairs. `Network.fit(X, Y, optimizer=LBFGS(), epochs=N)` runs
at most N iterations, each logged in the History like an epoch.
"""
import time
import warnings

import numpy as np

from . import Optimizer, _rate

# Rows per compiled gradient call: bounds the work buffers, not the result.
BLOCK = 4096


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
        self.max_fun = _positive_int(max_fun, "max_fun")
        self.history_size = _positive_int(history_size, "history_size")
        self.result = None

    def hyper(self):
        return ()

    def _config(self):
        return {"tol": self.tol, "ftol": self.ftol, "max_fun": self.max_fun,
                "history_size": self.history_size}


def _positive_int(value, argname):
    from .._validation import check_positive_int
    return check_positive_int(value, argname)


def objective(net, X, Y, sample_weight, l2):
    """f(p) -> (loss, gradient) in float64 for SciPy: the (weighted) mean
    cost over all rows of (X, Y), in blocks, plus λ2/2·Σ‖W‖²."""
    n = X.shape[0]
    w_all = np.ones(n) if sample_weight is None else sample_weight
    total_weight = w_all.sum()
    blocks = [slice(a, min(a + BLOCK, n)) for a in range(0, n, BLOCK)]
    weight_mask = np.zeros(net.params.size, dtype=bool)
    for W in net.unflatten(np.arange(net.params.size))[0]:
        weight_mask[W.ravel()] = True

    def f(p):
        net.params[...] = p
        grad = np.zeros(net.params.size)
        loss = 0.0
        for rows in blocks:
            block_weight = w_all[rows].sum()
            if block_weight == 0:
                continue
            sw = None if sample_weight is None else sample_weight[rows]
            mean, g = net._flat_gradients(X[rows], Y[rows], sw)
            share = block_weight / total_weight
            loss += share * mean
            grad += share * g
        if l2:
            loss += l2 / 2 * float(np.sum(p[weight_mask] ** 2))
            grad[weight_mask] += l2 * p[weight_mask]
        return loss, grad

    return f


def fit(net, opt, X, Y, epochs, validation, verbose, on_nonfinite, config, history):
    """Network.fit's loop for LBFGS: one History entry per iteration."""
    from scipy.optimize import minimize

    names = {"schedule": "lr_schedule", "clip": "clip_per_sample"}
    for key, off in (("l1", 0.0), ("max_norm", 0.0), ("schedule", None), ("clip", 0.0)):
        if config[key] != off:
            name = names.get(key, key)
            raise ValueError(f"{name} is not supported by the LBFGS optimizer")
    if config["dropout"].any():
        raise ValueError("dropout is not supported by the LBFGS optimizer")
    if net.batch_norm:
        raise NotImplementedError("LBFGS does not train batch-norm networks yet")
    opt._bind(net.params)
    net._optimizer = opt
    net._penalty = (config["l2"], config["l1"])
    sample_weight = config["sample_weight"]
    f = objective(net, X, Y, sample_weight, config["l2"])
    start = [time.perf_counter()]
    best = [np.inf, None, -1]
    last_finite = net.params.astype(np.float64)

    def on_iteration(intermediate_result):
        p = intermediate_result.x
        net.params[...] = p
        epoch = len(history)
        cost, correct = net._per_sample(X, Y)
        logs = {"loss": float(np.average(cost, weights=sample_weight)),
                "accuracy": float(np.average(correct, weights=sample_weight))}
        if not np.isfinite(logs["loss"]):
            raise StopIteration
        last_finite[...] = p
        if validation is not None:
            vcost, vcorrect = net._per_sample(*validation[:2])
            logs["val_loss"] = float(np.average(vcost, weights=validation[2]))
            logs["val_accuracy"] = float(np.average(vcorrect, weights=validation[2]))
        logs["seconds"] = time.perf_counter() - start[0]
        start[0] = time.perf_counter()
        history._append(epoch, logs)
        config["bar"].update()
        config["bar"].set_postfix(loss=f"{logs['loss']:.4f}", acc=f"{logs['accuracy']:.3f}")
        if verbose:
            config["bar"].write(f"iteration {epoch + 1}: "
                                + "  ".join(f"{k} {v:.4f}" for k, v in logs.items()))
        if config["early_stopping"] is not None:
            if logs["val_loss"] < best[0]:
                best[:] = [logs["val_loss"], p.copy(), epoch]
            elif epoch - best[2] >= config["early_stopping"]:
                raise StopIteration
        if any(cb(epoch, logs) is False for cb in config["callbacks"]):
            raise StopIteration

    try:
        with warnings.catch_warnings():
            # the line search probes steps where exp overflows; those are rejected
            warnings.simplefilter("ignore", RuntimeWarning)
            opt.result = minimize(f, net.params.astype(np.float64), jac=True,
                                  method="L-BFGS-B", callback=on_iteration,
                                  options={"maxiter": epochs, "maxfun": opt.max_fun,
                                           "gtol": opt.tol, "ftol": opt.ftol,
                                           "maxcor": opt.history_size})
    except BaseException:
        # Ctrl-C or an error mid line search: the last accepted iterate, not
        # the trial point being evaluated; each accepted one was logged
        net.params[...] = last_finite
        opt.steps += len(history)
        raise
    opt.steps += int(opt.result.nit)
    x = opt.result.x
    if not np.isfinite(x).all() or not np.isfinite(f(x)[0]):
        net.params[...] = last_finite
        from ..network import _diverged
        failure = _diverged(f"fit: the cost became NaN or inf in L-BFGS iteration "
                            f"{len(history) + 1}; the parameters were restored to the last "
                            f"finite iterate", on_nonfinite, history)
        if failure is not None:
            raise failure
        return history
    net.params[...] = x
    if config["early_stopping"] is not None and best[1] is not None:
        net.params[...] = best[1]
    return history
