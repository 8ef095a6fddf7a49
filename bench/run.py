"""fastbp's benchmark suite: training and inference throughput against NumPy.

    python bench/run.py [--quick] [--repeats N] [--out bench/RESULTS.md]

For the three configurations of the performance issue (S, M, L) it times
whole epochs of mini-batch SGD (forward, backward and update) on the bundled
MNIST subset, and forward-only passes, for:
  fastbp        1 and 2 threads
  numpy         fastbp.reference, the plain-NumPy matrix implementation
  torch         PyTorch CPU (nn.Sequential + optim.SGD), if installed
  sklearn       MLPClassifier(solver="sgd").partial_fit, if installed
Each number is the median of several repeats after a warm-up, all in this
one process. The GEMM peak is NumPy's matmul on 2048² matrices, measured in
the same run. FLOPs per sample = 2·Σmacs (forward) + 2·Σmacs (weight
gradients) + 2·Σmacs past the first layer (delta propagation).

Prints one line per (config, implementation) and writes bench/RESULTS.md and,
with matplotlib, bench/results.png. It never runs inside pytest.
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

import fastbp
from fastbp import reference
from fastbp.datasets import load_mnist_5k

CONFIGS = {
    # name: sizes, hidden/output activation, cost, batch, dtype
    "S": ([784, 30, 10], "sigmoid", "sigmoid", "quadratic", 10, "float64"),
    "M": ([784, 128, 10], "relu", "softmax", "cross_entropy", 64, "float32"),
    "L": ([784, 1024, 1024, 10], "relu", "softmax", "cross_entropy", 256, "float32"),
}
FASTBP_EPOCHS = 3
TARGETS = {"S": 4.0, "M": 1.8, "L": 1.2}          # × NumPy, 2 threads
PEAK_TARGETS = {"S": 0.50, "M": 0.75, "L": 0.85}  # fraction of the GEMM peak


def flops_per_sample(sizes):
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2 * sum(macs) + 2 * sum(macs) + 2 * sum(macs[1:])


def forward_flops_per_sample(sizes):
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def timed(fn, repeats):
    """Median seconds of fn() over `repeats` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_peak(dtype, repeats):
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(dtype)
    seconds = timed(lambda: a @ a, repeats)
    return 2 * 2048 ** 3 / seconds / 1e9


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = fastbp._core.build_info()
    blas = ""
    try:
        from threadpoolctl import threadpool_info
        blas = ", ".join(f"{p['internal_api']} {p.get('version')} ({p.get('architecture')}, "
                         f"{p['num_threads']} threads)" for p in threadpool_info()
                         if p["user_api"] == "blas")
    except ImportError:
        pass
    return (f"{cpu}; {os.cpu_count()} cores; Python {platform.python_version()}; "
            f"NumPy {np.__version__}{' / ' + blas if blas else ''}; fastbp {fastbp.__version__} "
            f"({info['compiler']}, ISA {info['isa_selected']}, OpenMP {info['openmp']})")


# ------------------------------------------------------------ implementations

def fastbp_impl(cfg, X, Y, threads):
    sizes, act, out_act, cost, batch, dtype = cfg
    net = fastbp.Network(sizes, activation=act, output_activation=out_act, cost=cost,
                         dtype=dtype, seed=0)

    def train():
        # several epochs per call, as fit is used: its one-off input check
        # is then not counted as per-epoch work
        fastbp.set_num_threads(threads)
        net.fit(X, Y, epochs=FASTBP_EPOCHS, batch_size=batch, lr=0.01, shuffle=False)

    def infer():
        fastbp.set_num_threads(threads)
        net.forward(X)
    return train, infer


def numpy_impl(cfg, X, Y):
    sizes, act, out_act, cost, batch, dtype = cfg
    net = fastbp.Network(sizes, activation=act, output_activation=out_act, cost=cost,
                         dtype=dtype, seed=0)
    order = np.arange(len(X))

    def train():
        # sgd_epoch works on copies; write them back so each epoch continues
        w, b = reference.sgd_epoch(net, X, Y, order, batch, 0.01)
        for l in range(len(w)):
            net.weights[l][...] = w[l]
            net.biases[l][...] = b[l]

    return train, lambda: reference.forward(net, X)


