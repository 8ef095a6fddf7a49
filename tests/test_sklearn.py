"""fastbp.sklearn: MLPClassifier and MLPRegressor as scikit-learn estimators.

sklearn's estimator checks; equality with fastbp.Network driven by hand and
with sklearn's own MLPs (solver='sgd': the same initial weights, shuffles,
batches and updates, so the same parameters to rounding); the fitted
attributes, partial_fit, warm_start, early stopping, multi-label and
multi-output targets; Pipeline, GridSearchCV with two processes,
cross_val_score, pickle and clone.
"""
import copy
import inspect
import io
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

import scipy.sparse
import sklearn.neural_network as sk
from sklearn.base import clone
from sklearn.datasets import (make_classification, make_multilabel_classification,
                              make_regression)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import shuffle as sk_shuffle
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastbp
from fastbp import optim
from fastbp.datasets import load_wheat_seeds
from fastbp.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# sklearn's own MLPs take sample_weight from 1.7 on
needs_sk_weights = pytest.mark.skipif(
    "sample_weight" not in inspect.signature(sk.MLPClassifier.fit).parameters,
    reason="sklearn's MLPs take sample_weight from scikit-learn 1.7")


@pytest.fixture(autouse=True, scope="module")
def adaptive_threads():
    """These networks are small: let the core pick its thread count, as it
    does outside the test suite (conftest turns that off for every test)."""
    old = fastbp._threads.adaptive
    fastbp._threads.adaptive = True
    yield
    fastbp._threads.adaptive = old


def params_of(est):
    return est.coefs_ + est.intercepts_


def max_diff(a, b):
    return max(float(np.abs(np.asarray(x) - np.asarray(y)).max())
               for x, y in zip(params_of(a), params_of(b)))


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(n_samples=233, n_features=8, n_informative=5, n_classes=3,
                               random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=150, n_features=6, n_targets=3, noise=0.1, random_state=0)
    return StandardScaler().fit_transform(X), y / 100


# ---------------------------------------------------------------- sklearn's checks

@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100),
                          MLPClassifier(solver="lbfgs", max_iter=100),
                          MLPRegressor(solver="rprop", learning_rate_init=0.01, max_iter=100)])
def test_sklearn_estimator_checks(estimator, check):
    # max_iter=100, as scikit-learn's own test suite runs its MLPs. No
    # expected failures. (With max_iter=200, solver='lbfgs' fails
    # check_classifiers_multilabel_output_format_predict_proba, as sklearn's
    # own MLPClassifier(solver='lbfgs') does: its logistic outputs reach 1.0.)
    check(estimator)


# ---------------------------------------------------------------- the arithmetic

def test_equals_network_driven_by_hand(multiclass):
    """Adam, shuffled mini-batches of 32 (a short last batch of 9), α > 0:
    the estimator is fastbp.Network trained one epoch per call on sklearn's
    initial weights and shuffles, l2 = α / batch rows."""
    X, y = multiclass
    alpha, bs, epochs = 1e-3, 32, 4
    est = MLPClassifier((9, 5), activation="tanh", alpha=alpha, batch_size=bs,
                        learning_rate_init=0.01, max_iter=epochs, random_state=7).fit(X, y)

    rs = np.random.RandomState(7)
    sizes = [8, 9, 5, 3]
    net = fastbp.Network(sizes, activation="tanh", cost="cross_entropy")
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = np.sqrt(6 / (n_in + n_out))          # sklearn's Glorot uniform
        net.weights[l] = rs.uniform(-bound, bound, (n_in, n_out)).T
        net.biases[l] = rs.uniform(-bound, bound, n_out)
    Y = np.eye(3)[y]
    opt = optim.Adam(lr=0.01, epsilon_hat=True)
    idx, full, losses = np.arange(len(X)), len(X) // bs * bs, []
    for _ in range(epochs):
        idx = sk_shuffle(idx, random_state=rs)
        Xs, Ys = X[idx], Y[idx]
        h1 = net.fit(Xs[:full], Ys[:full], epochs=1, batch_size=bs, shuffle=False,
                     optimizer=opt, l2=alpha / bs)
        h2 = net.fit(Xs[full:], Ys[full:], epochs=1, batch_size=len(X) - full, shuffle=False,
                     optimizer=opt, l2=alpha / (len(X) - full))
        losses.append((h1["loss"][0] * full + h2["loss"][0] * (len(X) - full)) / len(X))

    assert opt.steps == est._optimizer.steps == epochs * 8
    for W, b, coef, intercept in zip(net.weights, net.biases, est.coefs_, est.intercepts_):
        assert np.abs(W.T - coef).max() <= 1e-12
        assert np.abs(b - intercept).max() <= 1e-12
    assert np.abs(net.forward(X) - est.predict_proba(X)).max() <= 1e-12
    # loss_ is the data loss plus sklearn's penalty term, which is small here
    penalty = np.array(est.loss_curve_) - losses
    assert (penalty > 0).all() and (penalty < 1e-2).all()


