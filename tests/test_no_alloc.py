"""No heap allocation per batch: an epoch of 1,000 batches calls malloc no
more often than an epoch of 10 (the few calls of the Python wrapper are the
same for both). malloc is counted by a tiny LD_PRELOAD library the test
compiles, in a subprocess, for 1 and 2 threads."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

COUNTER_C = r"""
#include <stddef.h>
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);
static long calls;
static int counting;
static void count(void) { if (counting) __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED); }
void *malloc(size_t n) { count(); return __libc_malloc(n); }
void *calloc(size_t n, size_t s) { count(); return __libc_calloc(n, s); }
void *realloc(void *p, size_t n) { count(); return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
int posix_memalign(void **p, size_t a, size_t n) { count(); *p = __libc_memalign(a, n); return *p ? 0 : 12; }
void counter_start(void) { calls = 0; counting = 1; }
long counter_stop(void) { counting = 0; return calls; }
"""

SCRIPT = textwrap.dedent("""
    import ctypes, sys
    import numpy as np
    import fastbp
    from fastbp import _core
    counter = ctypes.CDLL(None)
    counter.counter_stop.restype = ctypes.c_long
    fastbp._threads.adaptive = False  # really run on the threads asked for
    fastbp.set_num_threads(int(sys.argv[1]))
    for dtype in ("float64", "float32"):
        net = fastbp.Network([20, 16, 8, 4], activation="tanh", cost="cross_entropy",
                             dtype=dtype, seed=0)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((5000, 20)).astype(dtype)
        Y = np.eye(4, dtype=dtype)[rng.integers(0, 4, 5000)]
        plan = net.plan(5)
        grads = np.empty_like(net.params)
        settings = _core.TrainSettings(lr=0.01, batch_size=5)
        counts = []
        for n_batches in (10, 1000, 10, 1000):
            order = np.arange(5 * n_batches, dtype=np.intp)
            counter.counter_start()
            _core.train_epoch(plan, net.params, grads, X, Y, order, settings)
            counts.append(counter.counter_stop())
        print(dtype, *counts)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("gcc") is None,
                    reason="needs Linux (glibc's __libc_malloc) and gcc")
@pytest.mark.parametrize("threads", [1, 2])
def test_no_malloc_per_batch(tmp_path, threads):
    lib = tmp_path / "counter.so"
    src = tmp_path / "counter.c"
    src.write_text(COUNTER_C)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    env = dict(os.environ, LD_PRELOAD=str(lib))
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(threads)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert len([l for l in lines if l]) == 2
    for line in filter(None, lines):
        dtype, *counts = line.split()
        short1, long1, short2, long2 = map(int, counts)
        # the second round is the steady state: 100x the batches, no more mallocs
        assert long2 <= short2, (dtype, counts)
        assert long2 < 50, (dtype, counts)
