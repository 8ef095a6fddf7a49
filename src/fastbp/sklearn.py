"""scikit-learn estimators on fastbp: MLPClassifier and MLPRegressor.

The parameters, fitted attributes, stopping rule, warnings and errors of
sklearn.neural_network's MLPs, with the arithmetic done by fastbp.Network.
sklearn's training loop is kept here in Python, one compiled call per epoch:
the same Glorot initialisation, shuffles, train/validation split and
batches, drawn from the same random_state in the same order. With
solver='sgd' the result is sklearn's to rounding (tests/test_sklearn.py).

    from fastbp.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(30,), random_state=0).fit(X, y)

How sklearn's arithmetic maps onto fastbp's:

- alpha: sklearn adds α/(2·Σw_b)·Σ‖W‖² to batch b's mean loss (Σw_b = its
  rows without sample weights), so batch b trains with fit's l2 = α/Σw_b.
  A short last batch is its own compiled call when α > 0; with sample
  weights so is every batch (its own l2, and its own weighted mean in
  loss_, as sklearn averages them).
- learning_rate ('invscaling', 'adaptive') changes the rate between epochs.
  fastbp's SGD keeps torch's momentum buffer (gradients), sklearn a velocity
  (steps); the buffer is rescaled by old/new rate whenever the rate
  changes, which makes the two the same sequence of updates.
- Adam adds ε to √v before the bias correction, as sklearn does
  (fastbp.optim.Adam(epsilon_hat=True)).
- MLPRegressor trains on fastbp's 'quadratic' cost, ½‖y − p‖² summed over
  the outputs: the objective whose gradient sklearn's solvers follow.
  loss_ reports sklearn's number, ½·mean over samples and outputs plus the
  penalty: the cost divided by n_outputs_. (sklearn's lbfgs pairs that loss
  with the summed gradient; here L-BFGS sees the summed cost and its
  gradient, which agree. One output: all the same.)
- The cross-entropies are computed from the output pre-activations, sklearn
  clips probabilities at machine epsilon: loss_ differs on saturated outputs
  only, the gradients not at all.
- loss_ of an epoch of several batches: the data part is exact (each batch
  measured before its update), the penalty uses ‖W‖² interpolated linearly
  between the ends of each compiled call (exact with one batch per call).
- solver='rprop' (fastbp.optim.Rprop, full batch, learning_rate_init as the
  initial step) is an addition, stochastic-solver-like: loss_curve_,
  partial_fit and the tol/n_iter_no_change rule apply to it.
"""
from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Sequence

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils.class_weight import compute_sample_weight
    from sklearn.utils._param_validation import Interval, Options, StrOptions
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import (_check_partial_fit_first_call,
                                          check_classification_targets, type_of_target,
                                          unique_labels)
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as e:  # validate_data and __sklearn_tags__ are sklearn >= 1.6
    raise ImportError("fastbp.sklearn needs scikit-learn >= 1.6: "
                      "pip install 'fastbp[sklearn]'") from e

from . import _core, optim, trainer
from ._settings import one_epoch
from ._threads import get_num_threads, set_num_threads
from .network import Network

__all__ = ["MLPClassifier", "MLPRegressor"]

# sklearn's activation names -> fastbp's
_ACTIVATION = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
_ITERATIVE = ("sgd", "adam", "rprop")  # one epoch at a time: partial_fit, loss_curve_
_DTYPES = {"float32": np.float32, "float64": np.float64}


@contextlib.contextmanager
def _num_threads(n):
    """fastbp's thread count set to n (None: left as it is) for a block.
    The count is process-wide: estimators fitted concurrently in threads of
    one process with different n_threads share it."""
    old = get_num_threads()
    if n is None or n == old:
        yield
        return
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(old)


def _params(names):
    """An estimator's __init__ arguments, from its locals()."""
    return {k: v for k, v in names.items() if k not in ("self", "__class__")}


def _sq_norm(weights):
    """Σ‖W‖² over layers, in float64."""
    return sum(float(np.dot(W.ravel(), W.ravel())) for W in weights)