@pytest.mark.parametrize("kw", [
    dict(),
    dict(nesterovs_momentum=False, alpha=0.0),
    dict(momentum=0.0, shuffle=False),
    dict(learning_rate="invscaling", learning_rate_init=0.5),
    dict(learning_rate="adaptive", tol=0.5, n_iter_no_change=1),
    dict(early_stopping=True, validation_fraction=0.2),
    dict(batch_size=233, activation="logistic"),
], ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
def test_sgd_equals_sklearn(multiclass, kw):
    """solver='sgd': the same initial weights, validation split, shuffles and
    updates as sklearn (momentum kept equal across rate changes)."""
    X, y = multiclass
    args = dict(hidden_layer_sizes=(13, 7), solver="sgd", max_iter=12, random_state=1,
                batch_size=50, learning_rate_init=0.05, alpha=1e-3) | kw
    ours = MLPClassifier(**args).fit(X, y)
    theirs = sk.MLPClassifier(**args).fit(X, y)
    assert max_diff(ours, theirs) <= 1e-10
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    # the loss's penalty term is interpolated within an epoch (module docstring)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-3)
    if args.get("alpha") == 0.0 or args.get("batch_size") == 233:
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    if args.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_validation_score_ == theirs.best_validation_score_
        assert ours.best_loss_ is None
    else:
        assert ours.best_loss_ == min(ours.loss_curve_)


@needs_sk_weights
def test_regressor_equals_sklearn(regression):
    """Several outputs: the training gradient is sklearn's and loss_ its number
    (mean over outputs as well as samples); with and without sample weights."""
    X, y = regression
    w = np.random.default_rng(0).uniform(0.5, 2, len(X))
    for sample_weight in (None, w):
        args = dict(hidden_layer_sizes=(10,), solver="sgd", max_iter=8, random_state=3,
                    batch_size=40, alpha=0.0, learning_rate_init=0.01)
        ours = MLPRegressor(**args).fit(X, y, sample_weight=sample_weight)
        theirs = sk.MLPRegressor(**args).fit(X, y, sample_weight=sample_weight)
        assert max_diff(ours, theirs) <= 1e-10
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
        assert ours.out_activation_ == "identity" and ours.n_outputs_ == 3
        assert ours.predict(X).shape == (len(X), 3)


@needs_sk_weights
def test_sample_weight_equals_sklearn(multiclass):
    """Mini-batches with weights: each batch's weighted mean, l2 = α/Σw_b."""
    X, y = multiclass
    w = np.random.default_rng(1).integers(0, 4, len(X)).astype(float)
    args = dict(hidden_layer_sizes=(6,), solver="sgd", max_iter=6, random_state=0,
                batch_size=30, alpha=1e-2, learning_rate_init=0.1)
    ours = MLPClassifier(**args).fit(X, y, sample_weight=w)
    theirs = sk.MLPClassifier(**args).fit(X, y, sample_weight=w)
    assert max_diff(ours, theirs) <= 1e-10
    # the penalty term from the core's Σ‖W‖² before each update: exact
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)


def test_lbfgs_equals_sklearn(multiclass, regression):
    X, y = multiclass
    args = dict(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=15, random_state=0, alpha=1e-2)
    ours, theirs = MLPClassifier(**args).fit(X, y), sk.MLPClassifier(**args).fit(X, y)
    assert max_diff(ours, theirs) <= 1e-8
    assert ours.n_iter_ == theirs.n_iter_ == 15
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    assert not hasattr(ours, "loss_curve_")
    X, y = regression
    ours = MLPRegressor(**args).fit(X, y[:, 0])
    theirs = sk.MLPRegressor(**args).fit(X, y[:, 0])
    assert max_diff(ours, theirs) <= 1e-8


def test_adam_equals_sklearn(multiclass):
    """Adam with sklearn's ε placement (before the bias correction)."""
    X, y = multiclass
    args = dict(hidden_layer_sizes=(10,), max_iter=20, random_state=0)
    ours, theirs = MLPClassifier(**args).fit(X, y), sk.MLPClassifier(**args).fit(X, y)
    assert max_diff(ours, theirs) <= 1e-10
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


