"""Reliability under repetition, crashes, fork and threads (issue 7).

- 1,000 calls of fit / gradients / forward do not grow resident memory.
- save is atomic: a child saving in a loop and SIGKILLed at random moments
  always leaves a loadable model at the target, either the last one it
  finished saving or the one it was saving.
- a child forked after the parent ran OpenMP threads can train (libgomp's
  thread pool does not survive fork; the child must not hang on it).
- two Python threads calling one network concurrently get exactly the
  single-threaded results; the core's own threads count each sample once.
"""
import gc
import multiprocessing
import os
import queue as queue_module
import random
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import fastbp

PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def small_problem(sizes=(200, 64, 10), n=40, seed=0):
    """A net whose params (~100 KB) and work buffers would each show in RSS
    if one leaked per call."""
    net = fastbp.Network(list(sizes), seed=seed)
    rng = np.random.default_rng(seed)
    return net, rng.standard_normal((n, sizes[0])), rng.integers(0, sizes[-1], n)


REPEATED = {
    "fit": lambda net, X, y: net.fit(X, y, epochs=1, batch_size=10, lr=0.1, seed=0),
    "gradients": lambda net, X, y: net.gradients(X, y),
    "forward": lambda net, X, y: net.forward(X),
}


def under_asan():
    with open("/proc/self/maps") as f:
        return "libasan" in f.read()


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
@pytest.mark.skipif(os.path.exists("/proc/self/maps") and under_asan(),
                    reason="ASan's quarantine keeps freed memory resident")
@pytest.mark.parametrize("method", list(REPEATED))
def test_repeated_calls_do_not_grow_memory(method):
    net, X, y = small_problem()
    call = REPEATED[method]
    for _ in range(100):  # warm-up: plan caches, allocator pools
        call(net, X, y)
    gc.collect()
    before = resident_bytes()
    for _ in range(1000):
        call(net, X, y)
    gc.collect()
    grown = resident_bytes() - before
    # one params-sized leak per call would be ~100 MB
    assert grown < 8 << 20, \
        f"resident memory grew by {grown / 2**20:.1f} MiB over 1,000 {method} calls"


# ------------------------------------------------------------------ save under SIGKILL

SAVER = textwrap.dedent("""
    import sys
    import fastbp
    path = sys.argv[1]
    net = fastbp.Network([1000, 1000, 8], seed=0)  # 8 MB of params: a save takes a while
    k = 0
    while True:
        net.params[...] = k
        print("saving", k, flush=True)
        net.save(path)
        print("saved", k, flush=True)
        k += 1
""")


@pytest.mark.parametrize("trial", range(6))
def test_save_killed_at_a_random_moment_leaves_a_whole_model(tmp_path, trial):
    path = tmp_path / "model.npz"
    child = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        assert child.stdout.readline().split() == ["saving", "0"]
        assert child.stdout.readline().split() == ["saved", "0"]
        # a moment in the middle of the save loop: after 0-300 ms of saving
        threading.Event().wait(random.Random(trial).uniform(0, 0.3))
    finally:
        child.kill()
        lines = child.communicate()[0].split("\n")
    # whole lines only: the kill may cut the child's last line short
    words = [l.split() for l in lines]
    done = [int(w[1]) for w in words if len(w) == 2 and w[0] == "saved" and w[1].isdigit()]
    begun = [int(w[1]) for w in words if len(w) == 2 and w[0] == "saving" and w[1].isdigit()]
    last_saved = done[-1] if done else 0
    net = fastbp.load(path)  # never a half-written file
    assert net.sizes == (1000, 1000, 8)
    values = np.unique(net.params)
    assert values.size == 1, "the file mixes two saves"
    assert int(values[0]) in {last_saved, max(begun, default=0)}


# ------------------------------------------------------------------ fork after OpenMP

def _train_in_child(queue, threads):
    if threads is not None:
        fastbp.set_num_threads(threads)
    net, X, y = small_problem(n=200)
    net.fit(X, y, epochs=2, batch_size=20, lr=0.1, seed=1)
    queue.put(net.params.tobytes())


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_training_in_forked_children_after_openmp_does_not_hang():
    old = fastbp.get_num_threads()
    fastbp.set_num_threads(2)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    # threads in the child: inherited (2), 1, and asked for again (2).
    # Daemons, killed below: a hung child must fail this test, not hang pytest's exit.
    children = [ctx.Process(target=_train_in_child, args=(queue, t), daemon=True)
                for t in (None, 1, 2, None)]
    try:
        net, X, y = small_problem(n=200)  # the parent's OpenMP pool is now running
        net.fit(X, y, epochs=2, batch_size=20, lr=0.1, seed=1)
        for c in children:
            c.start()
        results, deadline = [], time.monotonic() + 10  # each child trains for milliseconds
        while len(results) < len(children) and time.monotonic() < deadline:
            try:
                results.append(queue.get(timeout=0.5))
            except queue_module.Empty:
                pass
        assert len(results) == len(children), \
            f"{len(children) - len(results)} of {len(children)} forked children hung in training"
        for c in children:
            c.join(timeout=10)
        assert all(c.exitcode == 0 for c in children)
        # results do not depend on the thread count, in a child or not
        assert all(r == net.params.tobytes() for r in results)
    finally:
        for c in children:
            if c.is_alive():
                c.kill()
                c.join()
        fastbp.set_num_threads(old)


