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


def _model_bomb(path, sizes, declared_bytes=None):
    """A model file whose header asks for `sizes` and whose params.npy is
    that many float64 zeros, deflated (about 1 KB per MB). With
    declared_bytes, the zip's size fields of params.npy say that instead."""
    import json
    import struct
    import zipfile
    n = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    head = {"format": "fastbp-model", "version": 1, "sizes": sizes, "activation": "sigmoid",
            "output_activation": "sigmoid", "cost": "quadratic", "dtype": "float64"}
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(head).encode(), np.uint8))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("header.npy", buf.getvalue())
        with z.open("params.npy", "w") as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
            for start in range(0, 8 * n, 1 << 22):
                f.write(bytes(min(1 << 22, 8 * n - start)))
    if declared_bytes is not None:  # patch the local header and the central directory
        data = bytearray(path.read_bytes())
        name = b"params.npy"
        local = data.index(b"PK\x03\x04" + data[data.index(name) - 26:data.index(name) - 26])
        for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            pos = 0
            while True:
                pos = data.index(sig, pos)
                name_at = pos + (30 if sig == b"PK\x03\x04" else 46)
                if data[name_at:name_at + len(name)] == name:
                    data[pos + off:pos + off + 4] = struct.pack("<I", declared_bytes)
                    break
                pos += 4
        del local
        path.write_bytes(bytes(data))
    return path


import io  # noqa: E402


@pytest.mark.parametrize("declared", [1000, 10 << 30 >> 4], ids=["declares less", "declares more"])
def test_model_bomb_is_refused_before_allocating(tmp_path, declared):
    """A 510 KB model file expanded to 1.58 GB before it was refused. The zip's
    size of each member must be what the header's sizes make, and deflate's
    maximum ratio bounds what its compressed bytes can hold, both checked
    before anything is decompressed or allocated."""
    path = _model_bomb(tmp_path / "bomb.npz", [4096, 4096], declared_bytes=declared)
    assert path.stat().st_size < 400_000
    peak, e = _peak_bytes(lambda: fastbp.load(path))
    assert "bomb.npz" in str(e) and peak < 16 << 20, (peak, e)


