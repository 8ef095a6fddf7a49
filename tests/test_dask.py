"""Model selection with joblib's Dask backend: GridSearchCV over
fastbp.sklearn.MLPClassifier on a LocalCluster of 2 worker processes (one
thread each) finds the same scores as in one process, and
examples/dask_grid_search.py runs. Skipped without dask.distributed,
scikit-learn or fastbp.sklearn; each test is bounded by a timeout.
"""
import concurrent.futures
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

# a LocalCluster per test, 10-20 s each: not in the default quick run (-m dask)
pytestmark = [pytest.mark.slow, pytest.mark.dask]

distributed = pytest.importorskip("distributed", reason="needs dask[distributed]")
pytest.importorskip("sklearn", reason="needs scikit-learn")
fastbp_sklearn = pytest.importorskip("fastbp.sklearn", reason="needs fastbp.sklearn")

import fastbp
from fastbp.datasets import load_mnist_5k

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120  # seconds; each test takes 10-20 s here


def fastbp_path():
    """The fastbp these tests imported, for the worker processes too."""
    here = str(Path(fastbp.__file__).resolve().parents[1])
    return os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))


def digits(n=600):
    X, y = load_mnist_5k()
    rows = np.random.default_rng(0).permutation(len(X))[:n]  # stored by class
    return X[rows], y[rows]


def grid_search(X, y):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    grid = {"hidden_layer_sizes": [(8,), (16,)], "learning_rate_init": [1e-3, 1e-2]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GridSearchCV(fastbp_sklearn.MLPClassifier(max_iter=10, random_state=0), grid,
                            cv=3).fit(X, y)


def test_grid_search_on_dask_workers_matches_one_process(monkeypatch):
    import joblib
    from distributed import Client, LocalCluster, get_task_stream
    monkeypatch.setenv("PYTHONPATH", fastbp_path())
    X, y = digits()

    def on_dask():
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
                search = grid_search(X, y)
            workers = set(client.scheduler_info()["workers"])
            return search, {t["worker"] for t in tasks.data}, workers

    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(on_dask)
    try:
        search, used, workers = future.result(timeout=TIMEOUT)
    except concurrent.futures.TimeoutError:
        # not `with pool`: leaving it would wait for the hung search
        pool.shutdown(wait=False, cancel_futures=True)
        pytest.fail(f"GridSearchCV on the Dask cluster did not finish in {TIMEOUT} s")
    pool.shutdown()
    assert used and used <= workers, (used, workers)  # the fits ran on the workers
    alone = grid_search(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  alone.cv_results_["mean_test_score"])
    assert search.best_params_ == alone.best_params_
    assert search.best_score_ > 0.5
    np.testing.assert_array_equal(search.predict(X), alone.predict(X))


def test_example_dask_grid_search():
    env = dict(os.environ, PYTHONPATH=fastbp_path())
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "dask_grid_search.py"),
                             "--quick"], capture_output=True, text=True, env=env,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Dask: 2 workers at tcp://" in out
    assert "Fitting 3 folds for each of 4 candidates, totalling 12 fits" in out
    assert re.search(r"4 candidates x 3 folds on 80\d digits", out), out
    assert "same scores: yes" in out, out