# ------------------------------------------------------------------ threads

CONCURRENT = {
    "forward": lambda net, X, y: net.forward(X),
    "gradients": lambda net, X, y: net.gradients(X, y)[1][0],
    "predict": lambda net, X, y: net.predict(X),
}


@pytest.mark.parametrize("other", list(CONCURRENT))
def test_threads_calling_one_network_get_single_threaded_results(other):
    """forward in one thread, `other` in another, on one network; different
    batch sizes, so both use (and evict) the network's cached work plans."""
    net, X, y = small_problem(n=1200)
    jobs = [("forward", X[:7]), ("forward", X[:1100]), (other, X[:33]), (other, X[:1])]
    expected = [CONCURRENT[m](net, Xs, y[:len(Xs)]).copy() for m, Xs in jobs]
    errors = []
    start = threading.Barrier(2)

    def worker(mine):
        start.wait()
        for i in range(200):
            j = mine[i % len(mine)]
            m, Xs = jobs[j]
            got = CONCURRENT[m](net, Xs, y[:len(Xs)])
            if not np.array_equal(got, expected[j]):
                errors.append((m, len(Xs), i))
                return

    threads = [threading.Thread(target=worker, args=(idx,)) for idx in ([0, 1], [2, 3])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, f"wrong results under concurrency: {errors[:5]}"


def test_epoch_accuracy_with_threads_counts_every_sample_once():
    """One full batch per epoch: fit's 'accuracy' is that of the network before
    the update, whatever the threads do. (A data race here -- every thread
    summing the batch's correct count into one shared variable -- showed as a
    wrong accuracy, now and then, in tools/sanitize.sh's build.)"""
    old = fastbp.get_num_threads()
    fastbp.set_num_threads(2)
    try:
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((2000, 100)), rng.integers(0, 10, 2000)
        for seed in range(40):  # big enough a batch that both threads work
            net = fastbp.Network([100, 64, 10], cost="cross_entropy", seed=seed)
            expected = net.evaluate(X, y)["accuracy"]
            history = net.fit(X, y, epochs=1, batch_size=len(X), lr=0.1)
            assert history["accuracy"][0] == expected, f"seed {seed}"
    finally:
        fastbp.set_num_threads(old)


# ------------------------------------------------------------------ hostile files (issue #14)

def _seconds(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def test_deep_network_builds_and_loads_in_linear_time(tmp_path):
    """32,000 one-unit layers took 27 s to load: per-layer work rebuilt the
    list of every layer's activation for each layer."""
    small, big = [1] * 4_000, [1] * 32_000
    fastbp.Network(small, seed=0).save(tmp_path / "small.npz")
    fastbp.Network(big, seed=0).save(tmp_path / "big.npz")
    t_small = _seconds(lambda: fastbp.load(tmp_path / "small.npz"))
    t_big = _seconds(lambda: fastbp.load(tmp_path / "big.npz"))
    # 8x the layers: linear is ~8x the time, quadratic 64x
    assert t_big < 24 * t_small + 0.5, (t_small, t_big)
    assert t_big < 5, (t_small, t_big)


def _peak_bytes(call, errors=(ValueError,)):
    """Peak Python and NumPy allocation (tracemalloc sees both) of call(),
    which must raise one of `errors`; returns (peak, the exception)."""
    import tracemalloc
    tracemalloc.start()
    try:
        with pytest.raises(errors) as info:
            call()
        return tracemalloc.get_traced_memory()[1], info.value
    finally:
        tracemalloc.stop()


def test_network2_file_is_checked_before_allocating(tmp_path):
    """An 82-byte network2 file declaring 12000x12000 weights allocated and
    initialised 144M weights before it was refused."""
    import json
    from fastbp.compat import network2
    path = tmp_path / "n2.json"
    path.write_text(json.dumps({"sizes": [12000, 12000], "weights": [], "biases": [],
                                "cost": "CrossEntropyCost"}))
    peak, e = _peak_bytes(lambda: network2.load(path))
    assert peak < 8 << 20 and str(path) in str(e), (peak, e)
    # rows that claim a wide layer without holding its numbers
    path.write_text(json.dumps({"sizes": [4000, 3000, 1], "weights": [[[0.0] * 4000] + [[]] * 2999,
                                [[0.0] * 3000]], "biases": [[[0.0]]] * 2,
                                "cost": "QuadraticCost"}))
    peak, e = _peak_bytes(lambda: network2.load(path))
    assert peak < 8 << 20, peak
    path.write_text('{"sizes": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(ValueError, match="n2.json"):
        network2.load(path)


def test_network2_round_trip_still_works(tmp_path):
    from fastbp.compat import network2
    net = network2.Network([3, 4, 2])
    net.save(tmp_path / "n2.json")
    back = network2.load(tmp_path / "n2.json")
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b)