def test_params_member_is_read_into_the_network_without_a_second_copy(tmp_path):
    """A model is read straight into the network's buffer, in chunks."""
    net = fastbp.Network([2000, 2000], seed=0)   # 32 MB of params
    net.save(tmp_path / "m.npz")
    import tracemalloc
    tracemalloc.start()
    try:
        back = fastbp.load(tmp_path / "m.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(back.params, net.params)
    # the network itself and little else: no copy of the data, no temporaries of its size
    assert peak < 1.5 * net.params.nbytes, peak / net.params.nbytes


def _resave(src, dst, header_change=None, state_change=None):
    """Copy model file src to dst with its JSON header and optimizer state edited."""
    import json
    with np.load(src) as z:
        members = {k: z[k] for k in z.files}
    header = json.loads(members["header"].tobytes())
    if header_change:
        header_change(header)
    if state_change:
        members["optimizer_state"] = members["optimizer_state"].copy()
        state_change(members["optimizer_state"].reshape(header["optimizer"]["n_state"], -1))
    members["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(dst, **members)
    return dst


@pytest.mark.parametrize("optimizer,row,edit", [
    ("adam", 1, "negative"), ("rmsprop", 0, "negative"), ("adagrad", 0, "negative"),
    ("rprop", 1, "negative"), ("adam", None, "steps 2**63"), ("sgd", None, "steps -1"),
    ("adam", None, "steps true")])
def test_optimizer_state_is_validated_at_load(tmp_path, optimizer, row, edit):
    """Second moments, accumulators and step sizes cannot be negative; the
    step count must be an integer the compiled core can count on from."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    net = fastbp.Network([3, 4, 2], seed=0)
    opt = fastbp.optim.SGD(lr=0.1, momentum=0.9) if optimizer == "sgd" else optimizer
    net.fit(X, y, epochs=2, batch_size=5, lr=0.01, optimizer=opt, seed=0)
    net.save(tmp_path / "good.npz", include_optimizer=True)
    fastbp.load(tmp_path / "good.npz")   # as saved, it loads
    steps = {"steps 2**63": 2**63, "steps -1": -1, "steps true": True}.get(edit)

    def header_change(h):
        if steps is not None:
            h["optimizer"]["steps"] = steps

    def state_change(state):
        if row is not None:
            state[row, 3] = -1.0

    bad = _resave(tmp_path / "good.npz", tmp_path / "bad.npz", header_change, state_change)
    with pytest.raises(ValueError, match="bad.npz.*optimizer"):
        fastbp.load(bad)


@pytest.mark.parametrize("kind", ["str", "bytes", "pathlike"])
def test_save_and_load_take_str_bytes_and_pathlike(tmp_path, kind):
    import pathlib
    from fastbp.compat import fann
    net = fastbp.Network([2, 3, 1], seed=0)
    as_kind = {"str": str, "bytes": os.fsencode, "pathlike": pathlib.Path}[kind]
    net.save(as_kind(str(tmp_path / "m.npz")))
    assert np.array_equal(fastbp.load(as_kind(str(tmp_path / "m.npz"))).params, net.params)
    fann.save(net, as_kind(str(tmp_path / "m.net")))
    assert np.allclose(fann.load(as_kind(str(tmp_path / "m.net"))).params, net.params)
    with pytest.raises(ValueError, match="nope.npz"):  # errors name the path as text
        (tmp_path / "nope.npz").write_bytes(b"PK\x03\x04junk")
        fastbp.load(as_kind(str(tmp_path / "nope.npz")))


# ------------------------------------------------------------------ saving over files (issue #14)

import stat  # noqa: E402

from fastbp import _io  # noqa: E402

SAVERS = {
    "model": lambda net, path: net.save(path),
    "fann": lambda net, path: __import__("fastbp.compat.fann").compat.fann.save(net, path),
}


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _leftovers(directory):
    return [p for p in os.listdir(directory) if "fastbp-tmp" in p or p.endswith(".tmp")]


@pytest.mark.parametrize("saver", list(SAVERS))
def test_save_keeps_the_mode_of_an_existing_file(tmp_path, saver):
    net = fastbp.Network([2, 3, 1], seed=0)
    path = tmp_path / "private"
    SAVERS[saver](net, path)
    os.chmod(path, 0o600)
    SAVERS[saver](net, path)
    assert _mode(path) == 0o600
    os.chmod(path, 0o640)
    SAVERS[saver](net, path)
    assert _mode(path) == 0o640


def test_save_gives_a_new_file_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        fastbp.Network([2, 1]).save(tmp_path / "new.npz")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "new.npz") == 0o640


@pytest.mark.parametrize("saver", list(SAVERS))
def test_save_through_a_symlink_updates_its_target(tmp_path, saver):
    net = fastbp.Network([2, 3, 1], seed=0)
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model"
    SAVERS[saver](fastbp.Network([2, 3, 1], seed=1), target)
    link = tmp_path / "link"
    link.symlink_to(target)
    SAVERS[saver](net, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    loaded = fastbp.load(target) if saver == "model" else None
    assert loaded is None or np.array_equal(loaded.params, net.params)
    assert not _leftovers(tmp_path) and not _leftovers(tmp_path / "real")
    # a dangling link: its target is created
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "real" / "new")
    SAVERS[saver](net, dangling)
    assert dangling.is_symlink() and (tmp_path / "real" / "new").is_file()


def _special_files(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    yield fifo
    if os.geteuid() == 0:  # a copy of /dev/null
        node = tmp_path / "fakenull"
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        yield node
    yield tmp_path / "dir"


@pytest.mark.parametrize("saver", list(SAVERS))
def test_save_refuses_what_is_not_a_regular_file(tmp_path, saver):
    (tmp_path / "dir").mkdir()
    net = fastbp.Network([2, 3, 1], seed=0)
    for path in _special_files(tmp_path):
        kind = stat.S_IFMT(os.lstat(path).st_mode)
        with pytest.raises(OSError) as info:
            SAVERS[saver](net, path)
        assert str(path) in str(info.value) and "fastbp-tmp" not in str(info.value)
        assert stat.S_IFMT(os.lstat(path).st_mode) == kind, f"{path} was replaced"
    assert not _leftovers(tmp_path)


def test_failed_save_removes_its_temp_file_and_names_the_users_path(tmp_path, monkeypatch):
    import errno
    path = tmp_path / "model.npz"
    fastbp.Network([2, 1], seed=0).save(path)
    before = path.read_bytes()

    def disk_full(f):
        f.write(b"PK")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left") as info:
        _io.atomic_write(path, disk_full)
    assert info.value.filename == str(path), info.value
    assert path.read_bytes() == before and not _leftovers(tmp_path)


def test_temp_files_of_killed_saves_are_cleaned_by_the_next_save(tmp_path):
    """A save killed between creating its temp file and renaming it leaves
    the temp file; the next save of that target removes it once its process
    is gone (here: a pid that no longer exists)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid is now free
    stale = tmp_path / f".model.npz.{_io._HOST}-{child.pid}-{'0' * 16}.fastbp-tmp"
    stale.write_bytes(b"half a model")
    alive = tmp_path / f".model.npz.{_io._HOST}-{os.getpid()}-{'1' * 16}.fastbp-tmp"
    alive.write_bytes(b"a save in progress")
    fastbp.Network([2, 1]).save(tmp_path / "model.npz")
    assert not stale.exists(), "the dead process's temp file is still there"
    assert alive.exists(), "a running process's temp file was removed"


def test_writable_file_in_a_read_only_directory_is_rewritten_in_place(tmp_path, monkeypatch):
    """Root ignores directory permissions, so the read-only directory is
    simulated: creating the temp file fails with EACCES."""
    import errno
    path = tmp_path / "model.npz"
    fastbp.Network([2, 3, 1], seed=0).save(path)
    os.chmod(path, 0o640)
    inode = os.stat(path).st_ino

    def read_only_directory(directory, name):
        raise PermissionError(errno.EACCES, "Permission denied", os.path.join(directory, "x"))

    monkeypatch.setattr(_io, "_create_temp", read_only_directory)
    net = fastbp.Network([2, 3, 1], seed=7)
    net.save(path)
    assert os.stat(path).st_ino == inode and _mode(path) == 0o640
    assert np.array_equal(fastbp.load(path).params, net.params)
    # a new file cannot be made there: the error names the user's path
    with pytest.raises(PermissionError) as info:
        net.save(tmp_path / "new.npz")
    assert info.value.filename == str(tmp_path / "new.npz")


# ------------------------------------------------------------------ data files and the CLI (issue #14)

from fastbp import cli  # noqa: E402
from fastbp.datasets import load_csv, standardize_stats  # noqa: E402


@pytest.mark.parametrize("labels,expected", [
    (["0", "100000000000000000000"], "beyond"),                      # wrapped to -2**63
    (["0", "-1e19"], "beyond"),
    ([str(2**53), str(2**53 + 1)], [2**53, 2**53 + 1]),              # merged through float64
    ([str(2**62 + 1), "3"], [2**62 + 1, 3]),
    (["4503599627370496.5", "1"], "float"),                          # not whole: real targets
    (["1", "2.0", "3e0"], [1, 2, 3]),
])
def test_csv_labels_are_exact_integers_or_refused(tmp_path, labels, expected):
    path = tmp_path / "labels.csv"
    path.write_text("a,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(labels)))
    if expected == "beyond":
        with pytest.raises(ValueError, match=r"labels.csv, line 3, column 2 \('y'\).*beyond"):
            load_csv(path)
    elif expected == "float":
        assert load_csv(path)[1].dtype == np.float64
    else:
        y = load_csv(path)[1]
        assert y.dtype == np.int64 and y.tolist() == expected


def test_non_utf8_csv_error_names_the_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,b\n1,0\n2,\xe91\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.csv.*not UTF-8"):
        load_csv(path)


def test_standardize_stats_of_huge_features_are_finite():
    X = np.array([[1e200, 1.0], [-1e200, 2.0], [3e200, 3.0]])
    mean, std = standardize_stats(X)
    assert np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()
    Z = (X - mean) / std
    np.testing.assert_allclose(Z.std(axis=0), 1.0)   # not zeroed


def _cli(argv, capsys):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _one_line_error(status, err, *words):
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("fastbp: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err


@pytest.fixture
def trained(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4))
    rows = [",".join(f"{v:.4f}" for v in x) + f",{int(x[0] > 0)}" for x in X]
    (tmp_path / "ok.csv").write_text("a,b,c,d,y\n" + "\n".join(rows) + "\n")
    status, _, err = _cli(["train", tmp_path / "ok.csv", "--layers", "3,2", "--epochs", "1",
                           "--out", tmp_path / "m.npz"], capsys)
    assert status == 0, err
    return tmp_path


def test_cli_layers_beyond_memory_are_refused_before_allocating(trained, capsys):
    status, _, err = _cli(["train", trained / "ok.csv", "--layers", "1000000000,2",
                           "--out", trained / "big.npz"], capsys)
    _one_line_error(status, err, "--layers", "GiB")
    assert not (trained / "big.npz").exists()


@pytest.mark.parametrize("content,words", [
    ('{"format": "fastbp-cli-sidecar", "version": 1, "target": true, "classes": [0, 1], '
     '"standardize": null}', ["m.npz.json"]),
    ("[" * 200_000, ["m.npz.json", "nested"]),
    ("/dev/zero", ["m.npz.json", "regular file"]),
    ('{"format": "fastbp-cli-sidecar", "version": 1, "target": -1, '
     '"classes": [0, 100000000000000000000], "standardize": null}', ["m.npz.json"]),
], ids=["target true", "nested", "dev zero", "huge class"])
def test_cli_hostile_sidecars_are_one_line_errors(trained, capsys, content, words):
    side = trained / "m.npz.json"
    side.unlink()
    if content == "/dev/zero":
        side.symlink_to("/dev/zero")
    else:
        side.write_text(content)
    for command in ("evaluate", "predict"):
        status, _, err = _cli([command, trained / "m.npz", trained / "ok.csv"], capsys)
        _one_line_error(status, err, *words)


def test_cli_standardize_huge_feature_writes_valid_json(tmp_path, capsys):
    import json
    rows = [f"{(-1) ** i * 1e200 * (1 + i % 3)},{i % 5},{i % 2}" for i in range(40)]
    (tmp_path / "huge.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    status, _, err = _cli(["train", tmp_path / "huge.csv", "--standardize", "--epochs", "1",
                           "--layers", "3,2", "--out", tmp_path / "m.npz"], capsys)
    assert status == 0, err

    def refuse(constant):
        raise AssertionError(f"{constant} in the sidecar")

    side = json.loads((tmp_path / "m.npz.json").read_text(), parse_constant=refuse)
    assert side["standardize"]["std"][0] > 1e199


def test_cli_full_disk_leaves_model_and_sidecar_both_old(trained, capsys, monkeypatch):
    """The model used to be replaced and the sidecar left truncated."""
    import errno
    model, side = trained / "m.npz", trained / "m.npz.json"
    before = model.read_bytes(), side.read_bytes()
    real = _io._create_temp
    calls = []

    def full_disk_for_the_second_file(directory, name):
        calls.append(name)
        fd, tmp = real(directory, name)
        if len(calls) == 2:  # the sidecar: its temp file cannot be written
            os.close(fd)
            os.unlink(tmp)
            raise OSError(errno.ENOSPC, "No space left on device")
        return fd, tmp

    monkeypatch.setattr(_io, "_create_temp", full_disk_for_the_second_file)
    status, _, err = _cli(["train", trained / "ok.csv", "--layers", "5,2", "--epochs", "1",
                           "--out", model], capsys)
    _one_line_error(status, err, "No space left", "m.npz")
    assert (model.read_bytes(), side.read_bytes()) == before
    assert not _leftovers(trained)
    monkeypatch.setattr(_io, "_create_temp", real)
    status, _, err = _cli(["train", trained / "ok.csv", "--layers", "5,2", "--epochs", "1",
                           "--out", model], capsys)
    assert status == 0 and fastbp.load(model).sizes == (4, 5, 2)
    assert '"classes"' in side.read_text()


def test_cli_model_and_sidecar_of_different_trains_are_refused(trained, capsys, monkeypatch):
    """The model and its sidecar are renamed one after the other: a crash
    between the two renames left a new model beside the old sidecar, which
    evaluate and predict read as a pair (another standardization, other
    classes). The sidecar names its model's SHA-256: a mixed pair, either
    way round, is a one-line error; the pairs train wrote are read."""
    import shutil

    class Crash(BaseException):
        """The process dying between the two renames."""

    model, side = trained / "m.npz", trained / "m.npz.json"
    old_model, old_side = model.read_bytes(), side.read_bytes()
    real_commit, commits = _io._Pending.commit, []

    def crash_before_the_second_rename(self):
        commits.append(self.path)
        if len(commits) == 2:
            raise Crash
        real_commit(self)

    monkeypatch.setattr(_io._Pending, "commit", crash_before_the_second_rename)
    with pytest.raises(Crash):
        _cli(["train", trained / "ok.csv", "--layers", "5,2", "--epochs", "1",
              "--no-standardize", "--out", model], capsys)
    monkeypatch.setattr(_io._Pending, "commit", real_commit)
    assert model.read_bytes() != old_model and side.read_bytes() == old_side  # new and old
    for command in ("evaluate", "predict"):
        status, _, err = _cli([command, model, trained / "ok.csv"], capsys)
        _one_line_error(status, err, "m.npz.json belongs to another model than", "m.npz")
    # the other way round: the first train's model beside a second train's sidecar
    status, _, err = _cli(["train", trained / "ok.csv", "--layers", "5,2", "--epochs", "1",
                           "--no-standardize", "--out", trained / "b.npz"], capsys)
    assert status == 0, err
    model.write_bytes(old_model)
    shutil.copy(trained / "b.npz.json", side)
    status, _, err = _cli(["evaluate", model, trained / "ok.csv"], capsys)
    _one_line_error(status, err, "m.npz.json belongs to another model than")
    side.write_bytes(old_side)  # the pairs as train wrote them
    for out in (model, trained / "b.npz"):
        status, _, err = _cli(["evaluate", out, trained / "ok.csv"], capsys)
        assert status == 0 and err == "", err
    # a sidecar that names no model (as before this check) is refused too
    side.write_text(old_side.decode().replace('"model_sha256"', '"model"'))
    status, _, err = _cli(["predict", model, trained / "ok.csv"], capsys)
    _one_line_error(status, err, "m.npz.json does not name the model file")


def test_cli_predict_out_keeps_mode_and_refuses_fifo(trained, capsys):
    out = trained / "pred.txt"
    out.write_text("old\n")
    os.chmod(out, 0o600)
    status, _, err = _cli(["predict", trained / "m.npz", trained / "ok.csv", "--out", out],
                          capsys)
    lines = out.read_text().split()  # a header, then one label per row
    assert status == 0 and _mode(out) == 0o600 and lines[0] == "label" and len(lines) == 41
    os.mkfifo(trained / "fifo")
    reader = os.open(trained / "fifo", os.O_RDONLY | os.O_NONBLOCK)  # a writer never blocks
    try:
        status, _, err = _cli(["predict", trained / "m.npz", trained / "ok.csv", "--out",
                               trained / "fifo"], capsys)
    finally:
        os.close(reader)
    _one_line_error(status, err, "fifo", "not a regular file")


CHILD = textwrap.dedent("""
    import resource, sys
    import fastbp.cli
    limit = int(sys.argv[1])
    if limit:  # address space: what is mapped now plus `limit` bytes
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (mapped + limit, resource.RLIM_INFINITY))
    sys.exit(fastbp.cli.main(sys.argv[2:]))
""")


def _cli_child(argv, limit=0, **kw):
    return subprocess.Popen([sys.executable, "-c", CHILD, str(limit), *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, **kw)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_cli_csv_beyond_memory_is_a_one_line_error(tmp_path):
    """A 600 MB CSV beyond memory ended in a MemoryError traceback; here a
    20 MB one under an address-space limit of 150 MB."""
    with open(tmp_path / "big.csv", "w") as f:
        f.write("a,b,c,y\n")
        f.write("1,2,3,0\n0,1,2,1\n" * 1_300_000)
    child = _cli_child(["train", tmp_path / "big.csv", "--out", tmp_path / "m.npz"],
                       limit=150 << 20)
    _, err = child.communicate(timeout=300)
    _one_line_error(child.returncode, err, "memory")


def test_cli_ctrl_c_in_train_is_one_line_and_status_130(tmp_path):
    import signal
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 20))
    rows = [",".join(f"{v:.3f}" for v in x) + f",{int(x[0] > 0)}" for x in X]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    child = _cli_child(["train", tmp_path / "d.csv", "--epochs", "100000", "--layers", "64,2",
                        "--out", tmp_path / "m.npz"])
    try:
        child.stdout.readline()   # the first line: training has begun
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert err.strip().splitlines() == ["fastbp: interrupted"], err


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("kind", ["fann", "network2"])
def test_endless_files_are_refused(tmp_path, kind):
    """/dev/zero (behind a symlink, as a user might pass it) was read until
    memory ran out."""
    from fastbp.compat import fann, network2
    link = tmp_path / "endless"
    link.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match="endless.*not a regular file"):
        (fann.load if kind == "fann" else network2.load)(link)


