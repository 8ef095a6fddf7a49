"""fastbp's benchmark suite: training and inference throughput against its peers.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py
    python bench/run.py [--quick] [--repeats N] [--only S,M,L,D,digits,options] [--out PATH]

What it measures, all in this one process (each peer is built just before it
is timed and dropped after, so no peer's threads spin while another runs):

- GEMM peak per dtype: the best GFLOP/s of NumPy matmul over a few large
  products (2048², 3072², 4096×1024·1024×4096) with NumPy's BLAS at 2
  threads. Every "% of peak" column divides by it.
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
  (predict_proba, always a softmax output) and ONNX Runtime at 1 and 2 intra-op threads, running an
  ONNX graph of Gemm (transB=1) and activation nodes built with onnx.helper
  from the fastbp network's weights.
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

Each timing is repeated (--repeats, default 5) after a warm-up (which also
excludes JAX's compilation); rows give the median and the min–max of
samples/s. A peer that is not installed or fails is a row that says so.
Prints one line per (config, peer) and writes RESULTS.md and, with
matplotlib, results.png beside it. It never runs inside pytest.

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: on some machines here these are set in
the environment (to an older core type and a small L2), which slows current
OpenBLAS, NumPy's and fastbp's alike. The machine line prints their values;
committed results are made with both unset:
`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py`.
"""
import argparse
import contextlib
import gc
import math
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

import fastbp
from fastbp import reference
from fastbp.datasets import load_mnist_5k

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
OPTIONS = [  # label, fit keyword arguments (a function: an Optimizer keeps state)
    ("sgd", lambda: {}),
    ("sgd momentum 0.9", lambda: {"optimizer": fastbp.optim.SGD(lr=LR, momentum=0.9)}),
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


def timed(fn, repeats):
    """Seconds of each of `repeats` runs of fn(), after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


_controller = []


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
    return fastbp.Network(sizes, activation=act, output_activation=out_act, cost=cost,
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
    info = fastbp._core.build_info()
    env = ", ".join(f"{k}={os.environ.get(k, 'unset')}"
                    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"))
    return (f"{cpu}; {cores} cores; Python {platform.python_version()}; "
            f"NumPy {np.__version__} / {numpy_blas}; fastbp {fastbp.__version__} "
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


# ------------------------------------------------------------ training peers
# each returns (a function running some whole epochs, epochs per call)

def fastbp_train(cfg, X, Y, threads):
    net = make_net(cfg)
    batch = cfg[4]

    def train():
        fastbp.set_num_threads(threads)
        net.fit(X, Y, epochs=FASTBP_EPOCHS, batch_size=batch, lr=LR, shuffle=False)
    return train, FASTBP_EPOCHS


def numpy_train(cfg, X, Y, threads):
    net = make_net(cfg)
    order = np.arange(len(X))

    def train():
        with blas_threads(threads):
            # sgd_epoch works on copies; write them back so each epoch continues
            w, b = reference.sgd_epoch(net, X, Y, order, cfg[4], LR)
        for l in range(len(w)):
            net.weights[l][...] = w[l]
            net.biases[l][...] = b[l]
    return train, 1


def torch_model(cfg, net):
    """nn.Sequential with the fastbp network's parameters (no output softmax:
    CrossEntropyLoss takes logits)."""
    torch = import_peer("torch")
    sizes, act, out_act = cfg[:3]
    acts = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}
    layers = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=getattr(torch, cfg[5]))
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(lin)
        if l < len(sizes) - 2:
            layers.append(acts[act]())
    if out_act == "sigmoid":
        layers.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


def torch_train(cfg, X, Y, threads):
    torch = import_peer("torch")
    torch.set_num_threads(threads)
    batch, cost = cfg[4], cfg[3]
    model = torch_model(cfg, make_net(cfg))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    Xt = torch.from_numpy(X)
    if cost == "cross_entropy":
        Yt = torch.from_numpy(Y.argmax(axis=1))
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        Yt = torch.from_numpy(Y)

        def loss_fn(out, y):  # fastbp's quadratic cost: mean of ½‖a − y‖²
            return 0.5 * ((out - y) ** 2).sum(dim=1).mean()

    def train():
        torch.set_num_threads(threads)
        for start in range(0, len(Xt), batch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[start:start + batch]), Yt[start:start + batch])
            loss.backward()
            opt.step()
    return train, 1


def jax_functions(cfg):
    """(logits, outputs, loss) of the MLP in jax.numpy, params [(W, b), ...]
    with W of shape (out, in) as fastbp's."""
    jax = import_peer("jax")
    import jax.numpy as jnp
    act, out_act, cost = cfg[1], cfg[2], cfg[3]
    hidden = {"sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu, "tanh": jnp.tanh}[act]

    def logits(params, x):
        for W, b in params[:-1]:
            x = hidden(x @ W.T + b)
        W, b = params[-1]
        return x @ W.T + b

    def outputs(params, x):
        z = logits(params, x)
        return jax.nn.softmax(z, axis=1) if out_act == "softmax" else jax.nn.sigmoid(z)

    def loss(params, x, y):
        if cost == "cross_entropy":  # softmax cross-entropy, mean over the batch
            return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(logits(params, x), axis=1), axis=1))
        return 0.5 * jnp.mean(jnp.sum((outputs(params, x) - y) ** 2, axis=1))  # ½‖a−y‖²
    return logits, outputs, loss


