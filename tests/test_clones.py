"""Every clone computes the same bits (csrc/clones.h): csrc/activation.c's
loops, its own e^x included, built for the baseline x86-64, x86-64-v3 (AVX2)
and x86-64-v4 (AVX-512) with the package's flags, run on the same inputs."""
import ctypes
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CSRC = Path(__file__).resolve().parents[1] / "csrc"
GCC = shutil.which("gcc")
pytestmark = pytest.mark.skipif(
    GCC is None or not sys.platform.startswith("linux") or platform.machine() != "x86_64",
    reason="needs gcc on x86-64 Linux")


def cpu_flags():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def runnable_marches():
    flags = cpu_flags()
    marches = ["x86-64"]
    if {"avx2", "fma", "bmi2"} <= flags:
        marches.append("x86-64-v3")
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        marches.append("x86-64-v4")
    return marches


def build(tmp_path, march):
    flags = json.loads((CSRC / "sources.json").read_text())["c_flags"]
    out = tmp_path / f"activation-{march}.so"
    subprocess.run([GCC, *flags, f"-march={march}", "-DFASTBP_NO_CLONES", "-shared", "-fPIC",
                    "-I", str(CSRC), str(CSRC / "activation.c"), "-o", str(out)], check=True)
    lib = ctypes.CDLL(str(out))
    return lib


def inputs(dtype):
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(0, 5, 997), rng.uniform(-800, 800, 500),
                        [0.0, -0.0, 1e-300, -1e-300, 5e-324, -708.0, -708.5, -745.2, 709.0,
                         np.inf, -np.inf, np.nan, 88.7, -87.3, -103.9]])
    return np.ascontiguousarray(z, dtype=dtype)


def run_all(lib, dtype):
    """Every loop of activation.c on the same inputs, as raw bytes."""
    z = inputs(dtype)
    n = z.size
    c = "d" if dtype == np.float64 else "s"
    ct = ctypes.c_double if dtype == np.float64 else ctypes.c_float
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)
    out = []
    a = np.empty_like(z)
    getattr(lib, f"fastbp_{c}sigmoid")(ptr(a), ptr(z), ctypes.c_ssize_t(n))
    out.append(a.tobytes())
    m = np.nanmax(z[np.isfinite(z)])
    getattr(lib, f"fastbp_{c}exp_shift")(ptr(a), ptr(z), ctypes.c_ssize_t(n), ct(m))
    out.append(a.tobytes())
    act = np.clip(z, -1, 1)
    kept = (np.arange(n) % 3 != 0).astype(np.uint8)
    for code in range(5):  # identity, sigmoid, tanh, relu, leaky relu (fastbp.h)
        for mask in (None, kept):
            d = z.copy()
            getattr(lib, f"fastbp_{c}mul_grad")(ptr(d), ptr(act), None if mask is None else ptr(mask),
                                               ctypes.c_ssize_t(n), ctypes.c_int(code),
                                               ct(0.8), ct(1.25))
            out.append(d.tobytes())
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_clone_computes_the_same_bits(tmp_path, dtype):
    marches = runnable_marches()
    results = {march: run_all(build(tmp_path, march), dtype) for march in marches}
    base = results["x86-64"]
    for march in marches[1:]:
        assert results[march] == base, march
    # and the loops did something: σ(0) = 1/2, the outputs are not the inputs
    a = np.frombuffer(base[0], dtype=dtype)
    assert a[inputs(dtype) == 0][0] == 0.5