# ------------------------------------------------ issue 14: fork, signals, non-finite

def _run_script(script, timeout=120, threads="2"):
    """Run `script` in a fresh interpreter (fastbp on 2 threads); its
    (returncode, stdout + stderr). The child is killed on a timeout."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": threads})
    try:
        out, _ = child.communicate(timeout=timeout)
    finally:
        child.kill()
    return child.returncode, out


FORK_PRELUDE = """
    import os, signal, threading, time, numpy as np, fastbp
    from fastbp import _threads
    _threads.adaptive = False   # the 2-thread plan, whatever the machine
    fastbp.set_num_threads(2)
    rng = np.random.default_rng(0)
    X = rng.random((1024, 784)); y = rng.integers(0, 10, 1024)
    net = fastbp.Network([784, 256, 10], activation="relu", cost="cross_entropy", seed=0)

    def wait_for(pid):
        # the child's fate within 60 s; killed (and reported) if it hangs
        for _ in range(600):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return "exit %d" % os.waitstatus_to_exitcode(status)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "hung"
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_fork_inside_a_fit_callback_child_finishes_the_fit():
    """A child forked in a callback returned into the running fit, whose
    Plan was made for 2 threads, and hung in libgomp's barrier."""
    code, out = _run_script(FORK_PRELUDE + """
    kid = []
    def cb(epoch, logs):
        if epoch == 0:
            pid = os.fork()
            if pid:
                kid.append(pid)
    net.fit(X, y, epochs=3, batch_size=64, lr=0.05, callbacks=[cb])
    if not kid:                       # the child: the fit finished
        os._exit(7 if np.isfinite(net.params).all() else 1)
    print("child:", wait_for(kid[0]))
    """)
    assert "child: exit 7" in out, out


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_fork_while_another_thread_fits_child_can_forward():
    """The child of a process whose other thread is inside fit: that thread
    (and the locks it holds) do not exist in the child; forward must run."""
    code, out = _run_script(FORK_PRELUDE + """
    started = threading.Event()
    def cb(epoch, logs):
        started.set()
    t = threading.Thread(target=net.fit, args=(X, y),
                         kwargs=dict(epochs=40, batch_size=64, lr=0.05, callbacks=[cb]))
    t.start()
    started.wait()
    time.sleep(0.05)                  # inside an epoch
    pid = os.fork()
    if pid == 0:
        out = net.forward(X[:5])
        os._exit(7 if out.shape == (5, 10) else 1)
    print("child:", wait_for(pid))
    t.join()
    """)
    assert "child: exit 7" in out, out


