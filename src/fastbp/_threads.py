"""How many threads the compiled core uses: the one owner of that number.

Default: $OMP_NUM_THREADS if set, else every core this process may run on.
Results never depend on it (see fastbp._core), only the speed does.
"""
import functools
import os
import threading
import warnings
import weakref

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
# GNU libgomp's thread pool does not survive fork(): a child forked after the
# parent ran a parallel region hangs in its first team of more than one
# thread. Forked children (multiprocessing's "fork", joblib) use one thread.
_forked = False


# Models whose locks a forked child must check (see forget_dead_owners).
_models: weakref.WeakSet = weakref.WeakSet()


def forget_dead_owners(model):
    """Track `model` (its compute_lock, an RLock, and fit_lock, whose holder
    is `fit_owner`): in a forked child, a lock held by a thread other than
    the forking one (a fit running in another thread) would never be
    released, as that thread does not exist there; it is replaced. The forking thread's own stay held (a fit callback
    that forked goes on with the fit)."""
    _models.add(model)


def _after_fork_in_child():
    global _num_threads, _forked
    _forked = True
    _num_threads = 1
    for model in list(_models):
        if model.compute_lock._is_owned():
            continue
        if model.compute_lock.acquire(blocking=False):
            model.compute_lock.release()
        else:
            model.compute_lock = threading.RLock()
        if model.fit_lock.locked() and getattr(model, "fit_owner", None) != threading.get_ident():
            model.fit_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def set_num_threads(n):
    """Use n threads for the compiled work (1 if built without OpenMP).

    Parameters
    ----------
    n : int
        The most threads (≥ 1); a batch with little work runs on fewer.
    """
    global _num_threads
    n = check_positive_int(n, "n")
    if not _OPENMP and n > 1:
        warnings.warn("fastbp was built without OpenMP; running on one thread", RuntimeWarning)
        n = 1
    elif _forked and n > 1:
        warnings.warn("fastbp runs on one thread in a forked child process (OpenMP's thread "
                      "pool does not survive fork; use the 'spawn' start method for more)",
                      RuntimeWarning)
        n = 1
    _num_threads = n


def get_num_threads():
    """Number of threads the compiled core may use."""
    return _num_threads


# A thread pays for itself only with enough work between two barriers: below
# this many multiply-adds per batch and thread, more threads are slower (and
# on a busy machine much slower, waiting at barriers for a preempted peer).
# Measured on a 2-core machine (samples/s, 2 threads against 1), with layers
# of 48 units or more cut in two: 64-100-10 (scikit-learn's digits) at batch
# 64 to 200 1.24-1.35x (batch 200 is 1.48M multiply-adds), and 2 threads
# were fast for it in every process. 784-30-10 at batch 10 (238k) was
# 1.13-1.28x in 10 of 10 processes that ran only it, but 0.73x in each of
# three full `fastbp bench` processes (and in an earlier session 0.72-0.79x
# in half the processes, all fast with OMP_PROC_BIND=true: where the
# threads are placed, with a barrier every ~2 µs, five a batch). So such a
# batch stays on one thread in this schedule; S now trains on two in its own
# (MIN_WORK_EVERYWHERE). Results never depend on the count, so the core may
# use fewer threads than allowed.
MIN_WORK_PER_THREAD = 500_000
# Where every thread computes the output layer (_core.output_everywhere),
# training crosses two barriers a batch instead of five, and a second thread
# pays from far less work: 784-30-10 float64 on 2 threads against 1 (median
# of 8 alternations, a busy host), batch 1 (23.8k multiply-adds) 0.87x,
# batch 2 1.21x, 4 1.19x, 6 1.34x, 10 1.19-1.42x, 16 1.44x.
MIN_WORK_EVERYWHERE = 20_000
adaptive = True  # the test suite turns it off to exercise every thread count


def thread_setting():
    """What threads_for chooses from besides the work: a choice made under
    this setting stays right while it holds."""
    return _num_threads, adaptive


def threads_for(macs_per_batch, pieces, min_work=MIN_WORK_PER_THREAD):
    """Threads to use for batches of this many multiply-adds, whose products
    are cut into at most `pieces` pieces (more threads would only wait),
    at least min_work of them a thread."""
    if not adaptive:
        return _num_threads
    return max(1, min(_num_threads, pieces, macs_per_batch // min_work))


@functools.lru_cache(maxsize=64)
def batch_work(sizes, cap):
    """(multiply-adds, the most pieces a product is cut into) of a batch of
    `cap` rows through layers of `sizes`: what threads_for weighs, made once
    a shape (a forward call would spend microseconds on it)."""
    macs = cap * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    # no more threads than the most pieces a product is cut into (of a
    # layer's units or inputs in training, of the rows in inference):
    # another one would only wait at the barriers, with a batch copy
    pieces = max([_core.pieces_for(cap)]
                 + [max(_core.pieces_for(b), _core.input_pieces_for(a, b))
                    for a, b in zip(sizes[:-1], sizes[1:])])
    return macs, pieces