class _BaseMLP(BaseEstimator):
    """sklearn's BaseMultilayerPerceptron on a fastbp.Network (not for direct use)."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATION)), list, tuple],
        "solver": [StrOptions({"lbfgs", "sgd", "adam", "rprop"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        # sklearn allows momentum=1, an update that never decays; fastbp's SGD does not
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"),
                             Options(numbers.Real, {np.inf})],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
        "dtype": [StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64}),
                  None],
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(self, **params):
        # sklearn's rule: __init__ stores the parameters as given, nothing else
        for name, value in params.items():
            setattr(self, name, value)

    # ------------------------------------------------------------ the network

    def _cost(self):
        """(fastbp cost, output activation, sklearn's out_activation_)."""
        raise NotImplementedError

    def _hidden_activations(self, n_hidden):
        """sklearn's name of each hidden layer's activation (`activation` is
        one name, or a list of one per hidden layer)."""
        act = self.activation
        if isinstance(act, str):
            return [act] * n_hidden
        if len(act) != n_hidden or not all(isinstance(a, str) and a in _ACTIVATION for a in act):
            raise ValueError(f"activation must be one of {sorted(_ACTIVATION)} or a list of "
                             f"them, one per hidden layer ({n_hidden}); got {act!r}")
        return list(act)

    def _init_coef(self, fan_in, fan_out, dtype, activation):
        # sklearn's Glorot-uniform initialisation, same draws in the same order
        # (the factor of a layer by its activation; the output layer's by the
        # last hidden layer's, as sklearn uses its one activation for all)
        factor = 2.0 if activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = self._random_state.uniform(-bound, bound, fan_out)
        return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

    def _build_network(self, coefs, intercepts):
        """A fastbp.Network holding these parameters; coefs_ and intercepts_
        become views into it (coefs_[l] is weights[l].T)."""
        cost, out, _ = self._cost()
        sizes = [coefs[0].shape[0]] + [c.shape[1] for c in coefs]
        hidden = [_ACTIVATION[a] for a in self._hidden_activations(len(sizes) - 2)]
        one = isinstance(self.activation, str)
        net = Network(sizes, activation=_ACTIVATION[self.activation] if one else hidden,
                      output_activation=out, cost=cost, dtype=coefs[0].dtype, seed=0)
        for l, (c, b) in enumerate(zip(coefs, intercepts)):
            net.weights[l] = np.asarray(c).T
            net.biases[l] = b
        self._net = net
        self._link_views()

    def _link_views(self):
        self.coefs_ = [W.T for W in self._net.weights]
        self.intercepts_ = list(self._net.biases)
        self._views = (tuple(self.coefs_), tuple(self.intercepts_))

    def _network(self):
        """The network, with any coefs_/intercepts_ the user replaced copied in
        (in-place writes into coefs_ reach it through the views)."""
        net = self._net
        views = self._views
        if (len(self.coefs_) != len(views[0]) or len(self.intercepts_) != len(views[1])
                or any(a is not b for a, b in zip(self.coefs_, views[0]))
                or any(a is not b for a, b in zip(self.intercepts_, views[1]))):
            if len(self.coefs_) != len(net.weights) or len(self.intercepts_) != len(net.biases):
                raise ValueError(f"coefs_ and intercepts_ must hold {len(net.weights)} arrays "
                                 f"each, one per layer")
            for l, c in enumerate(self.coefs_):
                net.weights[l] = np.asarray(c).T
            for l, b in enumerate(self.intercepts_):
                net.biases[l] = b
        return net

    def __getstate__(self):
        # fastbp.Network holds locks and compiled plans: pickle the parameters
        # (coefs_ and intercepts_, as plain arrays) and rebuild it on load
        state = super().__getstate__()
        state = dict(state)
        if "_net" in state:
            self._network()  # user-replaced arrays first, then copies of what the net holds
            state.pop("_net")
            state.pop("_views", None)
            state["coefs_"] = [np.ascontiguousarray(W.T) for W in self._net.weights]
            state["intercepts_"] = [b.copy() for b in self._net.biases]
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "coefs_" in state:
            self._build_network(state["coefs_"], state["intercepts_"])

    # ------------------------------------------------------------ fit

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None):
        """Fit the model to X and y.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Sparse input is densified.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets; for the classifier, class labels or a 0/1 indicator
            matrix for multi-label.
        sample_weight : array-like of shape (n_samples,), default=None
            Each batch's loss is the weighted mean Σ w_i c_i / Σ w_i.

        Returns
        -------
        self
        """
        self._validate_params()
        return self._fit(X, y, sample_weight=self._weighted(y, sample_weight), incremental=False)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None):
        """One epoch over X and y (solvers 'sgd', 'adam', 'rprop').

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        self._validate_params()
        return self._fit(X, y, sample_weight=self._weighted(y, sample_weight), incremental=True)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted classes (classifier) or values (regressor).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self)
        return self._predict(X)

    def _weighted(self, y, sample_weight):
        """The sample weights to train with (the classifier's class weights)."""
        return sample_weight

    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        if any(h <= 0 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        dtype = (_DTYPES[np.dtype(self.dtype).name] if self.dtype is not None
                 else (np.float64, np.float32))
        if not first_pass:
            dtype = self._net.dtype.type
        X, Y = self._validate_input(X, y, incremental, reset=first_pass, dtype=dtype)
        if scipy.sparse.issparse(X):  # the compiled core is dense
            X = X.toarray()
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        n_samples, n_features = X.shape
        if Y.ndim == 1:
            Y = Y.reshape(-1, 1)
        layer_units = [n_features] + hidden + [Y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, layer_units, X.dtype)
        elif list(self._net.sizes) != layer_units:
            raise ValueError(f"the network has layers {list(self._net.sizes)}, but these "
                             f"parameters and data need {layer_units}; fit it anew "
                             f"(warm_start=False)")
        net = self._network()
        X = np.ascontiguousarray(X, dtype=net.dtype)
        Y = np.ascontiguousarray(Y, dtype=net.dtype)
        with _num_threads(self.n_threads):
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, Y, sample_weight)
            else:
                self._fit_iterative(X, Y, sample_weight, incremental)
        self._link_views()
        return self

    def _initialize(self, Y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._cost()[2]
        hidden = self._hidden_activations(len(layer_units) - 2)
        acts = hidden + [hidden[-1] if hidden else self.activation]
        coefs, intercepts = zip(*(self._init_coef(a, b, dtype, act) for a, b, act in
                                  zip(layer_units[:-1], layer_units[1:], acts)))
        self._build_network(list(coefs), list(intercepts))
        self._optimizer = None
        self._best_params = self._net.params.copy()
        if self.solver in _ITERATIVE:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _loss_scale(self):
        """sklearn's loss_ per unit of fastbp's cost (regression: 1/n_outputs)."""
        return 1.0

    def _penalty(self, net, weight_sum):
        return 0.5 * self.alpha * _sq_norm(net.weights) / weight_sum

    # ---- L-BFGS: fastbp.optim.LBFGS, SciPy's L-BFGS-B on the compiled full-batch
    # loss and gradient

    def _fit_lbfgs(self, X, Y, sample_weight):
        net = self._net
        weight_sum = X.shape[0] if sample_weight is None else float(sample_weight.sum())
        if sample_weight is not None and sample_weight[0] and np.all(sample_weight == sample_weight[0]):
            sample_weight = None  # a constant weight: the plain mean (α/Σw keeps its Σw)
        opt = optim.LBFGS(tol=self.tol, max_fun=self.max_fun)
        try:
            net.fit(X, Y, epochs=self.max_iter, optimizer=opt, l2=self.alpha / weight_sum,
                    sample_weight=sample_weight, verbose=bool(self.verbose))
        except FloatingPointError as e:
            raise ValueError("Solver produced non-finite parameter weights. The input data "
                             "may contain large values and need to be preprocessed.") from e
        res = opt.result
        self.n_iter_ = min(int(res.nit), self.max_iter)
        if res.status != 0:
            msg = (f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                   f"(status={res.status}):\n{res.message}\n")
            if self.n_iter_ == self.max_iter:
                msg += ("\nIncrease the number of iterations to improve the convergence "
                        f"(max_iter={self.max_iter}).")
            warnings.warn(msg, ConvergenceWarning, stacklevel=4)
        penalty = self._penalty(net, weight_sum)
        self.loss_ = (float(res.fun) - penalty) * self._loss_scale() + penalty

    # ---- sgd, adam, rprop: sklearn's epoch loop, each epoch compiled

    def _make_optimizer(self):
        if self.solver == "sgd":
            return optim.SGD(lr=self.learning_rate_init, momentum=self.momentum,
                             nesterov=bool(self.nesterovs_momentum and self.momentum > 0))
        if self.solver == "adam":
            return optim.Adam(lr=self.learning_rate_init, betas=(self.beta_1, self.beta_2),
                              eps=self.epsilon, epsilon_hat=True)
        return optim.Rprop(lr=self.learning_rate_init)

    def _fit_iterative(self, X, Y, sample_weight, incremental):
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer()
            self._learning_rate = float(self.learning_rate_init)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            # don't stratify multilabel targets
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            parts = [X, Y] + ([] if sample_weight is None else [sample_weight])
            split = train_test_split(*parts, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, Y_train, Y_val = split[:4]
            sw_train, sw_val = split[4:] if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            y_val = self._targets_for_score(Y_val)
            X_train, Y_train = np.ascontiguousarray(X_train), np.ascontiguousarray(Y_train)
        else:
            X_train, Y_train, sw_train = X, Y, sample_weight
            X_val = y_val = sw_val = None
        weight_scale = 1.0
        if sw_train is not None and sw_train[0] and np.all(sw_train == sw_train[0]):
            # a constant weight: the plain mean, in fewer compiled calls (α/Σw
            # keeps its Σw)
            weight_scale, sw_train = float(sw_train[0]), None

        n_samples = X_train.shape[0]
        sample_idx = np.arange(n_samples, dtype=int)
        batch_size = self._batch_rows(n_samples)

        # without sample weights an epoch is one compiled call, set up once:
        # each batch's l2 = alpha / (its rows · weight_scale), and Σ_b ‖W_b‖²
        # from the core (the accuracy is not read)
        fits = (trainer.OneEpochFits(self._net, one_epoch(
            self._net, X_train, Y_train, self._optimizer, batch_size, self.alpha / weight_scale,
            l2_per_weight=True, weight_sq=np.zeros(1) if self.alpha else None, classes=False))
            if sw_train is None else contextlib.nullcontext())
        try:
            with fits:
                self.n_iter_ = 0
                for _ in range(self.max_iter):
                    if self.shuffle:  # sklearn.utils.shuffle's draw, without its checks
                        sample_idx = sample_idx[self._random_state.permutation(n_samples)]
                    self.loss_ = self._epoch(X_train, Y_train, sw_train,
                                             sample_idx if self.shuffle else None, batch_size,
                                             weight_scale, fits)
                    self.n_iter_ += 1
                    self.t_ += n_samples
                    self.loss_curve_.append(self.loss_)
                    if self.verbose:
                        print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                    self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val)
                    if (self.solver == "sgd" and self.learning_rate == "invscaling"):
                        self._learning_rate = (float(self.learning_rate_init)
                                               / (self.t_ + 1) ** self.power_t)
                    if self._no_improvement_count > self.n_iter_no_change:
                        if early_stopping:
                            msg = ("Validation score did not improve more than tol=%f for %d "
                                   "consecutive epochs." % (self.tol, self.n_iter_no_change))
                        else:
                            msg = ("Training loss did not improve more than tol=%f for %d "
                                   "consecutive epochs." % (self.tol, self.n_iter_no_change))
                        if self._trigger_stopping(msg):
                            break
                        self._no_improvement_count = 0
                    if incremental:
                        break
                    if self.n_iter_ == self.max_iter:
                        warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and "
                                      "the optimization hasn't converged yet." % self.max_iter,
                                      ConvergenceWarning, stacklevel=4)
        except KeyboardInterrupt:
            # fastbp stopped at a batch boundary, with the last complete update
            warnings.warn("Training interrupted by user.", stacklevel=4)
        if early_stopping:
            self._restore_best()

    def _batch_rows(self, n_samples):
        """Rows per batch, as sklearn: batch_size clipped to [1, n_samples]
        ("auto": min(200, n_samples)); iRprop+ is full batch."""
        if self.solver == "rprop":
            return n_samples
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped", stacklevel=5)
        return int(np.clip(self.batch_size, 1, n_samples))

    def _restore_best(self):
        """Early stopping's best validated parameters; as sklearn, an error if
        even those are not finite."""
        self._net.params = self._best_params
        if not np.isfinite(self._best_params).all():
            raise ValueError("Solver produced non-finite parameter weights. The input "
                             "data may contain large values and need to be preprocessed.")

    def _trigger_stopping(self, msg):
        """sklearn's rule: stop, except that 'adaptive' SGD divides its rate by 5
        first, until the rate is at most 1e-6."""
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._learning_rate <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._learning_rate /= 5.0
        if self.verbose:
            print(msg + " Setting learning rate to %f" % self._learning_rate)
        return False

    def _epoch(self, X, Y, sw, order, batch_size, weight_scale=1.0, fits=None):
        """One pass over (X, Y) in the row order `order` (None: as they are),
        in sklearn's batches, each trained with l2 = α/(its weight); returns
        the epoch's loss as sklearn reports it. sw None: every sample weighs
        weight_scale, and `fits` (trainer.OneEpochFits) trains the epoch."""
        net, opt = self._net, self._optimizer
        if not _core.all_finite(net.params):
            return np.nan  # diverged under early stopping (below): sklearn trains on NaN
        if order is not None and sw is not None:
            X, Y, sw = X.take(order, axis=0), Y.take(order, axis=0), sw[order]
            order = None
        n = X.shape[0]
        starts = np.arange(0, n, batch_size)
        rows = np.minimum(starts + batch_size, n) - starts
        batch_w = rows * weight_scale if sw is None else np.add.reduceat(sw, starts)
        # runs of batches trained in one compiled call: all of them, each with
        # l2 = alpha / (its rows · weight_scale); with sample weights each
        # batch its own call (its own l2 and weighted mean)
        if sw is not None:
            runs = [(b, b + 1) for b in range(len(starts))]
        else:
            runs = [(0, len(starts))]
        if isinstance(opt, optim.SGD) and opt.lr != self._learning_rate:
            if opt.state is not None and opt.state.size:
                # torch's buffer sums gradients, sklearn's velocity sums steps:
                # rescale so that lr·buffer stays the velocity at the new rate
                opt.state *= opt.lr / self._learning_rate
            opt.lr = self._learning_rate
        data = 0.0     # Σ_b rows_b · (weighted mean cost of batch b)
        penalty = 0.0  # Σ_b rows_b / w_b · ‖W_b‖² (W_b: before batch b's update)
        for b0, b1 in runs:
            a = starts[b0]
            z = n if b1 == len(starts) else starts[b1]
            size = int(rows[b0])
            w = None if sw is None else sw[a:z]
            if w is not None and not w.any():
                continue  # no weight: fastbp skips such a batch, sklearn divides by zero
            try:
                if sw is None:  # w_b = rows_b · weight_scale
                    weight_sq = fits.s.weight_sq  # Σ_b ‖W_b‖², from the core
                    if weight_sq is not None:
                        weight_sq[0] = 0
                    history = fits.epoch(None if order is None else
                                         np.ascontiguousarray(order, dtype=np.intp))
                else:
                    weight_sq = np.zeros(1) if self.alpha else None
                    history = trainer.fit(net, one_epoch(
                        net, X[a:z], Y[a:z], opt, size, self.alpha / float(batch_w[b0]),
                        w / w.max(), weight_sq=weight_sq, classes=False))
            except FloatingPointError as e:
                if self.early_stopping:
                    # as sklearn: the epochs go on with NaN weights (NaN loss
                    # and validation scores), the best validated ones kept
                    net.params[...] = np.nan
                    return np.nan
                raise ValueError("Solver produced non-finite parameter weights. The input "
                                 "data may contain large values and need to be "
                                 "preprocessed.") from e
            data += history["loss"][-1] * (z - a)  # the mean (weighted: one batch's)
            if weight_sq is not None:  # rows_b / w_b: 1 / weight_scale, or one batch's
                penalty += float(weight_sq[0]) * (1 / weight_scale if sw is None
                                                  else rows[b0] / batch_w[b0])
        return data / n * self._loss_scale() + 0.5 * self.alpha * penalty / n

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, sw_val):
        if early_stopping:
            score = self._score(X_val, y_val, sample_weight=sw_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._net.params.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    # ------------------------------------------------------------ predict

    def _forward(self, X, check_input=True):
        """Outputs of the network for X, (n_samples, n_outputs_)."""
        net = self._network()
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                              dtype=net.dtype.type)
            if scipy.sparse.issparse(X):
                X = X.toarray()
        with _num_threads(self.n_threads):
            return net.forward(X)

    def _decode(self, y_pred):
        """Predictions from the network's outputs, (n_samples, n_outputs_)."""
        raise NotImplementedError

    def _predict(self, X, check_input=True):
        return self._decode(self._forward(X, check_input=check_input))

    def _score(self, X, y, sample_weight=None):
        """The estimator's score (accuracy, R²) of validated X; NaN for
        non-finite predictions."""
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return self._score_function(y, y_pred, sample_weight=sample_weight)

    def _check_solver(self):
        if self.solver not in _ITERATIVE:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # accepted and densified
        tags.target_tags.multi_output = True
        return tags