def test_accuracy_close_to_sklearn_on_wheat_seeds():
    X, y = load_wheat_seeds()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=0)
    scores = []
    for cls in (MLPClassifier, sk.MLPClassifier):
        clf = make_pipeline(StandardScaler(), cls((10,), max_iter=400, random_state=0))
        scores.append(clf.fit(X_train, y_train).score(X_test, y_test))
    ours, theirs = scores
    assert ours >= 0.85 and abs(ours - theirs) <= 0.05, scores


# ---------------------------------------------------------------- the API

def test_fitted_attributes(multiclass):
    X, y = multiclass
    clf = MLPClassifier((4, 3), max_iter=5, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(8, 4), (4, 3), (3, 3)]
    assert [b.shape for b in clf.intercepts_] == [(4,), (3,), (3,)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3 and clf.out_activation_ == "softmax"
    assert clf.n_iter_ == 5 and clf.t_ == 5 * len(X) and len(clf.loss_curve_) == 5
    assert clf.loss_ == clf.loss_curve_[-1] and clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert clf.n_features_in_ == 8 and list(clf.classes_) == [0, 1, 2]
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    assert (clf.classes_[proba.argmax(axis=1)] == clf.predict(X)).all()
    binary = MLPClassifier((4,), max_iter=5, random_state=0).fit(X, np.where(y == 1, "b", "a"))
    assert binary.n_outputs_ == 1 and binary.out_activation_ == "logistic"
    assert binary.predict_proba(X).shape == (len(X), 2)
    assert set(binary.predict(X)) <= {"a", "b"}


def test_coefs_are_the_model(multiclass):
    """coefs_ and intercepts_ are views into the network: writes change the
    predictions, and arrays put in their place are used."""
    X, y = multiclass
    clf = MLPClassifier((5,), max_iter=3, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    clf.intercepts_[-1][:] += [5, 0, 0]
    assert (clf.predict_proba(X)[:, 0] > before[:, 0]).all()
    clf.coefs_[0] = np.zeros((8, 5))
    clf.intercepts_[0] = np.zeros(5)
    clf.intercepts_[-1][:] = [0, 0, 1]
    hidden = np.maximum(0, np.zeros((1, 5)))
    expected = hidden @ clf.coefs_[1] + [0, 0, 1]
    np.testing.assert_allclose(clf.predict_proba(X[:1]),
                               np.exp(expected) / np.exp(expected).sum())


def test_partial_fit(multiclass):
    X, y = multiclass
    args = dict(hidden_layer_sizes=(6,), solver="sgd", random_state=0, learning_rate_init=0.05,
                batch_size=64, learning_rate="invscaling")
    ours, theirs = MLPClassifier(**args), sk.MLPClassifier(**args)
    for part in np.array_split(np.arange(len(X)), 3):
        ours.partial_fit(X[part], y[part], classes=[0, 1, 2])
        theirs.partial_fit(X[part], y[part], classes=[0, 1, 2])
    assert max_diff(ours, theirs) <= 1e-10
    assert ours.n_iter_ == 1 and ours.t_ == len(X) and len(ours.loss_curve_) == 3
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        ours.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    reg = MLPRegressor(hidden_layer_sizes=(4,), random_state=0, solver="rprop")
    reg.partial_fit(X, y.astype(float)).partial_fit(X, y.astype(float))
    assert reg.t_ == 2 * len(X) and reg._optimizer.steps == 2


def test_warm_start(multiclass):
    X, y = multiclass
    args = dict(hidden_layer_sizes=(6,), solver="sgd", max_iter=3, random_state=0,
                warm_start=True, learning_rate_init=0.05)
    ours, theirs = MLPClassifier(**args), sk.MLPClassifier(**args)
    for _ in range(2):
        ours.fit(X, y)
        theirs.fit(X, y)
    assert max_diff(ours, theirs) <= 1e-10
    assert ours.n_iter_ == 3 and ours.t_ == 6 * len(X) and len(ours.loss_curve_) == 6
    with pytest.raises(ValueError, match="warm_start can only be used"):
        ours.fit(X[y < 2], y[y < 2])
    cold = MLPClassifier(**(args | dict(warm_start=False))).fit(X, y).fit(X, y)
    assert cold.t_ == 3 * len(X)


def test_early_stopping(multiclass):
    X, y = multiclass
    clf = MLPClassifier((20,), early_stopping=True, n_iter_no_change=3, tol=0.0,
                        learning_rate_init=0.05, max_iter=200, random_state=0).fit(X, y)
    assert clf.n_iter_ < 200
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    assert clf.n_iter_ - 1 - int(np.argmax(clf.validation_scores_)) > 3
    # sklearn's split: drawn from random_state after the initial weights
    rs = np.random.RandomState(0)
    rs.uniform(size=8 * 20 + 20 + 20 * 3 + 3)
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.1, random_state=rs)
    # the parameters kept are those of the best validation score
    assert clf.score(X_val, y_val) == clf.best_validation_score_


def test_multilabel():
    X, Y = make_multilabel_classification(n_samples=120, n_classes=4, random_state=0)
    args = dict(hidden_layer_sizes=(8,), solver="sgd", max_iter=10, random_state=0,
                learning_rate_init=0.05)
    ours, theirs = MLPClassifier(**args).fit(X, Y), sk.MLPClassifier(**args).fit(X, Y)
    assert max_diff(ours, theirs) <= 1e-10
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 4
    assert ours.predict(X).shape == Y.shape and ours.predict_proba(X).shape == Y.shape
    assert (ours.predict(X) == (ours.predict_proba(X) > 0.5)).all()
    assert ours.score(X, Y) == theirs.score(X, Y)
    assert ours.__sklearn_tags__().classifier_tags.multi_label


def test_input_handling(multiclass):
    X, y = multiclass
    clf = MLPClassifier((5,), max_iter=3, random_state=0).fit(X, y)
    sparse = MLPClassifier((5,), max_iter=3, random_state=0).fit(scipy.sparse.csr_matrix(X), y)
    np.testing.assert_array_equal(sparse.predict_proba(scipy.sparse.csc_matrix(X)),
                                  clf.predict_proba(X))
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier().fit(bad, y)
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(bad)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :5])
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(X)
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier(activation="softplus").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=(5, 0)).fit(X, y)
    # dtype: float32 X keeps float32 unless dtype says otherwise
    X32 = X.astype(np.float32)
    assert MLPClassifier((3,), max_iter=2).fit(X32, y).coefs_[0].dtype == np.float32
    clf64 = MLPClassifier((3,), max_iter=2, dtype="float64").fit(X32, y)
    assert clf64.coefs_[0].dtype == np.float64
    clf32 = MLPClassifier((3,), max_iter=2, dtype="float32").fit(X, y)
    assert clf32.predict_proba(X).dtype == np.float32


