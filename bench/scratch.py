"""The from-scratch tutorial's 5-fold evaluation, pure Python against
fastbp.compat.scratch, side by side.

Both run the tutorial's seeds case study (seed(1), wheat seeds normalized
with min-max, 5 folds, l_rate 0.3, 500 epochs, 5 hidden neurons): the pure
Python one with the twin of the tutorial's code in tests/test_scratch.py,
the other with `fastbp.compat.scratch`, on fastbp's threads (its
evaluate_algorithm trains folds side by side) and on one. Prints one line:
the seconds of each, the speed-ups and whether the scores are the same.

    PYTHONPATH=src python bench/scratch.py

Needs the test dependencies (the twin lives in the test file). Never run
inside pytest.
"""
import argparse
import importlib.util
import random
import statistics
import sys
import time
from pathlib import Path

import fastbp
from fastbp.compat import scratch

ROOT = Path(__file__).resolve().parents[1]


def load_twin():
    sys.path.insert(0, str(ROOT / "tests"))  # the test file imports conftest
    spec = importlib.util.spec_from_file_location("scratch_twin", ROOT / "tests" / "test_scratch.py")
    module = importlib.util.module_from_spec(spec)
    adaptive = fastbp._threads.adaptive
    spec.loader.exec_module(module)
    # the conftest it imports has every batch use all the threads (to test
    # every count); a user's fastbp picks fewer for small batches
    fastbp._threads.adaptive = adaptive
    return module


def run(module, twin, n_folds, l_rate, n_epoch, n_hidden):
    """Seconds and scores of `module`'s evaluation (data preparation excluded)."""
    dataset, _ = twin.wheat(module)
    random.seed(1)
    start = time.perf_counter()
    scores = module.evaluate_algorithm(dataset, module.back_propagation, n_folds, l_rate,
                                       n_epoch, n_hidden)
    return time.perf_counter() - start, scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each, alternating; medians and ranges are printed")
    args = parser.parse_args()
    twin = load_twin()
    config = (5, 0.3, args.epochs, 5)
    threads = fastbp.get_num_threads()
    times = {"python": [], "threads": [], "one": []}
    scores = set()
    for _ in range(args.repeat):
        for name in times:
            fastbp.set_num_threads(1 if name == "one" else threads)
            seconds, fold_scores = run(twin if name == "python" else scratch, twin, *config)
            times[name].append(seconds)
            scores.add(tuple(fold_scores))
    fastbp.set_num_threads(threads)
    py, fast, one = (statistics.median(times[name]) for name in ("python", "threads", "one"))

    def spread(name):
        return f"{min(times[name]):.3f}-{max(times[name]):.3f}"

    print(f"5-fold wheat seeds 7-5-3, l_rate 0.3, {args.epochs} epochs, medians of "
          f"{args.repeat} (ranges): pure Python {py:.2f} s ({spread('python')}); "
          f"fastbp.compat.scratch on {threads} threads (folds side by side) {fast:.3f} s "
          f"({spread('threads')}), {py / fast:.1f}x; on 1 thread {one:.3f} s "
          f"({spread('one')}), {py / one:.1f}x; same scores: {len(scores) == 1} "
          f"(mean {sum(fold_scores) / len(fold_scores):.3f}%)")


if __name__ == "__main__":
    main()