def jax_params(net):
    import jax.numpy as jnp
    return [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(net.weights, net.biases)]


def jax_train(cfg, X, Y, threads):
    jax = import_peer("jax")
    import jax.numpy as jnp
    from jax import lax
    _, _, loss = jax_functions(cfg)
    batch = cfg[4]
    grad = jax.grad(loss)

    def step(params, xy):
        g = grad(params, *xy)
        return jax.tree_util.tree_map(lambda p, d: p - LR * d, params, g), None

    @jax.jit
    def epoch(params, Xb, Yb, tail):
        params, _ = lax.scan(step, params, (Xb, Yb))
        if tail is not None:  # the short last batch, as fit and the others run it
            params, _ = step(params, tail)
        return params

    full = len(X) // batch * batch
    Xb = jnp.asarray(X[:full].reshape(-1, batch, X.shape[1]))
    Yb = jnp.asarray(Y[:full].reshape(-1, batch, Y.shape[1]))
    tail = (jnp.asarray(X[full:]), jnp.asarray(Y[full:])) if full < len(X) else None
    state = [jax_params(make_net(cfg))]

    def train():
        state[0] = epoch(state[0], Xb, Yb, tail)
        jax.block_until_ready(state[0])
    return train, 1


def sklearn_train(cfg, X, Y, threads):
    import_peer("sklearn")
    from sklearn.neural_network import MLPClassifier
    sizes, act, out_act, cost, batch, dtype = cfg
    y = Y.argmax(axis=1)
    clf = MLPClassifier(hidden_layer_sizes=sizes[1:-1],
                        activation={"sigmoid": "logistic"}.get(act, act), solver="sgd",
                        batch_size=batch, learning_rate_init=LR, momentum=0.0, alpha=0.0,
                        shuffle=False, random_state=0)
    with blas_threads(threads):
        clf.partial_fit(X, y, classes=np.arange(10))

    def train():
        with blas_threads(threads):
            clf.partial_fit(X, y)
    return train, 1


TRAIN_PEERS = [  # label, peer, threads
    ("fastbp 1 thread", fastbp_train, 1),
    (f"fastbp {THREADS} threads", fastbp_train, THREADS),
    ("numpy", numpy_train, THREADS),
    ("torch", torch_train, THREADS),
    ("jax", jax_train, None),
    ("sklearn", sklearn_train, THREADS),
]


# ------------------------------------------------------------ inference peers
# each returns (forward on every 256-row batch, forward on the whole set in one call)

def fastbp_infer(cfg, X, threads):
    net = make_net(cfg)
    parts = chunks(X)

    def batches():
        fastbp.set_num_threads(threads)
        for part in parts:
            net.forward(part)

    def whole():
        fastbp.set_num_threads(threads)
        net.forward(X)
    return batches, whole


def numpy_infer(cfg, X, threads):
    net = make_net(cfg)
    parts = chunks(X)

    def batches():
        with blas_threads(threads):
            for part in parts:
                reference.forward(net, part)

    def whole():
        with blas_threads(threads):
            reference.forward(net, X)
    return batches, whole


def torch_infer(cfg, X, threads):
    torch = import_peer("torch")
    torch.set_num_threads(threads)
    model = torch_model(cfg, make_net(cfg))
    head = torch.nn.Softmax(dim=1) if cfg[2] == "softmax" else torch.nn.Identity()
    Xt = torch.from_numpy(X)
    parts = chunks(Xt)

    def batches():
        torch.set_num_threads(threads)
        with torch.no_grad():
            for part in parts:
                head(model(part))

    def whole():
        torch.set_num_threads(threads)
        with torch.no_grad():
            head(model(Xt))
    return batches, whole