_PARAMS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(100,)
        Width of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'} or list, default='relu'
        Hidden activation ('logistic' is fastbp's 'sigmoid'), or a list of
        one per hidden layer.
    solver : {'adam', 'sgd', 'lbfgs', 'rprop'}, default='adam'
        'adam' and 'sgd' as sklearn (fastbp.optim.Adam with sklearn's ε
        placement, fastbp.optim.SGD), 'lbfgs' (scipy's L-BFGS-B on the
        compiled full-batch loss and gradient), 'rprop' (fastbp.optim.Rprop,
        full batch, initial step `learning_rate_init`).
    alpha : float, default=1e-4
        L2 penalty: α/(2·Σw)·Σ‖W‖² added to each batch's mean loss.
    batch_size : int or 'auto', default='auto'
        Rows per batch, 'auto' = min(200, n_samples); clipped to n_samples.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        SGD's schedule: 'invscaling' uses learning_rate_init / (t_ + 1)^power_t
        after each epoch, 'adaptive' divides the rate by 5 where sklearn
        would stop, until it is at most 1e-6.
    learning_rate_init : float, default=1e-3
    power_t : float, default=0.5
    max_iter : int, default=200
        Epochs for 'sgd', 'adam', 'rprop'; iterations for 'lbfgs'.
    shuffle : bool, default=True
    random_state : int, RandomState or None, default=None
        Initial weights, validation split and shuffles, drawn as sklearn does.
    tol : float, default=1e-4
    verbose : bool, default=False
    warm_start : bool, default=False
    momentum : float in [0, 1), default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out `validation_fraction` of the data, stop on its score and
        keep the best parameters.
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float, defaults 0.9, 0.999, 1e-8
        Adam's.
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
        L-BFGS's most loss evaluations.
    dtype : {'float32', 'float64'} or None, default=None
        The network's float type; None: float32 for float32 X, else float64.
    n_threads : int or None, default=None
        fastbp's threads during fit and predict (None: fastbp's setting,
        see fastbp.set_num_threads). Results do not depend on it.