SIGINT_PRELUDE = """
    import os, signal, threading, numpy as np, fastbp
    rng = np.random.default_rng(0)
    X = rng.random((1024, 784)); y = rng.integers(0, 10, 1024)
    net = fastbp.Network([784, 256, 10], activation="relu", cost="cross_entropy", seed=0)
    def pester():  # SIGINT every 20 ms while fit runs
        while not done.wait(0.02):
            os.kill(os.getpid(), signal.SIGINT)
    done = threading.Event()
    threading.Thread(target=pester, daemon=True).start()
    net.fit(X, y, epochs=8, batch_size=128, lr=0.05)
    done.set()
    print("fit completed", seen)
"""


@pytest.mark.parametrize("handler", ["ignored", "python handler"])
def test_fit_respects_the_programs_sigint_handler(handler):
    """With SIGINT ignored, or handled by a handler that does not raise, fit
    raised KeyboardInterrupt all the same."""
    setup = ("seen = 'ignored'\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
             if handler == "ignored" else
             "seen = []\nsignal.signal(signal.SIGINT, lambda *a: seen.append(1))\n")
    code, out = _run_script(textwrap.dedent(SIGINT_PRELUDE).replace(
        "net = fastbp", setup + "net = fastbp", 1))
    assert code == 0 and "fit completed" in out, out
    if handler == "python handler":
        assert "fit completed [1" in out, out  # the program's handler ran