def test_convergence_warning_and_verbose(multiclass):
    X, y = multiclass
    out = io.StringIO()
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        with redirect_stdout(out):
            MLPClassifier((3,), max_iter=2, verbose=True).fit(X, y)
    assert out.getvalue().startswith("Iteration 1, loss = ")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MLPClassifier((3,), max_iter=500, tol=10.0, n_iter_no_change=1).fit(X, y)


def test_n_threads_does_not_change_results(multiclass, monkeypatch):
    X, y = multiclass
    # exactly the threads asked for: this network is small enough that the
    # adaptive choice would run both fits on one thread
    monkeypatch.setattr(fastbp._threads, "adaptive", False)
    old = fastbp.get_num_threads()
    used = []
    real_plan = fastbp.Network.plan
    monkeypatch.setattr(fastbp.Network, "plan",
                        lambda net, cap: used.append(real_plan(net, cap).n_threads)
                        or real_plan(net, cap))
    fits = []
    for n in (1, 2):
        used.clear()
        fits.append(MLPClassifier((64,), max_iter=3, random_state=0, n_threads=n).fit(X, y))
        assert set(used) == {n}
    assert max_diff(*fits) == 0.0
    assert fastbp.get_num_threads() == old


# ---------------------------------------------------------------- sklearn machinery

def test_pipeline_gridsearch_cross_val_score():
    X, y = load_wheat_seeds()
    mlp = MLPClassifier((8,), max_iter=150, learning_rate_init=0.02, random_state=0)
    pipe = make_pipeline(StandardScaler(), mlp)
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.8
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1],
                                 "mlpclassifier__solver": ["adam", "lbfgs"]}, cv=3, n_jobs=2)
    search.fit(X, y)
    assert search.best_score_ > 0.8
    assert search.best_estimator_.score(X, y) > 0.85


