"""The from-scratch tutorial's 5-fold evaluation, pure Python against
fastbp.compat.scratch, side by side.

Both run the tutorial's seeds case study (seed(1), wheat seeds normalized
with min-max, 5 folds, l_rate 0.3, 500 epochs, 5 hidden neurons): the pure
Python one with the twin of the tutorial's code in tests/test_scratch.py,
the other with `fastbp.compat.scratch`. Prints one line: the seconds of
each, the speed-up and whether the scores are the same.

    PYTHONPATH=src python bench/scratch.py

Needs the test dependencies (the twin lives in the test file). Never run
inside pytest.
"""
import argparse
import importlib.util
import random
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
    spec.loader.exec_module(module)
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
    args = parser.parse_args()
    twin = load_twin()
    # The test file's conftest switches off fastbp's choice of fewer threads
    # for small batches (to test every count); one thread is what that choice
    # gives a user for batches of one row.
    fastbp.set_num_threads(1)
    config = (5, 0.3, args.epochs, 5)
    t_fast, s_fast = run(scratch, twin, *config)
    t_py, s_py = run(twin, twin, *config)
    print(f"5-fold wheat seeds 7-5-3, l_rate 0.3, {args.epochs} epochs: pure Python "
          f"{t_py:.2f} s, fastbp.compat.scratch {t_fast:.3f} s, {t_py / t_fast:.1f}x; "
          f"same scores: {s_fast == s_py} (mean {sum(s_fast) / len(s_fast):.3f}%)")


if __name__ == "__main__":
    main()
