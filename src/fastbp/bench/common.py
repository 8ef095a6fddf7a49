"""What every part of the benchmark shares: the configurations, timing, BLAS
thread limits, importing a peer, the machine line and the GEMM peak."""
import contextlib
import os
import platform
import time

import numpy as np

from .. import Network, __version__, _core, optim

CONFIGS = {
    # name: sizes, hidden activation, output activation, cost, batch, dtype
    "S": ([784, 30, 10], "sigmoid", "sigmoid", "quadratic", 10, "float64"),
    "M": ([784, 128, 10], "relu", "softmax", "cross_entropy", 64, "float32"),
    "L": ([784, 1024, 1024, 10], "relu", "softmax", "cross_entropy", 256, "float32"),
}
SECTIONS = ("S", "M", "L", "D", "digits", "options")
FASTBP_EPOCHS = 3            # epochs per timed fit call: its input check is then not per epoch
LR = 0.01
INFER_BATCH = 256
THREADS = 2                  # the thread count of every peer's "2 threads" row
GEMM_SHAPES = [(2048, 2048, 2048), (3072, 3072, 3072), (4096, 1024, 4096)]  # m, k, n
DIGITS_BATCHES = (10, 64, 200)


def _momentum():
    # a def, not a lambda: mypy checks no untyped def, and does not see the
    # optimizers' fields (their class decorator is an alias of dataclass)
    return {"optimizer": optim.SGD(lr=LR, momentum=0.9)}


OPTIONS = [  # label, fit keyword arguments (a function: an Optimizer keeps state)
    ("sgd", lambda: {}),
    ("sgd momentum 0.9", _momentum),
    ("adam", lambda: {"optimizer": "adam"}),
    ("rmsprop", lambda: {"optimizer": "rmsprop"}),
    ("l2=1e-4", lambda: {"l2": 1e-4}),
    ("l1=1e-5", lambda: {"l1": 1e-5}),
    ("dropout=0.2", lambda: {"dropout": 0.2}),
    ("max_norm=3", lambda: {"max_norm": 3.0}),
]
ACCURACY_TOLERANCE = 0.005   # D: "same test accuracy" means within half a point


class NotInstalled(Exception):
    pass


def flops_per_sample(sizes):
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2 * sum(macs) + 2 * sum(macs) + 2 * sum(macs[1:])


def forward_flops_per_sample(sizes):
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def timed(fn, repeats, warm=0.0):
    """Seconds of each of `repeats` runs of fn(), after untimed runs for
    `warm` seconds (one at least)."""
    end = time.perf_counter() + warm
    fn()
    while time.perf_counter() < end:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


_controller: list = []


def blas_threads(n):
    """Every BLAS (NumPy's, SciPy's and the copy fastbp binds) limited to n
    threads for a block, restored after; fastbp itself never runs inside.
    threadpoolctl's threadpool_limits(n), from one ThreadpoolController:
    threadpool_limits scans the loaded libraries each time (about 1 ms),
    a cost that would land inside the timings."""
    if not _controller:
        try:
            from threadpoolctl import ThreadpoolController
            _controller.append(ThreadpoolController())
        except ImportError:
            _controller.append(None)
    if _controller[0] is None:
        return contextlib.nullcontext()
    return _controller[0].limit(limits=n, user_api="blas")


def import_peer(name):
    try:
        return __import__(name)
    except ImportError as e:
        raise NotInstalled(f"not installed ({e})") from None


def make_net(cfg, seed=0):
    sizes, act, out_act, cost, batch, dtype = cfg
    return Network(sizes, activation=act, output_activation=out_act, cost=cost,
                          dtype=dtype, seed=seed)


def chunks(X, size=INFER_BATCH):
    return [X[i:i + size] for i in range(0, len(X), size)]


# ------------------------------------------------------------ machine and peak

def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    numpy_blas = "threadpoolctl not installed"
    try:
        from threadpoolctl import threadpool_info
        numpy_blas = ", ".join(
            f"{p['internal_api']} {p.get('version')} (kernel {p.get('architecture')}, "
            f"{p['num_threads']} threads)" for p in threadpool_info()
            if p["user_api"] == "blas" and "numpy" in p["filepath"]) or "not found"
    except ImportError:
        pass
    info = _core.build_info()
    env = ", ".join(f"{k}={os.environ.get(k, 'unset')}"
                    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"))
    return (f"{cpu}; {cores} cores; Python {platform.python_version()}; "
            f"NumPy {np.__version__} / {numpy_blas}; fastbp {__version__} "
            f"({info['compiler']}, OpenMP {info['openmp']}; BLAS {info['blas_config']}, "
            f"kernel {info['blas_kernel']}, {info['blas_library']}); {env}")


def peer_versions():
    out = []
    for name in ("torch", "jax", "onnxruntime", "onnx", "sklearn"):
        try:
            out.append(f"{name} {__import__(name).__version__}")
        except Exception:
            out.append(f"{name} not installed")
    return "; ".join(out) + (f"; jax: XLA's CPU backend uses all {os.cpu_count()} cores "
                             f"(its thread count is not set)")


def gemm_peak(dtype, repeats, shapes):
    """Best GFLOP/s of NumPy matmul over `shapes`, NumPy's BLAS at THREADS threads."""
    rng = np.random.default_rng(0)
    best, where = 0.0, ""
    for m, k, n in shapes:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        with blas_threads(THREADS):
            seconds = min(timed(lambda: a @ b, repeats))
        gflops = 2 * m * k * n / seconds / 1e9
        if gflops > best:
            best, where = gflops, f"{m}×{k}·{k}×{n}"
    return best, where


def peaks_text(peaks):
    """The peaks of gemm_peak by dtype, for the printed line and RESULTS.md."""
    if not peaks:
        return "not measured (no S, M or L section)"
    return "; ".join(f"{dt} {p:.1f} GFLOP/s ({where})" for dt, (p, where) in peaks.items())


def write_lines(path, lines):
    """A results file: `lines` joined by newlines."""
    with open(path, "w") as f:
        f.write("\n".join(lines))
