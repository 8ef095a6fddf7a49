"""fastbp's benchmark suite: training and inference throughput against its peers.

    fastbp bench [--quick] [--repeats N] [--samples N] [--only S,M,L,D,digits,options]
                 [--out PATH]
    python bench/run.py [the same options]        (a source checkout)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py

`fastbp bench` writes RESULTS.md (and results.png) in the current folder;
bench/run.py, a thin wrapper, writes bench/RESULTS.md and bench/results.png
of the checkout; --out names another file. The data are what fastbp bundles
(the MNIST subset) and scikit-learn's own digits: nothing is downloaded.

What it measures, all in this one process. The peers of a section are built
together, then take turns: each round times one call of every one of them,
after 0.3 s of untimed calls of its own (its data back in cache, its threads
awake, the last peer's threads gone quiet), so that a slow spell of a shared
machine falls on all of them alike. They are dropped when their section ends.

- GEMM peak per dtype: the best GFLOP/s of NumPy matmul over a few large
  products (2048², 3072², 4096×1024·1024×4096) with NumPy's BLAS at 2
  threads. Every "% of peak" column divides by it; measured only when S, M
  or L runs.
- Training (S, M, L on the bundled MNIST subset): samples/s of whole epochs
  of mini-batch SGD, forward, backward and update, for
    fastbp        1 and 2 threads, fit(..., shuffle=False), 3 epochs a call
    numpy         fastbp.reference.sgd_epoch (the matrix form of BP1-BP4),
                  NumPy's BLAS at 2 threads
    torch         nn.Sequential + optim.SGD, torch.set_num_threads(2)
    jax           the whole epoch as one jax.jit of a lax.scan over the
                  batches (plus the short last batch), float64 enabled at
                  start; XLA's CPU backend uses every core (not settable here)
    sklearn       MLPClassifier(solver="sgd").partial_fit, BLAS at 2 threads
                  (its output is always softmax + log-loss: not S's cost)
  FLOPs per sample = 2·Σmacs (forward) + 2·Σmacs (weight gradients)
  + 2·Σmacs past the first layer (delta propagation).
- Inference: samples/s of the forward pass called on 256-row batches (what a
  server calls), and on the whole set in one call, for fastbp 1 and 2
  threads, NumPy, PyTorch (no_grad), JAX (jit), scikit-learn
  (predict_proba, always a softmax output) and ONNX Runtime at 1 and 2
  intra-op threads, running an ONNX graph of Gemm (transB=1) and activation
  nodes built with onnx.helper from the fastbp network's weights.
- D: scikit-learn's own example, MLPClassifier(hidden_layer_sizes=(100,),
  random_state=0) on load_digits (train_test_split(X, y, random_state=0)),
  against fastbp.sklearn.MLPClassifier with the same arguments and
  n_threads=1 / 2 (scikit-learn under threadpool_limits(1 / 2)): median fit
  seconds and test accuracy.
- digits: 64-100-10 relu/softmax float64, 1 thread, plain SGD, batches of
  10, 64, 200: fastbp's compiled epoch against fastbp.reference.sgd_epoch
  (NumPy's BLAS at 1 thread), µs per batch.
- options (M and L, fastbp 2 threads): SGD against momentum SGD, Adam,
  RMSprop, l2, l1, dropout and max_norm, % slower than SGD.
- Targets: each row target / measured / reached, ratios within this run.

Each row is timed --repeats times (default 5), in as many rounds; the
untimed calls before each timing also exclude JAX's compilation. Rows give
the median and the min–max of samples/s. A peer that is not installed or
fails is a row that says so.
Prints one line per (config, peer) and writes RESULTS.md and, with
matplotlib, results.png beside it. Its timings are never taken inside pytest
(the tests run it once, as a tiny smoke run).

The modules: common (configurations, timing, BLAS threads, the machine line
and the GEMM peak), peers (each peer's training and inference), sections
(the rows of each section, set up, then timed in turns), report (targets,
RESULTS.md, the chart), runner (the options and the run).

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: on some machines here these are set in
the environment (to an older core type and a small L2), which slows current
OpenBLAS, NumPy's and fastbp's alike. The machine line prints their values;
committed results are made with both unset:
`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py`.
"""

from .runner import DESCRIPTION, add_arguments, main, run

__all__ = ["DESCRIPTION", "add_arguments", "main", "run"]