def test_ctrl_c_leaves_history_and_parameters_in_agreement():
    """e.history was one epoch short in about 1 Ctrl-C in 5 while the
    parameters held the finished epoch: a Ctrl-C in an epoch's last batch,
    or between the end of its compiled loop and its History entry
    (validation), let the epoch finish and raised before it was recorded.
    Here a Ctrl-C at 40 moments over a dozen epochs of two batches: after
    each, the parameters are those of len(e.history) epochs (and at most one
    more batch: a Ctrl-C stops at the next one), and every entry is whole."""
    code, out = _run_script("""
        import os, signal, threading, numpy as np, fastbp
        rng = np.random.default_rng(0)
        X, y = rng.random((512, 100)), rng.integers(0, 10, 512)
        kw = dict(batch_size=256, lr=0.5, shuffle=False, validation_data=(X[:256], y[:256]))
        make = lambda: fastbp.Network([100, 200, 10], seed=0)
        ref, batches = make(), []   # batches[k]: the parameters after k batches
        def after(k):
            while len(batches) <= k:
                if batches:  # an epoch's batch 1 is rows 0-255, its batch 2 rows 256-511
                    rows = slice(0, 256) if len(batches) % 2 else slice(256, 512)
                    ref.fit(X[rows], y[rows], epochs=1, **kw)
                batches.append(ref.params.copy())
            return batches[k]
        whole = make()
        whole.fit(X, y, epochs=2, **kw)
        assert np.array_equal(whole.params, after(4)), "the reference is not exact"
        seen = {}
        for trial in range(40):
            net = make()
            timer = threading.Timer(0.0005 + 0.001 * trial, os.kill,
                                    (os.getpid(), signal.SIGINT))
            try:
                timer.start()
                net.fit(X, y, epochs=10**6, **kw)
                raise SystemExit("fit ended before the Ctrl-C")
            except KeyboardInterrupt as e:
                history = getattr(e, "history", None)
            timer.join()
            if history is None:  # the Ctrl-C came before fit began
                continue
            done = len(history)
            if np.array_equal(net.params, after(2 * done)):
                seen["epoch"] = seen.get("epoch", 0) + 1
            elif np.array_equal(net.params, after(2 * done + 1)):
                seen["batch"] = seen.get("batch", 0) + 1
            else:
                print("disagree: the parameters are not those of", done, "epochs")
            if any(len(v) != done for v in history.history.values()):
                print("torn entry:", {k: len(v) for k, v in history.history.items()}, done)
        print("agree", seen)
    """)
    assert code == 0 and "agree" in out, out
    assert "disagree" not in out and "torn" not in out, out