def torch_impl(cfg, X, Y):
    import torch
    sizes, act, out_act, cost, batch, dtype = cfg
    torch.set_num_threads(2)
    torch.manual_seed(0)
    tdtype = getattr(torch, dtype)
    acts = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}
    layers = []
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=tdtype))
        if l < len(sizes) - 2:
            layers.append(acts[act]())
    if out_act == "sigmoid":
        layers.append(torch.nn.Sigmoid())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    Xt = torch.from_numpy(X)
    if cost == "cross_entropy":
        Yt = torch.from_numpy(Y.argmax(axis=1))
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        Yt = torch.from_numpy(Y)

        def loss_fn(out, y):  # fastbp's quadratic cost: mean of ½‖a − y‖²
            return 0.5 * ((out - y) ** 2).sum(dim=1).mean()

    def train():
        for start in range(0, len(Xt), batch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[start:start + batch]), Yt[start:start + batch])
            loss.backward()
            opt.step()

    def infer():
        with torch.no_grad():
            model(Xt)
    return train, infer


def sklearn_impl(cfg, X, Y):
    from sklearn.neural_network import MLPClassifier
    sizes, act, out_act, cost, batch, dtype = cfg
    y = Y.argmax(axis=1)
    # scikit-learn's output is always softmax + log-loss: the cost differs for S
    clf = MLPClassifier(hidden_layer_sizes=sizes[1:-1],
                        activation={"sigmoid": "logistic"}.get(act, act), solver="sgd",
                        batch_size=batch, learning_rate_init=0.01, momentum=0.0, alpha=0.0,
                        shuffle=False, random_state=0)
    clf.partial_fit(X, y, classes=np.arange(10))

    return (lambda: clf.partial_fit(X, y)), (lambda: clf.predict_proba(X))


# ------------------------------------------------------------ the run

def run(args):
    X_all, y_all = load_mnist_5k()
    rows = []
    peaks = {dt: gemm_peak(dt, args.repeats) for dt in ("float64", "float32")}
    print(f"machine: {machine()}")
    print(f"GEMM peak (NumPy matmul 2048²): float64 {peaks['float64']:.1f} GFLOP/s, "
          f"float32 {peaks['float32']:.1f} GFLOP/s")
    for name, cfg in CONFIGS.items():
        sizes, _, _, _, batch, dtype = cfg
        n = args.samples or (5000 if name != "L" else 2048)
        X = X_all[:n].astype(dtype)
        Y = np.eye(10, dtype=dtype)[y_all[:n]]
        # each is built just before it is timed: building one runs work
        # (scikit-learn's first partial_fit) whose threads must not spin
        # while another is measured
        makers = {"fastbp 1 thread": lambda *a: fastbp_impl(*a, 1),
                  "fastbp 2 threads": lambda *a: fastbp_impl(*a, 2),
                  "numpy": numpy_impl, "torch": torch_impl, "sklearn": sklearn_impl}
        for label, make in makers.items():
            try:
                train, infer = make(cfg, X, Y)
            except ImportError:
                continue
            epochs = FASTBP_EPOCHS if label.startswith("fastbp") else 1
            t_train = timed(train, args.repeats) / epochs
            t_infer = timed(infer, args.repeats)
            rows.append(dict(config=name, impl=label, n=n, dtype=dtype,
                             train=n / t_train, infer=n / t_infer,
                             gflops=n * flops_per_sample(sizes) / t_train / 1e9,
                             infer_gflops=n * forward_flops_per_sample(sizes) / t_infer / 1e9))
        base = next(r for r in rows if r["config"] == name and r["impl"] == "numpy")
        one = next(r for r in rows if r["config"] == name and r["impl"] == "fastbp 1 thread")
        for r in rows:
            if r["config"] == name:
                r["x_numpy"] = r["train"] / base["train"]
                r["x_numpy_infer"] = r["infer"] / base["infer"]
                r["peak"] = r["gflops"] / peaks[dtype]
                r["scaling"] = r["train"] / one["train"] if r["impl"].startswith("fastbp") else None
                print(f"{name} {r['impl']:17s} train {r['train']:>10,.0f} samples/s "
                      f"{r['gflops']:7.1f} GFLOP/s {100 * r['peak']:5.1f}% of peak "
                      f"x{r['x_numpy']:5.2f} NumPy | infer {r['infer']:>11,.0f} samples/s "
                      f"x{r['x_numpy_infer']:5.2f}", flush=True)
    fastbp.set_num_threads(2)
    return rows, peaks