"""

_ATTRIBUTES_DOC = """
    Attributes
    ----------
    coefs_ : list of ndarray, shape (n_in, n_out) each
        Weights, views into the network (transposes of its `weights`).
    intercepts_ : list of ndarray
    loss_ : float
    loss_curve_ : list of float
        Iterative solvers only, as `best_loss_`, `validation_scores_` and
        `best_validation_score_`.
    n_iter_, t_, n_layers_, n_outputs_, out_activation_ : as in sklearn
    n_features_in_ : int
    feature_names_in_ : ndarray of str
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = ("""Multi-layer perceptron classifier, sklearn's MLPClassifier on fastbp.

    Softmax and cross-entropy for more than two classes, one logistic output
    and binary cross-entropy for two, one logistic output per label for
    multi-label targets (2-D 0/1 `y`).
""" + _PARAMS_DOC + """    class_weight : dict, list of dict, 'balanced' or None, default=None
        Weights of the classes, as in sklearn's classifiers: each sample's
        weight is multiplied by its class's ('balanced': n_samples /
        (n_classes · count)); a dict only with partial_fit.
""" + _ATTRIBUTES_DOC + """    classes_ : ndarray or list of ndarray

    Examples
    --------
    >>> from fastbp.sklearn import MLPClassifier
    >>> clf = MLPClassifier(hidden_layer_sizes=(10,), random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2])
""")

    def __init__(self, hidden_layer_sizes: Sequence[int] | int = (100,),
                 activation: str = "relu", *, solver: str = "adam", alpha: float = 0.0001,
                 batch_size: int | str = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: int | np.random.RandomState | None = None,
                 tol: float = 1e-4, verbose: bool = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: int = 10, max_fun: int = 15000, dtype: str | type | None = None,
                 n_threads: int | None = None, class_weight: dict | str | None = None) -> None:
        super().__init__(**_params(locals()))

    _parameter_constraints: dict = {**_BaseMLP._parameter_constraints,
                                    "class_weight": [dict, list, StrOptions({"balanced"}), None]}

    def _weighted(self, y, sample_weight):
        """sample_weight times each sample's class weight (sklearn's meaning:
        'balanced' is n_samples / (n_classes · count of the class))."""
        if self.class_weight is None:
            return sample_weight
        weights = compute_sample_weight(self.class_weight, y)
        if sample_weight is not None:
            weights = weights * _check_sample_weight(sample_weight, weights.reshape(-1, 1),
                                                     dtype=np.float64)
        return weights

    def _cost(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "cross_entropy", "softmax", "softmax"
        return "binary_cross_entropy", "sigmoid", "logistic"

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=dtype, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` "
                                 f"has {self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(np.float64)

    def _targets_for_score(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
                    classes: ArrayLike | None = None) -> MLPClassifier:
        """One epoch over X and y (solvers 'sgd', 'adam', 'rprop').

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array-like of shape (n_classes,), default=None
            All classes; required on the first call.

        Returns
        -------
        self : MLPClassifier
        """
        self._validate_params()
        if isinstance(self.class_weight, str):  # as sklearn's SGDClassifier
            raise ValueError("class_weight 'balanced' is not supported for partial_fit: "
                             "its weights depend on all of the data; pass a dict")
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return super().partial_fit(X, y, sample_weight)

    _score_function = staticmethod(accuracy_score)

    def _decode(self, y_pred):
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Probability of each class (of each label, multi-label), for X as
        in `predict`: proba, ndarray of shape (n_samples, n_classes), its
        columns in the order of `classes_`.
        """
        check_is_fitted(self)
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of `predict_proba`: log_proba, ndarray of shape
        (n_samples, n_classes), for X as there."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = ("""Multi-layer perceptron regressor, sklearn's MLPRegressor on fastbp.

    Identity output, squared error; one or several outputs.

    Parameters
    ----------
    loss : {'squared_error'}, default='squared_error'
        sklearn's 'poisson' is not available (fastbp has no exp output).
""" + _PARAMS_DOC.split("----------\n", 1)[1] + _ATTRIBUTES_DOC + """
    Examples
    --------
    >>> from fastbp.sklearn import MLPRegressor
    >>> reg = MLPRegressor(hidden_layer_sizes=(20,), random_state=0).fit(X, y)
    >>> reg.score(X, y)
""")

    _parameter_constraints: dict = {**_BaseMLP._parameter_constraints,
                                    "loss": [StrOptions({"squared_error"})]}

    def __init__(self, loss: str = "squared_error",
                 hidden_layer_sizes: Sequence[int] | int = (100,),
                 activation: str = "relu", *, solver: str = "adam", alpha: float = 0.0001,
                 batch_size: int | str = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: int | np.random.RandomState | None = None,
                 tol: float = 1e-4, verbose: bool = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: int = 10, max_fun: int = 15000, dtype: str | type | None = None,
                 n_threads: int | None = None) -> None:
        super().__init__(**_params(locals()))

    def _cost(self):
        return "quadratic", "identity", "identity"

    def _loss_scale(self):
        return 1.0 / self.n_outputs_

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=dtype, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _targets_for_score(self, Y):
        return Y.ravel() if Y.shape[1] == 1 else Y

    _score_function = staticmethod(r2_score)

    def _decode(self, y_pred):
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred
