"""The tuned BLAS under fastbp's products: OpenBLAS from `scipy-openblas32`.

scipy-openblas32 is the OpenBLAS build that NumPy and SciPy ship (DYNAMIC_ARCH:
its kernels are chosen for the CPU at run time), packaged with a thread
setting of its own. fastbp loads its own copy of the library privately
(RTLD_LOCAL: NumPy's and SciPy's copies keep their symbols and their thread
pools) and sets its threads to 1: fastbp's OpenMP threads each call it on
whole pieces of a product (see fastbp._core), so a second level of threads
would only compete with them.

`scipy_openblas32` is not imported: its import loads the library into the
global namespace, where SciPy's extension modules would bind to it.
"""
import ctypes
import importlib.util
import os

_FUNCTIONS = ("scipy_sgemm_", "scipy_dgemm_")


def _library_path():
    spec = importlib.util.find_spec("scipy_openblas32")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("fastbp needs the scipy-openblas32 package "
                          "(pip install scipy-openblas32)")
    lib_dir = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    names = sorted(n for n in os.listdir(lib_dir)
                   if n.startswith("libscipy_openblas") and (".so" in n or n.endswith(".dylib")
                                                             or n.endswith(".dll")))
    if not names:
        raise ImportError(f"scipy-openblas32 has no library in {lib_dir}")
    return os.path.join(lib_dir, names[0])


def _load():
    path = _library_path()
    # OpenBLAS starts its thread pool when it loads, with as many threads as
    # OPENBLAS_NUM_THREADS says (else one per core), and those threads spin
    # for a while on the cores fastbp's own threads need. Loading it with 1
    # starts none; the variable is restored at once (the user's NumPy has
    # read it already, and a later SciPy reads it then).
    saved = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
    finally:
        if saved is None:
            del os.environ["OPENBLAS_NUM_THREADS"]
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved
    lib.scipy_openblas_set_num_threads(1)
    for name in ("scipy_openblas_get_config", "scipy_openblas_get_corename"):
        getattr(lib, name).restype = ctypes.c_char_p
    return path, lib


PATH, _LIB = _load()


def addresses():
    """Addresses of sgemm and dgemm (Fortran interface, 32-bit integers)."""
    return tuple(ctypes.cast(getattr(_LIB, f), ctypes.c_void_p).value for f in _FUNCTIONS)


def info():
    """What show_config and bench report: library, version line, kernel."""
    return {
        "blas_library": os.path.basename(PATH),
        "blas_config": _LIB.scipy_openblas_get_config().decode().strip(),
        "blas_kernel": _LIB.scipy_openblas_get_corename().decode().strip(),
        "blas_threads": _LIB.scipy_openblas_get_num_threads(),
    }