def jax_infer(cfg, X, threads):
    jax = import_peer("jax")
    import jax.numpy as jnp
    _, outputs, _ = jax_functions(cfg)
    forward = jax.jit(outputs)
    params = jax_params(make_net(cfg))
    parts = [jnp.asarray(part) for part in chunks(X)]
    Xd = jnp.asarray(X)

    def batches():
        for part in parts:
            forward(params, part).block_until_ready()

    def whole():
        forward(params, Xd).block_until_ready()
    return batches, whole


def onnx_graph(cfg, net):
    """The MLP as ONNX: Gemm(X, W, b, transB=1) and an activation node per layer."""
    onnx = import_peer("onnx")
    from onnx import TensorProto, helper, numpy_helper
    sizes, act, out_act = cfg[:3]
    elem = TensorProto.DOUBLE if cfg[5] == "float64" else TensorProto.FLOAT
    ops = {"sigmoid": "Sigmoid", "relu": "Relu", "tanh": "Tanh", "softmax": "Softmax"}
    nodes, inits, x = [], [], "X"
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        inits += [numpy_helper.from_array(np.ascontiguousarray(W), f"W{l}"),
                  numpy_helper.from_array(np.array(b), f"b{l}")]
        nodes.append(helper.make_node("Gemm", [x, f"W{l}", f"b{l}"], [f"z{l}"], transB=1))
        op = ops[act if l < len(sizes) - 2 else out_act]
        x = f"a{l}"
        nodes.append(helper.make_node(op, [f"z{l}"], [x], **({"axis": 1} if op == "Softmax" else {})))
    graph = helper.make_graph(
        nodes, "fastbp_mlp", [helper.make_tensor_value_info("X", elem, [None, sizes[0]])],
        [helper.make_tensor_value_info(x, elem, [None, sizes[-1]])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every onnxruntime of the last years
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnxruntime_infer(cfg, X, threads):
    ort = import_peer("onnxruntime")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(onnx_graph(cfg, make_net(cfg)), so,
                                       providers=["CPUExecutionProvider"])
    except Exception as e:
        raise RuntimeError(f"onnxruntime cannot run this {cfg[5]} graph: "
                           f"{str(e).splitlines()[0][:160]}") from None
    parts = chunks(X)

    def batches():
        for part in parts:
            session.run(None, {"X": part})

    def whole():
        session.run(None, {"X": X})
    return batches, whole


def sklearn_infer(cfg, X, threads):
    import_peer("sklearn")
    from sklearn.neural_network import MLPClassifier
    sizes, act = cfg[0], cfg[1]
    net = make_net(cfg)
    clf = MLPClassifier(hidden_layer_sizes=sizes[1:-1],
                        activation={"sigmoid": "logistic"}.get(act, act), max_iter=1)
    with warnings.catch_warnings(), blas_threads(threads):
        warnings.simplefilter("ignore")
        clf.fit(X[:20], np.arange(20) % 10)  # shapes only; its parameters are fastbp's
    clf.coefs_ = [W.T.copy() for W in net.weights]
    clf.intercepts_ = [b.copy() for b in net.biases]
    parts = chunks(X)

    def batches():
        with blas_threads(threads):
            for part in parts:
                clf.predict_proba(part)

    def whole():
        with blas_threads(threads):
            clf.predict_proba(X)
    return batches, whole


INFER_PEERS = [
    ("fastbp 1 thread", fastbp_infer, 1),
    (f"fastbp {THREADS} threads", fastbp_infer, THREADS),
    ("numpy", numpy_infer, THREADS),
    ("torch", torch_infer, THREADS),
    ("jax", jax_infer, None),
    ("onnxruntime 1 thread", onnxruntime_infer, 1),
    (f"onnxruntime {THREADS} threads", onnxruntime_infer, THREADS),
    ("sklearn", sklearn_infer, THREADS),
]


# ------------------------------------------------------------ running and printing

def why(e):
    if isinstance(e, NotInstalled):
        return str(e)
    return f"failed: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"


def spread(rates):
    return f"{min(rates):,.0f}–{max(rates):,.0f}"


def measured_row(measure, **fields):
    """A row of the given fields and those measure() returns, or, when it
    raises, the reason as the row's status (a peer's failure never ends the
    run)."""
    row = dict(fields)
    try:
        row.update(measure(), status="ok")
    except Exception as e:
        row["status"] = why(e)
    finally:
        gc.collect()
    return row


def rate_fields(rates, flops, peak):
    """samples/s (median and all), GFLOP/s and the fraction of the peak."""
    rate = statistics.median(rates)
    return dict(rate=rate, rates=rates, gflops=rate * flops / 1e9,
                peak=rate * flops / 1e9 / peak)


def train_row(name, cfg, label, peer, threads, X, Y, repeats, peak):
    def measure():
        train, epochs = peer(cfg, X, Y, threads)
        rates = [len(X) * epochs / t for t in timed(train, repeats)]
        return rate_fields(rates, flops_per_sample(cfg[0]), peak)
    return measured_row(measure, section="train", config=name, peer=label, n=len(X))


def infer_row(name, cfg, label, peer, threads, X, repeats, peak):
    def measure():
        batches, whole = peer(cfg, X, threads)
        rates = [len(X) / t for t in timed(batches, repeats)]
        return dict(rate_fields(rates, forward_flops_per_sample(cfg[0]), peak),
                    whole=len(X) / statistics.median(timed(whole, repeats)))
    return measured_row(measure, section="infer", config=name, peer=label, n=len(X))


def relative(rows, key="rate", base="numpy", out="x_numpy"):
    ref = next((r for r in rows if r["peer"] == base and r["status"] == "ok"), None)
    for r in rows:
        if r["status"] == "ok":
            r[out] = r[key] / ref[key] if ref else None


def fmt_x(x):
    return f"×{x:5.2f}" if x is not None else "  ×  — "


def print_rate_row(r, what):
    if r["status"] != "ok":
        print(f"{r['config']} {what} {r['peer']:22s} {r['status']}", flush=True)
        return
    extra = f" | whole set {r['whole']:>11,.0f}/s" if "whole" in r else ""
    print(f"{r['config']} {what} {r['peer']:22s} {r['rate']:>11,.0f} samples/s "
          f"({spread(r['rates'])}) {r['gflops']:7.1f} GFLOP/s {100 * r['peak']:5.1f}% of peak "
          f"{fmt_x(r.get('x_numpy'))} NumPy{extra}", flush=True)


def run_config(name, cfg, X_all, y_all, args, peaks):
    sizes, batch, dtype = cfg[0], cfg[4], cfg[5]
    n = args.samples or (5000 if name != "L" else 2048)
    X = np.ascontiguousarray(X_all[:n], dtype=dtype)
    Y = np.eye(10, dtype=dtype)[y_all[:n]]
    peak = peaks[dtype][0]
    train = [train_row(name, cfg, label, peer, threads, X, Y, args.repeats, peak)
             for label, peer, threads in TRAIN_PEERS]
    relative(train)
    one = next((r for r in train if r["peer"] == "fastbp 1 thread" and r["status"] == "ok"), None)
    for r in train:
        if r["status"] == "ok" and r["peer"].startswith("fastbp") and one:
            r["scaling"] = r["rate"] / one["rate"]
        print_rate_row(r, "train")
    infer = [infer_row(name, cfg, label, peer, threads, X, args.repeats, peak)
             for label, peer, threads in INFER_PEERS]
    relative(infer)
    for r in infer:
        print_rate_row(r, "infer")
    return train + infer


def run_options(name, cfg, X_all, y_all, args):
    """fastbp, THREADS threads: SGD and the training options, % slower than SGD."""
    n = args.samples or (5000 if name != "L" else 2048)
    X = np.ascontiguousarray(X_all[:n], dtype=cfg[5])
    Y = np.eye(10, dtype=cfg[5])[y_all[:n]]
    rows = []
    for label, options in OPTIONS:
        def measure():
            net, kwargs = make_net(cfg), options()

            def train():
                fastbp.set_num_threads(THREADS)
                net.fit(X, Y, epochs=FASTBP_EPOCHS, batch_size=cfg[4], lr=LR, shuffle=False,
                        **kwargs)
            rates = [n * FASTBP_EPOCHS / t for t in timed(train, args.repeats)]
            return dict(rate=statistics.median(rates), rates=rates)
        rows.append(measured_row(measure, section="options", config=name, peer=label))
    sgd = rows[0] if rows[0]["status"] == "ok" else None
    for r in rows:
        if r["status"] == "ok":
            r["slower"] = sgd["rate"] / r["rate"] - 1 if sgd else None
            slower = f"{100 * r['slower']:+6.1f}% time vs SGD" if sgd else ""
            print(f"{name} options {r['peer']:18s} {r['rate']:>11,.0f} samples/s "
                  f"({spread(r['rates'])}) {slower}", flush=True)
        else:
            print(f"{name} options {r['peer']:18s} {r['status']}", flush=True)
    return rows


def run_sklearn_example(args):
    """D: scikit-learn's MLPClassifier example against fastbp.sklearn's."""
    rows = []
    try:
        import_peer("sklearn")
        from sklearn.datasets import load_digits
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier as SkMLP
        from fastbp.sklearn import MLPClassifier as FbMLP
    except Exception as e:
        row = dict(section="D", config="D", peer="fastbp.sklearn vs sklearn", threads=THREADS,
                   status=why(e))
        print(f"D {row['status']}")
        return [row]
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    for threads in (1, THREADS):
        pair = []
        for label, make in (("sklearn", lambda: SkMLP(hidden_layer_sizes=(100,), random_state=0)),
                            ("fastbp.sklearn", lambda: FbMLP(hidden_layer_sizes=(100,),
                                                             random_state=0, n_threads=threads))):
            def measure():
                fitted = []

                def fit():
                    clf = make()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        if label == "sklearn":
                            with blas_threads(threads):
                                clf.fit(X_train, y_train)
                        else:
                            clf.fit(X_train, y_train)
                    fitted.append(clf)
                times = timed(fit, args.repeats)
                return dict(seconds=statistics.median(times), times=times,
                            accuracy=fitted[-1].score(X_test, y_test), n_iter=fitted[-1].n_iter_)
            pair.append(measured_row(measure, section="D", config="D", peer=label,
                                     threads=threads))
        sk = pair[0] if pair[0]["status"] == "ok" else None
        for r in pair:
            if r["status"] == "ok":
                r["speedup"] = sk["seconds"] / r["seconds"] if sk else None
                print(f"D {r['peer']:15s} {threads} thread{'s' if threads > 1 else ' '} fit "
                      f"{r['seconds']:7.3f} s ({min(r['times']):.3f}–{max(r['times']):.3f}) "
                      f"{fmt_x(r['speedup'])} scikit-learn  test accuracy {r['accuracy']:.4f}  "
                      f"{r['n_iter']} epochs", flush=True)
            else:
                print(f"D {r['peer']:15s} {threads} thread(s) {r['status']}", flush=True)
        rows += pair
    return rows


def run_digits_shape(args):
    """64-100-10 at batches of 10, 64, 200, 1 thread: compiled epoch vs NumPy."""
    cfg = ([64, 100, 10], "relu", "softmax", "cross_entropy", None, "float64")
    rows = []
    try:
        import_peer("sklearn")
        from sklearn.datasets import load_digits
        X, y = load_digits(return_X_y=True)
    except Exception as e:
        row = dict(section="digits", config="digits", peer="all", status=why(e))
        print(f"digits {row['status']}")
        return [row]
    X = np.ascontiguousarray(X / 16.0)
    Y = np.eye(10)[y]
    for batch in DIGITS_BATCHES:
        c = cfg[:4] + (batch,) + cfg[5:]
        n_batches = math.ceil(len(X) / batch)
        pair = {}
        for label, peer in (("fastbp", fastbp_train), ("numpy", numpy_train)):
            def measure():
                train, epochs = peer(c, X, Y, 1)
                us = [1e6 * t / (epochs * n_batches) for t in timed(train, args.repeats)]
                return dict(us=statistics.median(us), uss=us)
            pair[label] = measured_row(measure, section="digits", config=f"64-100-10 batch {batch}",
                                       peer=label, batch=batch)
            rows.append(pair[label])
        fb, npy = pair["fastbp"], pair["numpy"]
        if fb["status"] == "ok" and npy["status"] == "ok":
            fb["x_numpy"] = npy["us"] / fb["us"]
            print(f"digits 64-100-10 batch {batch:3d} 1 thread: fastbp {fb['us']:8.1f} µs/batch "
                  f"({min(fb['uss']):.1f}–{max(fb['uss']):.1f}), numpy {npy['us']:8.1f} µs/batch "
                  f"({min(npy['uss']):.1f}–{max(npy['uss']):.1f}), ×{fb['x_numpy']:.2f}",
                  flush=True)
        else:
            print(f"digits batch {batch}: fastbp {fb['status']}, numpy {npy['status']}",
                  flush=True)
    return rows


def run(args):
    only = set(args.only)
    start = time.perf_counter()
    try:  # before any JAX array exists: S trains in float64
        import jax
        jax.config.update("jax_enable_x64", True)
    except ImportError:
        pass
    print(f"machine: {machine()}")
    print(f"peers: {peer_versions()}")
    shapes = GEMM_SHAPES[:1] if args.quick else GEMM_SHAPES
    peaks = {dt: gemm_peak(dt, args.repeats, shapes) for dt in ("float64", "float32")}
    print(f"GEMM peak (best NumPy matmul, {THREADS} BLAS threads): " + ", ".join(
        f"{dt} {p:.1f} GFLOP/s ({where})" for dt, (p, where) in peaks.items()), flush=True)
    X_all, y_all = load_mnist_5k()
    rows = []

    def section(label, fn, *a):
        began = time.perf_counter()
        rows.extend(fn(*a))
        print(f"({label}: {time.perf_counter() - began:.0f} s)", flush=True)

    for name, cfg in CONFIGS.items():
        if name in only:
            section(name, run_config, name, cfg, X_all, y_all, args, peaks)
    if "options" in only:
        for name in ("M", "L"):
            section(f"{name} options", run_options, name, CONFIGS[name], X_all, y_all, args)
    if "D" in only:
        section("D", run_sklearn_example, args)
    if "digits" in only:
        section("digits", run_digits_shape, args)
    fastbp.set_num_threads(THREADS)
    print(f"measured in {time.perf_counter() - start:.0f} s")
    return rows, peaks


# ------------------------------------------------------------ targets

def find(rows, section, config, peer, **match):
    return next((r for r in rows if r["section"] == section and r["config"] == config
                 and r["peer"] == peer and r.get("status") == "ok"
                 and all(r.get(k) == v for k, v in match.items())), None)


def targets(rows):
    """(what, target, measured, reached) rows; reached is None when not measured."""
    two = f"fastbp {THREADS} threads"
    out = []

    def ratio(what, target, a, b, goal, unit="×"):
        if a is None or b is None:
            out.append((what, target, "not measured", None))
        else:
            x = a / b
            out.append((what, target, f"{x:.2f}{unit}", x >= goal))

    def peak(config, goal):
        r = find(rows, "train", config, two)
        if r is None:
            out.append((config, f"≥ {100 * goal:.0f}% of the {CONFIGS[config][5]} peak",
                        "not measured", None))
        else:
            out.append((config, f"≥ {100 * goal:.0f}% of the {CONFIGS[config][5]} peak",
                        f"{100 * r['peak']:.1f}%", r["peak"] >= goal))

    def train_ratio(config, peer, goal, label):
        a, b = find(rows, "train", config, two), find(rows, "train", config, peer)
        ratio(config, f"≥ {goal}× {label}", a and a["rate"], b and b["rate"], goal)

    peak("S", 0.40)
    peak("M", 0.70)
    train_ratio("M", "jax", 1.2, "JAX")
    peak("L", 0.90)
    train_ratio("L", "numpy", 1.0, "NumPy")
    train_ratio("L", "jax", 1.1, "JAX")
    train_ratio("L", "torch", 1.1, "PyTorch")
    a, b = find(rows, "train", "L", two), find(rows, "train", "L", "fastbp 1 thread")
    ratio("L", f"1→{THREADS} threads ≥ 1.8×", a and a["rate"], b and b["rate"], 1.8)
    for threads in (1, THREADS):
        fb = find(rows, "D", "D", "fastbp.sklearn", threads=threads)
        sk = find(rows, "D", "D", "sklearn", threads=threads)
        what = f"D, {threads} thread{'s' if threads > 1 else ''}"
        ratio(what, "fit ≥ 3× faster than scikit-learn", sk and sk["seconds"],
              fb and fb["seconds"], 3.0)
        if fb and sk:
            d = fb["accuracy"] - sk["accuracy"]
            out.append((what, f"same test accuracy (within {100 * ACCURACY_TOLERANCE:.1f} points)",
                        f"{fb['accuracy']:.4f} vs {sk['accuracy']:.4f}",
                        abs(d) <= ACCURACY_TOLERANCE))
        else:
            out.append((what, "same test accuracy", "not measured", None))
    for batch in DIGITS_BATCHES:
        fb = find(rows, "digits", f"64-100-10 batch {batch}", "fastbp")
        npy = find(rows, "digits", f"64-100-10 batch {batch}", "numpy")
        ratio(f"digits, batch {batch}, 1 thread", "compiled epoch faster than NumPy",
              npy and npy["us"], fb and fb["us"], 1.0 + 1e-12)
    for config in CONFIGS:
        a = find(rows, "infer", config, two)
        b = find(rows, "infer", config, f"onnxruntime {THREADS} threads")
        ratio(config, f"inference at batch {INFER_BATCH} ≥ ONNX Runtime", a and a["rate"],
              b and b["rate"], 1.0)
    for config in ("M", "L"):
        for option in ("adam", "l2=1e-4", "dropout=0.2"):
            r = find(rows, "options", config, option)
            if r is None or r.get("slower") is None:
                out.append((config, f"{option} ≤ 15% slower than SGD", "not measured", None))
            else:
                out.append((config, f"{option} ≤ 15% slower than SGD",
                            f"{100 * r['slower']:+.1f}%", r["slower"] <= 0.15))
    return out


# ------------------------------------------------------------ RESULTS.md and chart

def cell(r, key, fmt):
    return fmt.format(r[key]) if r.get(key) is not None else ""


def write_results(rows, peaks, path, args):
    lines = ["# fastbp benchmark results", "",
             f"Written by `python bench/run.py` on {time.strftime('%Y-%m-%d')}; median of "
             f"{args.repeats} repeats after a warm-up (min–max in brackets), in one process. "
             "Committed runs are made with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset: "
             "`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py`.", "",
             f"Machine: {machine()}", "", f"Peers: {peer_versions()}", "",
             f"GEMM peak (best NumPy matmul in this run, {THREADS} BLAS threads): " + "; ".join(
                 f"{dt} {p:.1f} GFLOP/s ({where})" for dt, (p, where) in peaks.items()) + ".", ""]

    def table(section, title, note, header, align, cells):
        """A section's rows as a Markdown table: cells(r) for each measured row,
        its status (not installed, failed) for the others."""
        picked = [r for r in rows if r["section"] == section]
        if not picked:
            return
        lines.extend(["", title, ""] + ([note, ""] if note else [])
                     + ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"])
        for r in picked:
            row = (cells(r) if r["status"] == "ok" else
                   [str(r.get("config", r.get("threads", r.get("batch", "")))), r["peer"],
                    r["status"]] + [""] * (len(header) - 3))
            lines.append("| " + " | ".join(row) + " |")

    rate_cells = lambda r: [r["config"], r["peer"], f"{r['rate']:,.0f}", spread(r["rates"]),  # noqa: E731
                            f"{r['gflops']:.1f}", f"{100 * r['peak']:.1f}",
                            cell(r, "x_numpy", "{:.2f}")]
    table("train", "## Training (forward, backward and SGD update of whole epochs)",
          f"fastbp {FASTBP_EPOCHS} epochs a fit call; numpy, torch and sklearn at {THREADS} "
          "threads; jax on all cores.",
          ["config", "peer", "samples/s", "(min–max)", "GFLOP/s", "% of peak", "× NumPy",
           "scaling 1→2"], ["---"] * 2 + ["---:"] * 6,
          lambda r: rate_cells(r) + [cell(r, "scaling", "{:.2f}")])
    table("infer", f"## Inference (forward only, {INFER_BATCH}-row batches)",
          f"numpy, torch and sklearn at {THREADS} threads; jax on all cores; ONNX Runtime runs "
          "a Gemm/activation graph of the same weights.",
          ["config", "peer", "samples/s", "(min–max)", "GFLOP/s", "% of peak", "× NumPy",
           "whole set in one call, samples/s"], ["---"] * 2 + ["---:"] * 6,
          lambda r: rate_cells(r) + [f"{r['whole']:,.0f}"])
    table("D", "## D: scikit-learn's example, MLPClassifier(hidden_layer_sizes=(100,), "
          "random_state=0) on load_digits", None,
          ["threads", "estimator", "fit s", "(min–max)", "× scikit-learn", "test accuracy",
           "epochs"], ["---:", "---"] + ["---:"] * 5,
          lambda r: [str(r["threads"]), r["peer"], f"{r['seconds']:.3f}",
                     f"{min(r['times']):.3f}–{max(r['times']):.3f}",
                     cell(r, "speedup", "{:.2f}"), f"{r['accuracy']:.4f}", str(r["n_iter"])])
    table("digits", "## Digits shape, 64-100-10 relu/softmax float64, SGD, 1 thread: "
          "compiled epoch vs NumPy matrix code", None,
          ["batch", "peer", "µs per batch", "(min–max)", "× NumPy"], ["---:", "---"] + ["---:"] * 3,
          lambda r: [str(r["batch"]), r["peer"], f"{r['us']:.1f}",
                     f"{min(r['uss']):.1f}–{max(r['uss']):.1f}", cell(r, "x_numpy", "{:.2f}")])
    table("options", f"## Training options (fastbp, {THREADS} threads)", None,
          ["config", "option", "samples/s", "(min–max)", "% slower than SGD"],
          ["---"] * 2 + ["---:"] * 3,
          lambda r: [r["config"], r["peer"], f"{r['rate']:,.0f}", spread(r["rates"]),
                     cell(r, "slower", "{:+.1%}").rstrip("%")])
    lines += ["", f"## Targets ({THREADS} threads unless said; ratios within this run)", "",
              "| config | target | measured | reached |", "|---|---|---|---|"]
    for what, target, measured, ok in targets(rows):
        lines.append(f"| {what} | {target} | {measured} | "
                     f"{'n/a' if ok is None else 'yes' if ok else 'no'} |")
    lines += ["", "## The one hand-written product kept", "",
              "Every product goes to OpenBLAS except those of at most 128 multiply-adds "
              "(`SMALL_GEMM` in `src/fastbp/_blas.pxd`), which a plain loop computes. Measured "
              "apart from this run (rebuilds with other thresholds; 1 thread, ns per row of a "
              "fit epoch): a 7-5-3 sigmoid network in online SGD (products of 15-35 "
              "multiply-adds) takes 232-248 ns with the loop and 474 with OpenBLAS for all; "
              "64-16-10 at batch 1 (160 and 1024) takes 973 with OpenBLAS and 1678 with the "
              "loop, so the loop stops at 128. The old blocked GEMM with its AVX2/AVX-512 "
              "micro-kernels reached about 64% of OpenBLAS at the real shapes and is deleted.",
              ""]
    lines += ["", "S runs 5,000 samples per epoch, M 5,000, L 2,048 (bundled MNIST subset) "
              "unless --samples says otherwise. scikit-learn always trains a softmax/log-loss "
              "output, so its S row is not the same cost. "
              "Data-parallel training over MPI (`bench/distributed.py`, 1 and 2 ranks): "
              "see `bench/DISTRIBUTED.md`.", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart (pip install matplotlib)")
        return
    configs = [c for c in CONFIGS if any(r["config"] == c for r in rows)]
    if not configs:
        return
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for ax, section, title in ((axes[0], "train", "training"),
                               (axes[1], "infer", f"inference, batches of {INFER_BATCH}")):
        peers = list(dict.fromkeys(r["peer"] for r in rows if r["section"] == section))
        width = 0.8 / max(len(peers), 1)
        for i, peer in enumerate(peers):
            vals = [(find(rows, section, c, peer) or {}).get("x_numpy") or np.nan for c in configs]
            ax.bar(np.arange(len(configs)) + i * width, vals, width, label=peer)
        ax.set_xticks(np.arange(len(configs)) + width * (len(peers) - 1) / 2)
        ax.set_xticklabels([f"{c}: {'-'.join(map(str, CONFIGS[c][0]))}" for c in configs])
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set_yscale("log")  # peers differ by orders of magnitude at S
        ax.set_ylabel("samples/s × NumPy (log scale)")
        ax.set_title(f"{title} (higher is better)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=None, help="timings per row (5; 2 with --quick)")
    parser.add_argument("--samples", type=int, default=None, help="samples per epoch of S, M, L")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 repeats, 1,000 samples, one GEMM shape")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections among {','.join(SECTIONS)} "
                             "(options: the option rows of M and L)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "RESULTS.md"))
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(sorted(unknown))}; "
                     f"choose among {','.join(SECTIONS)}")
    if args.quick:
        args.samples = args.samples or 1000
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    rows, peaks = run(args)
    write_results(rows, peaks, args.out, args)
    print(f"wrote {args.out}")
    base, _ = os.path.splitext(args.out)
    head, tail = os.path.split(base)
    plot(rows, os.path.join(head, "results.png" if tail == "RESULTS" else tail + ".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