@pytest.mark.parametrize("optimizer", ["sgd", "lbfgs"])
def test_ctrl_c_during_validation_records_the_epoch_its_parameters_hold(optimizer):
    """The window of the test above that Python code holds, hit every time:
    a Ctrl-C during the validation of epoch 3 (L-BFGS: of iteration 3, whose
    iterate the parameters already held). The epoch is recorded, then
    KeyboardInterrupt raised."""
    code, out = _run_script(f"""
        import os, signal, numpy as np, fastbp
        from fastbp import trainer
        rng = np.random.default_rng(0)
        X, y = rng.random((64, 5)), rng.integers(0, 3, 64)
        kw = dict(optimizer="{optimizer}", batch_size=16, shuffle=False, validation_data=(X, y))
        ref = fastbp.Network([5, 8, 3], seed=0)
        ref.fit(X, y, epochs=3, **kw)
        real, calls = trainer.validation_logs, []
        def interrupted(model, validation):
            calls.append(1)
            if len(calls) == 3:
                os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C during epoch 3's validation
            return real(model, validation)
        trainer.validation_logs = interrupted
        net = fastbp.Network([5, 8, 3], seed=0)
        try:
            net.fit(X, y, epochs=10, **kw)
        except KeyboardInterrupt as e:
            print("history", len(e.history), "params of 3 epochs",
                  np.array_equal(net.params, ref.params))
    """)
    assert "history 3 params of 3 epochs True" in out, out


def _blown_up(how):
    net = fastbp.Network([4, 5, 3], seed=0)
    if how == "apply_gradients":
        with pytest.raises(FloatingPointError, match="not finite"):
            net.apply_gradients(np.full(net.params.size, 1e300), lr=1e300)
        net.params[0] = np.inf   # what it would have left before: test fit and save too
    else:
        net.weights[0][0, 0] = np.nan
    return net


@pytest.mark.parametrize("how", ["apply_gradients", "nan written"])
@pytest.mark.parametrize("on_nonfinite", ["raise", "stop"])
def test_fit_from_non_finite_parameters_is_a_floating_point_error(how, on_nonfinite):
    """fit raised `AssertionError: unreachable: the epoch started from finite
    parameters`."""
    net = _blown_up(how)
    X = np.random.default_rng(0).random((20, 4))
    with pytest.raises(FloatingPointError, match="parameters are not finite"):
        net.fit(X, np.arange(20) % 3, epochs=1, on_nonfinite=on_nonfinite)


def test_apply_gradients_follows_on_nonfinite():
    net = fastbp.Network([4, 5, 3], seed=0)
    before = net.params.copy()
    huge = np.full(net.params.size, 1e300)
    with pytest.raises(FloatingPointError, match="not finite"):
        net.apply_gradients(huge, lr=1e300)
    np.testing.assert_array_equal(net.params, before)
    opt = fastbp.optim.Adam(lr=1e300)
    with pytest.warns(RuntimeWarning, match="not finite"):
        net.apply_gradients(huge, optimizer=opt, on_nonfinite="stop")
    np.testing.assert_array_equal(net.params, before)
    assert opt.steps == 0
    net.apply_gradients(np.ones(net.params.size), lr=0.1)   # a finite step still works
    assert not np.array_equal(net.params, before)