def test_pickle_copy_clone(multiclass):
    X, y = multiclass
    clf = MLPClassifier((7,), solver="sgd", max_iter=4, random_state=0).fit(X, y)
    clf.coefs_[0][0, 0] += 0.5                       # a write into the model, kept
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(copy.deepcopy(clf).predict_proba(X), clf.predict_proba(X))
    # the optimizer's state travels too: partial_fit continues identically
    restored.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert max_diff(restored, clf) == 0.0
    assert restored._net is not clf._net
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "coefs_")
    fresh.set_params(hidden_layer_sizes=(3,), alpha=0.5)
    assert fresh.get_params()["alpha"] == 0.5
    reg = MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5, random_state=0)
    reg.fit(X, y.astype(float))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


GRID_AFTER_OPENMP = textwrap.dedent("""
    import multiprocessing, sys
    import numpy as np
    import joblib
    import fastbp
    from fastbp.sklearn import MLPClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=300, n_features=40, random_state=0)
    fastbp.set_num_threads(2)
    fastbp._threads.adaptive = False      # use both threads, however small the batch
    MLPClassifier((256,), max_iter=5, random_state=0).fit(X, y)   # OpenMP team in the parent
    grid = {"alpha": [1e-4, 1e-2]}
    for backend in sys.argv[1:]:
        if backend == "multiprocessing":
            multiprocessing.set_start_method("fork", force=True)
        with joblib.parallel_config(backend=backend):
            search = GridSearchCV(MLPClassifier((64,), max_iter=20, random_state=0), grid,
                                  cv=2, n_jobs=2).fit(X, y)
        print(backend, search.best_score_)
""")


@pytest.mark.parametrize("backend", ["loky", "multiprocessing"])
def test_gridsearch_processes_after_openmp_in_parent(backend):
    """The parent trained with an OpenMP team of two, then GridSearchCV(n_jobs=2)
    forks (multiprocessing) or spawns (loky) workers that train too. A hang
    (GNU OpenMP's pool does not survive fork) fails the test by its timeout."""
    src = str(Path(fastbp.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "2"}
    # its own process group, so that a hang is ended with every worker it forked
    proc = subprocess.Popen([sys.executable, "-c", GRID_AFTER_OPENMP, backend], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"GridSearchCV(n_jobs=2) with joblib's {backend!r} backend hung after "
                    f"the parent process used OpenMP")
    assert proc.returncode == 0, err
    assert out.startswith(backend)


# ---------------------------------------------------------------- class weights, layers

@needs_sk_weights
def test_constant_weights_keep_alphas_scale(multiclass):
    """α/Σw: a constant weight c scales Σw by c, as sklearn computes it."""
    X, y = multiclass
    for solver in ("sgd", "lbfgs"):
        args = dict(hidden_layer_sizes=(6,), solver=solver, alpha=1.0, max_iter=5,
                    random_state=0, momentum=0.0, learning_rate_init=0.01)
        sw = np.full(len(y), 3.0)
        ours = MLPClassifier(**args).fit(X, y, sample_weight=sw)
        theirs = sk.MLPClassifier(**args).fit(X, y, sample_weight=sw)
        assert max_diff(ours, theirs) <= 1e-8
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)


def test_class_weight_is_sample_weight_times_class_weight(multiclass):
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = multiclass
    X, y = X[y < 2], y[y < 2]
    sw = np.random.default_rng(0).uniform(0.5, 2, len(y))
    for cw in ("balanced", {0: 3.0, 1: 0.5}):
        sw = sw[:len(y)]
        a = MLPClassifier((5,), class_weight=cw, max_iter=5, random_state=0).fit(
            X, y, sample_weight=sw)
        b = MLPClassifier((5,), max_iter=5, random_state=0).fit(
            X, y, sample_weight=sw * compute_sample_weight(cw, y))
        assert max_diff(a, b) == 0


def test_class_weight_balanced_needs_all_the_data(multiclass):
    X, y = multiclass
    X, y = X[y < 2], y[y < 2]
    with pytest.raises(ValueError, match="balanced"):
        MLPClassifier((5,), class_weight="balanced").partial_fit(X, y, classes=[0, 1])
    MLPClassifier((5,), class_weight={0: 2.0, 1: 1.0}).partial_fit(X, y, classes=[0, 1])


def test_activation_per_hidden_layer(multiclass):
    X, y = multiclass
    clf = MLPClassifier((6, 5), activation=["relu", "logistic"], max_iter=5,
                        random_state=0).fit(X, y)
    assert clf._net.activation == ["relu", "sigmoid"]
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert clone(clf).get_params()["activation"] == ["relu", "logistic"]
    with pytest.raises(ValueError, match="one per hidden layer"):
        MLPClassifier((6,), activation=["relu", "tanh"]).fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier((6, 5), activation=["relu", "swish"]).fit(X, y)
