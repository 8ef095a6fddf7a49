"""Model selection on a Dask cluster: scikit-learn's GridSearchCV over
fastbp's MLPClassifier, each (candidate, fold) fit a task on a worker.

    python examples/dask_grid_search.py [--quick] [--scheduler ADDRESS]

Without --scheduler it starts a LocalCluster of 2 worker processes with one
thread each on this machine; with one (say tcp://head:8786, from `dask
scheduler` and a `dask worker tcp://head:8786 --nthreads 1` per core or per
node) the same code runs on that cluster. joblib's Dask backend ships each
fit to a worker: the estimator is pickled there and back (fastbp's
estimators pickle their network's parameters, not the compiled buffers).
Dask's worker processes start with OMP_NUM_THREADS=1, so each fit runs on
one thread and the cores are shared out by the tasks.

fastbp's results do not depend on where or on how many threads they are
computed, so the search finds the same scores as in one process (--quick
checks this, fitting the grid a second time without Dask).

Needs: pip install 'fastbp[dask]'   (dask[distributed] and scikit-learn)
"""
import argparse
import contextlib
import sys
import threading
import time
import warnings

import numpy as np

from fastbp.datasets import load_mnist_5k, train_test_split


@contextlib.contextmanager
def heartbeat(what, every=10.0):
    """A line every `every` seconds while the block runs: the fits report from
    the workers only as they end, and a search can take minutes."""
    done = threading.Event()
    start = time.perf_counter()

    def beat():
        while not done.wait(every):
            print(f"  ... {what}: {time.perf_counter() - start:.0f} s", flush=True)
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="1,000 digits, a 2x2 grid, and a check against one process")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler")
    args = parser.parse_args(argv)
    try:
        import joblib
        from distributed import Client, LocalCluster
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import GridSearchCV

        from fastbp.sklearn import MLPClassifier
    except ImportError as e:
        sys.exit(f"this example needs dask[distributed] and scikit-learn "
                 f"(pip install 'fastbp[dask]'): {e}")

    X, y = load_mnist_5k()
    if args.quick:
        X, y = X[:1000], y[:1000]  # load_mnist_5k's order is a fixed shuffle
    X_train, X_test, y_train, y_test = train_test_split(X, y, 0.2, seed=0)
    if args.quick:
        grid = {"hidden_layer_sizes": [(16,), (32,)], "learning_rate_init": [1e-3, 1e-2]}
    else:
        grid = {"hidden_layer_sizes": [(32,), (64,), (128,)], "learning_rate_init": [1e-3, 1e-2],
                "alpha": [1e-4, 1e-2]}
    estimator = MLPClassifier(max_iter=20 if args.quick else 50, random_state=0)

    if args.scheduler:
        print(f"connecting to the Dask scheduler at {args.scheduler}", flush=True)
        client = Client(args.scheduler)
    else:
        print("starting a local Dask cluster of 2 worker processes", flush=True)
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    workers = len(client.scheduler_info()["workers"])
    print(f"Dask: {workers} workers at {client.scheduler.address}")
    with warnings.catch_warnings():
        # short max_iter on purpose: the grid, not the last digit, is the point
        warnings.simplefilter("ignore", ConvergenceWarning)
        # verbose=1: the number of fits up front; the heartbeat while they run
        search = GridSearchCV(estimator, grid, cv=3, verbose=1)
        start = time.perf_counter()
        with joblib.parallel_backend("dask"), heartbeat("searching on the Dask workers"):
            search.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        print(f"{len(search.cv_results_['params'])} candidates x 3 folds on {len(X_train)} "
              f"digits in {seconds:.1f} s")
        for params, score in zip(search.cv_results_["params"],
                                 search.cv_results_["mean_test_score"]):
            print(f"  {params}: mean accuracy {score:.4f}")
        print(f"best: {search.best_params_}, test accuracy "
              f"{search.score(X_test, y_test):.4f}")
        if args.quick:
            start = time.perf_counter()
            print("the same search in this process, without Dask", flush=True)
            with heartbeat("searching in one process"):
                alone = GridSearchCV(estimator, grid, cv=3).fit(X_train, y_train)
            same = np.array_equal(alone.cv_results_["mean_test_score"],
                                  search.cv_results_["mean_test_score"])
            print(f"one process, no Dask: {time.perf_counter() - start:.1f} s; "
                  f"same scores: {'yes' if same else 'NO'}")
    client.close()
    if not args.scheduler:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