@pytest.mark.parametrize("how", ["apply_gradients", "nan written"])
def test_save_refuses_non_finite_parameters(tmp_path, how):
    """save wrote a file that load refuses."""
    net = _blown_up(how)
    with pytest.raises(ValueError, match="not finite"):
        net.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_sklearn_diverging_regressor_with_early_stopping_completes():
    """scikit-learn's test_mlp_diverging_loss: the fit completes with the
    best validated weights, NaN validation scores recorded."""
    import warnings
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from fastbp.sklearn import MLPRegressor
    X, y = load_iris(return_X_y=True)
    mlp = MLPRegressor(hidden_layer_sizes=100, activation="identity", solver="sgd",
                       alpha=0.0001, learning_rate="constant", learning_rate_init=1,
                       shuffle=True, max_iter=20, early_stopping=True, n_iter_no_change=10,
                       random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(X, y)
    assert str(mlp.validation_scores_[-1]) == str(np.nan)
    assert isinstance(mlp.validation_scores_[-1], float)
    assert np.isfinite(mlp.predict(X)).all()


def test_divergence_recovery_is_linear_and_names_the_batch(monkeypatch):
    """r08: W1 overflows to -inf in batch 1 while every cost stays finite.
    The recovery replayed the epoch from its start once per batch kept (time
    quadratic in the batches) and named batch 401 of a 400-batch epoch."""
    from fastbp import _core
    n = 400
    X = np.random.default_rng(0).uniform(0.5, 1, (n, 4))
    net = fastbp.Network([4, 3, 2], activation="sigmoid", cost="cross_entropy", seed=0)
    net.weights[1] = np.array([[1e200] * 3, [-1e200] * 3])
    rows = []
    real = _core.train_epoch

    def counting(plan, params, grads, X, Y, order, settings):
        rows.append(order.shape[0])
        return real(plan, params, grads, X, Y, order, settings)

    monkeypatch.setattr(_core, "train_epoch", counting)
    with pytest.raises(FloatingPointError, match=r"batch 1;.*after 0 batches"):
        net.fit(X, np.ones(n, int), epochs=1, batch_size=1, lr=1e110, shuffle=False)
    assert np.isfinite(net.params).all()
    assert sum(rows) <= 3 * n, f"{sum(rows)} rows trained to recover from a {n}-row epoch"


# (sizes, rows, fit's arguments): L-BFGS's iterations cost several epochs each
SNAPSHOT_FITS = {
    "sgd": ([784, 512, 10], 512, dict(epochs=30, batch_size=512, lr=0.5, shuffle=False)),
    "lbfgs": ([784, 128, 10], 256, dict(epochs=15, optimizer="lbfgs")),
}


def _snapshot(net, how, path):
    """The parameters of a save (read back) or a copy of `net`."""
    if how == "save":
        net.save(path)
        return fastbp.load(path).params
    return net.copy().params


@pytest.mark.parametrize("optimizer", list(SNAPSHOT_FITS))
@pytest.mark.parametrize("snapshot", ["save", "copy"])
def test_save_or_copy_during_fit_is_a_state_training_passed_through(tmp_path, snapshot,
                                                                    optimizer):
    """r07: save (and copy) from another thread during fit read the
    parameters in the middle of an update. The states training passes
    through: the parameters at the start and after each epoch (L-BFGS: each
    accepted iterate, never a trial point of its line search)."""
    import hashlib
    sizes, n, kw = SNAPSHOT_FITS[optimizer]
    rng = np.random.default_rng(0)
    X, y = rng.random((n, sizes[0])), rng.integers(0, sizes[-1], n)
    digest = lambda p: hashlib.sha1(p.tobytes()).digest()  # noqa: E731
    ref = fastbp.Network(sizes, seed=0)
    states = {digest(ref.params)}
    ref.fit(X, y, **kw, callbacks=[lambda epoch, logs: states.add(digest(ref.params))])
    states.add(digest(ref.params))
    net = fastbp.Network(sizes, seed=0)
    snaps, done = [], threading.Event()

    def take():
        while not done.is_set():
            snaps.append(digest(_snapshot(net, snapshot, tmp_path / "s.npz")))

    t = threading.Thread(target=take)
    t.start()
    try:
        net.fit(X, y, **kw)
    finally:
        done.set()
        t.join()
    assert snaps and sum(s not in states for s in snaps) == 0, \
        f"{sum(s not in states for s in snaps)} of {len(snaps)} snapshots are torn"


@pytest.mark.parametrize("optimizer", list(SNAPSHOT_FITS))
@pytest.mark.parametrize("snapshot", ["save", "copy"])
def test_save_or_copy_during_fit_waits_for_an_epoch_not_the_fit(tmp_path, snapshot, optimizer):
    """L-BFGS held the network's lock for the whole fit: a save or copy from
    another thread waited for the end of the fit, where the other fits make
    it wait for the end of the epoch at most. Here one is made from another
    thread during a callback (between epochs or iterations): it must finish
    while the fit waits, with the parameters of that moment."""
    sizes, n, kw = SNAPSHOT_FITS[optimizer]
    rng = np.random.default_rng(0)
    X, y = rng.random((n, sizes[0])), rng.integers(0, sizes[-1], n)
    net = fastbp.Network(sizes, seed=0)
    seen = {}

    def snapshot_from_another_thread(epoch, logs):
        if epoch == 1:
            seen["now"] = net.params.copy()
            t = threading.Thread(target=lambda: seen.setdefault(
                "snapshot", _snapshot(net, snapshot, tmp_path / "s.npz")), daemon=True)
            t.start()
            t.join(timeout=10)   # the fit holds its lock meanwhile, if it does
            seen["in time"] = not t.is_alive()
            return False         # the fit ends here (its lock, if held, with it)

    net.fit(X, y, **kw, callbacks=[snapshot_from_another_thread])
    assert seen["in time"], "the snapshot waited for the end of the fit"
    np.testing.assert_array_equal(seen["snapshot"], seen["now"])


def test_resized_params_are_refused_not_a_segfault():
    """`net.params.resize(16, refcheck=False)` then forward read past the
    buffer (a segfault). NumPy now refuses the resize (params is a view of a
    cache-line aligned buffer), and the core checks the lengths it is handed
    all the same: a params array of the wrong length is refused by each
    entry point."""
    code, out = _run_script("""
    import numpy as np, fastbp
    from fastbp import _core
    net = fastbp.Network([784, 256, 10], seed=0)
    X = np.random.default_rng(0).random((64, 784))
    Y = np.eye(10)[np.arange(64) % 10]
    try:
        net.params.resize(16, refcheck=False)
        raise SystemExit("resized")
    except ValueError:
        pass
    plan, short = net.plan(64), net.params[:16].copy()
    settings = _core.TrainSettings(lr=0.1, batch_size=64)
    for call in (lambda: _core.forward(plan, short, X, np.empty((64, 10))),
                 lambda: _core.gradients(plan, short, short.copy(), X, Y),
                 lambda: _core.train_epoch(plan, short, short.copy(), X, Y,
                                           np.arange(64), settings),
                 lambda: _core.evaluate(plan, short, X, Y, np.empty(64),
                                        np.empty(64, np.int8))):
        try:
            call()
        except ValueError as e:
            assert "params" in str(e), e
        else:
            raise SystemExit("no error")
    print("refused")
    """, threads="1")
    assert code == 0 and "refused" in out, (code, out)


@pytest.mark.parametrize("cost", ["cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("bad", [-0.5, 1.5])
def test_cross_entropy_targets_outside_0_1_are_refused(cost, bad):
    net = fastbp.Network([3, 4, 2], cost=cost, seed=0)
    X = np.random.default_rng(0).random((5, 3))
    Y = np.full((5, 2), 0.5)
    Y[2, 1] = bad
    for call in (lambda: net.fit(X, Y, epochs=1), lambda: net.loss(X, Y),
                 lambda: net.gradients(X, Y)):
        with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
            call()
    net.fit(X, np.full((5, 2), 0.5), epochs=1)   # probabilities still train


def test_batch_norm_refuses_batches_of_one():
    """As torch's BatchNorm1d in training: a batch of one trained silently."""
    net = fastbp.Network([3, 4, 2], batch_norm=True, seed=0)
    X = np.random.default_rng(0).random((6, 3))
    with pytest.raises(ValueError, match="more than one sample per batch"):
        net.fit(X, np.arange(6) % 2, epochs=1, batch_size=1)
    net.fit(X, np.arange(6) % 2, epochs=1, batch_size=2)


def test_optimizer_lr_set_negative_later_is_refused_at_use():
    """A negative lr set after construction trained by gradient ascent."""
    net = fastbp.Network([3, 4, 2], seed=0)
    X = np.random.default_rng(0).random((6, 3))
    opt = fastbp.optim.SGD(lr=0.1)
    opt.lr = -0.1
    before = net.params.copy()
    with pytest.raises(ValueError, match="lr"):
        net.fit(X, np.arange(6) % 2, epochs=1, optimizer=opt)
    with pytest.raises(ValueError, match="lr"):
        net.apply_gradients(np.ones(net.params.size), optimizer=opt)
    np.testing.assert_array_equal(net.params, before)


def test_copy_has_its_own_optimizer():
    net = fastbp.Network([3, 4, 2], seed=0)
    X = np.random.default_rng(0).random((6, 3))
    net.fit(X, np.arange(6) % 2, epochs=2, optimizer="adam", lr=0.01)
    twin = net.copy()
    assert twin.optimizer is not net.optimizer
    np.testing.assert_array_equal(twin.optimizer.state, net.optimizer.state)
    steps = net.optimizer.steps
    twin.fit(X, np.arange(6) % 2, epochs=1, optimizer=twin.optimizer)
    assert net.optimizer.steps == steps


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_networks_pickle_and_deepcopy(how):
    import copy
    import pickle
    net = fastbp.Network([3, 4, 2], batch_norm=True, seed=0)
    X = np.random.default_rng(0).random((8, 3))
    net.fit(X, np.arange(8) % 2, epochs=2, batch_size=4, optimizer="adam", lr=0.01)
    twin = pickle.loads(pickle.dumps(net)) if how == "pickle" else copy.deepcopy(net)
    assert type(twin) is type(net) and twin.sizes == net.sizes
    np.testing.assert_array_equal(twin.params, net.params)
    np.testing.assert_array_equal(twin.running, net.running)
    np.testing.assert_array_equal(twin.forward(X), net.forward(X))
    twin.weights[0][0, 0] += 1        # views into its own buffer
    assert twin.params[0] != net.params[0]
    twin.fit(X, np.arange(8) % 2, epochs=1, batch_size=4)