def write_results(rows, peaks, path, repeats):
    lines = ["# fastbp benchmark results", "",
             f"Written by `python bench/run.py` on {time.strftime('%Y-%m-%d')}; "
             f"median of {repeats} repeats after a warm-up, in one process.", "",
             f"Machine: {machine()}", "",
             f"GEMM peak (NumPy matmul on 2048² matrices, same run): float64 "
             f"{peaks['float64']:.1f} GFLOP/s, float32 {peaks['float32']:.1f} GFLOP/s.", "",
             "## Training (forward, backward and SGD update of whole epochs)", "",
             "| config | implementation | samples/s | GFLOP/s | % of peak | × NumPy | scaling 1→2 |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        scaling = f"{r['scaling']:.2f}" if r["scaling"] is not None else ""
        lines.append(f"| {r['config']} | {r['impl']} | {r['train']:,.0f} | {r['gflops']:.1f} | "
                     f"{100 * r['peak']:.1f} | {r['x_numpy']:.2f} | {scaling} |")
    lines += ["", "## Inference (forward only)", "",
              "| config | implementation | samples/s | GFLOP/s | × NumPy |", "|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['impl']} | {r['infer']:,.0f} | "
                     f"{r['infer_gflops']:.1f} | {r['x_numpy_infer']:.2f} |")
    lines += ["", "## Targets (2 threads)", "", "| config | target | measured | reached |",
              "|---|---|---|---|"]
    for name in CONFIGS:
        two = next(r for r in rows if r["config"] == name and r["impl"] == "fastbp 2 threads")
        others = [r for r in rows if r["config"] == name and r["impl"] in ("torch", "sklearn")]
        checks = [(f"≥ {TARGETS[name]}× NumPy", f"{two['x_numpy']:.2f}×",
                   two["x_numpy"] >= TARGETS[name]),
                  (f"≥ {100 * PEAK_TARGETS[name]:.0f}% of peak", f"{100 * two['peak']:.1f}%",
                   two["peak"] >= PEAK_TARGETS[name])]
        for o in others:
            checks.append((f"ahead of {o['impl']}", f"{two['train'] / o['train']:.2f}×",
                           two["train"] > o["train"]))
        if name == "L":
            checks.append(("1→2 threads ≥ 1.8×", f"{two['scaling']:.2f}×", two["scaling"] >= 1.8))
        if name == "S":
            checks.append(("no slowdown from the 2nd thread", f"{two['scaling']:.2f}×",
                           two["scaling"] >= 1.0))
        for target, measured, ok in checks:
            lines.append(f"| {name} | {target} | {measured} | {'yes' if ok else 'no'} |")
    lines += ["", "S runs 5,000 samples per epoch, M 5,000, L 2,048 (bundled MNIST subset). "
              "scikit-learn always trains a softmax/log-loss output, so its S row is not the "
              "same cost.", "",
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
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(impls)
    for i, impl in enumerate(impls):
        vals = [next((r["x_numpy"] for r in rows if r["config"] == c and r["impl"] == impl), 0)
                for c in CONFIGS]
        ax.bar(np.arange(len(CONFIGS)) + i * width, vals, width, label=impl)
    ax.set_xticks(np.arange(len(CONFIGS)) + width * (len(impls) - 1) / 2)
    ax.set_xticklabels([f"{c}: {'-'.join(map(str, CONFIGS[c][0]))}" for c in CONFIGS])
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.set_ylabel("training throughput × NumPy")
    ax.set_title("fastbp training speed (higher is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=None, help="samples per epoch")
    parser.add_argument("--quick", action="store_true", help="2 repeats, 1,000 samples")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "RESULTS.md"))
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.samples = 2, 1000
    rows, peaks = run(args)
    write_results(rows, peaks, args.out, args.repeats)
    print(f"wrote {args.out}")
    plot(rows, os.path.splitext(args.out)[0].replace("RESULTS", "results") + ".png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
