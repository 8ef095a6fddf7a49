"""fastbp: backpropagation for dense feed-forward networks, compiled and exact.

    net = fastbp.Network([784, 30, 10])
    net.fit(X, y, epochs=30, batch_size=10, lr=3.0)

The public API is small: Network (forward, loss, gradients, fit, evaluate,
predict, save), load, check_gradients, the thread count and show_config.
fastbp.reference is the same mathematics in plain NumPy.
"""
import os as _os
import warnings as _warnings

# GNU OpenMP spins ~300,000 times at a barrier before it sleeps. An epoch
# crosses a few barriers per batch; on a busy machine a thread that spins
# while its peer is preempted holds the core the peer needs, and training on
# two threads became 50x slower in our measurements. Spinning briefly keeps
# the idle case fast and the busy case sane. Set before libgomp loads; a
# user's own setting wins.
if "GOMP_SPINCOUNT" not in _os.environ and "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "1000"

from . import _core
from ._version import __version__
from ._threads import get_num_threads, set_num_threads
from ._io import ModelFileError
from ._validation import InputScaleWarning, TargetRangeWarning
from .network import History, Network, load
from .gradcheck import check_gradients
from . import reference, datasets

__all__ = ["Network", "History", "load", "check_gradients", "set_num_threads",
           "get_num_threads", "show_config", "reference", "datasets", "ModelFileError",
           "InputScaleWarning", "TargetRangeWarning", "__version__"]

def show_config():
    """Print how this fastbp was built and what it runs on."""
    info = _core.build_info()
    lines = [
        f"fastbp {__version__}",
        f"  compiler:       {info['compiler']}",
        f"  OpenMP:         {'yes' if info['openmp'] else 'no (single-threaded build)'}",
        f"  threads:        {get_num_threads()} (set_num_threads / OMP_NUM_THREADS)",
        "  float types:    float32, float64",
        f"  BLAS:           {info['blas_config']}",
        f"  BLAS library:   {info['blas_library']} (scipy-openblas32, {info['blas_threads']} thread "
        "of its own per call)",
        f"  BLAS kernel:    {info['blas_kernel']} (OpenBLAS picks it for this CPU; OPENBLAS_CORETYPE overrides)",
        "  own kernels:    " + ("AVX-512, forward products (csrc/outer.c with W packed from "
                                 "32 rows, csrc/dot.c below) and float32 backward products "
                                 "of some shapes (csrc/outer.c)" if info["own_kernels"]
                                 else "none, the BLAS for every product (they need AVX-512F "
                                 "and a GCC build)"),
    ]
    print("\n".join(lines))
