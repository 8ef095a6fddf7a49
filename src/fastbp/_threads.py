"""How many threads the compiled core uses: the one owner of that number.

Default: $OMP_NUM_THREADS if set, else every core this process may run on.
Results never depend on it (see fastbp._core), only the speed does.
"""
import os
import warnings

from . import _core
from ._validation import check_positive_int


def _default():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_OPENMP = _core.build_info()["openmp"]
_num_threads = _default() if _OPENMP else 1


def set_num_threads(n):
    """Use n threads for the compiled work (1 if built without OpenMP)."""
    global _num_threads
    n = check_positive_int(n, "n")
    if not _OPENMP and n > 1:
        warnings.warn("fastbp was built without OpenMP; running on one thread", RuntimeWarning)
        n = 1
    _num_threads = n


def get_num_threads():
    """Number of threads the compiled core uses."""
    return _num_threads
