"""The report of a run: the targets table, RESULTS.md and the chart."""
import time

import numpy as np

from .common import (ACCURACY_TOLERANCE, CONFIGS, DIGITS_BATCHES, FASTBP_EPOCHS, INFER_BATCH,
                     THREADS, machine, peaks_text, peer_versions, write_lines)
from .sections import WARM, spread


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


# What holds back each target a run can miss: (config, words of its target) ->
# the limit, measured on the 2-core AVX-512 Zen 5 the committed runs were made
# on (perf, timings of the parts apart from the runs, and the twelve full runs
# of 2026-12-02, the last three of the current code); printed for the targets
# missed.
LIMITS = [
    (("S", "peak"), "S trains on two threads where every thread computes the output layer, "
     "its cost and δ_0 for all rows (`_core.output_everywhere`): two barriers a batch of "
     "~11 µs. Two threads ran 1.36-1.46× as fast as one in the nine of the twelve full runs "
     "that reached 40% (43.3-46.4% of the float64 peak), 1.15-1.29× (34.3-37.9%) in three "
     "on a busier host, where a thread waits at each barrier for one the host has "
     "preempted. In a batch each thread waits 0.6-1.3 µs at the barriers (rdtsc), repeats "
     "the ~1 µs of the output layer, its cost and δ_0, and reads its half of the batch's "
     "62 kB of X from memory (one thread: 14.7 µs a batch, 12.5 with X in cache)."),
    (("M", "peak"), "One thread runs M at 174-215 GFLOP/s, 83-93% of one core's share of "
     "the float32 peak. A batch of 64 rows takes ~70 µs on two threads and crosses two "
     "barriers with SGD (three with Adam), so a thread the host preempts stalls the other: "
     "two threads ran 1.28-1.85× as fast as one, and M at 54.1-85.9% of the peak, in the "
     "twelve full runs (7 of them at 70% or more)."),
    (("M", "JAX"), "As M's share of the peak: the second thread (1.28-1.85× of one)."),
    (("L", "peak"), "One thread runs L at 181-230 GFLOP/s, 86-97% of one core's share of "
     "the peak: packing W for the forward products takes 3.7% of its time, OpenBLAS's "
     "copies of its operands at L's 512-unit ∇W pieces 3.4%, the element-wise passes and "
     "∇b about 2% (perf, 1 thread). Two threads ran 1.73-2.01× as fast as one (1.07× in a "
     "run on a busy host), and L at 78.3-95.9% of the peak, in the twelve full runs (4 of "
     "them at 90% or more)."),
    (("L", "JAX"), "As L's share of the peak; JAX's epoch ran at 67.7-83.7% of it in the "
     "twelve full runs."),
    (("L", "threads"), "L's threads meet at a barrier after each layer's phase of a batch "
     "of 5-7 ms; two threads ran 1.73-2.01× as fast as one in the twelve full runs, as "
     "the host's load varied (1.07× in one on a busy host)."),
    (("any", "ONNX"), "ONNX Runtime packs the weights once, when it loads the model; "
     "fastbp packs each thread's W at every call (4.8% of M's inference on one thread, "
     "perf), as a Network's parameters are arrays its user may write between calls. Both "
     "run near the peak (fastbp at 71.5-93.0% of it at M and 81.6-104.7% at L, ONNX "
     "Runtime at 63.4-91.4% and 74.4-101.2%), so the ratio swings with the host's load: "
     "0.87-1.23× at M and 0.90-1.14× at L in the twelve full runs."),
    (("M", "adam"), "Adam's step takes a square root and a division a weight: 7.5 µs for "
     "each thread's 50k weights with its arrays in its core's 1 MB L2 (0.15 ns a weight, a "
     "C harness), a tenth of M's ~70 µs SGD batch on two threads before any memory "
     "traffic, where SGD's step is fused into the ∇W product. In a fit it takes 18.5 µs "
     "(perf): a thread's batch touches about 1.2 MB (its W and W's packed copy, its "
     "gradient and two moments, the batch's inputs), so the moments come from L3. Adam "
     "ran +25.7% to +40.0% slower than SGD in eleven of the twelve full runs, +13.4% in "
     "one whose SGD rows ran slow. Tried, not kept: the gradient made a panel at a time in "
     "the thread's pack buffer (200 KB less; the step no faster); the state's rows "
     "prefetched into L2 during the product (the product slower by as much); the step made "
     "in registers between the ∇W tiles (fits 0.86× as fast)."),
    (("L", "adam"), "Adam's step at L reads and writes about 60 MB a batch (parameters, "
     "gradient and two moments, 1.86M floats each) where SGD's fused step moves 15 MB: "
     "1.1-1.5 ms at the ~40 GB/s a core streams here, against 5.7-6.8 ms for SGD's whole "
     "batch (+3.9% to +22.3% in the twelve full runs)."),
    (("any", "l2"), "With SGD, l2 shrinks each piece of W just before the ∇W product "
     "that updates it (a pass over the piece, which the product then finds in cache; with "
     "an optimizer, its term joins each panel's step): +2.3% to +21.4% at M and −10.1% to "
     "+8.2% at L in the twelve full runs."),
    (("any", "dropout"), "Dropout draws a mask bit a unit and row and applies it to the "
     "activations and deltas: −1.7% to +31.8% at M and −8.4% to +7.8% at L in the twelve "
     "full runs."),
    (("D", "scikit-learn"), "fastbp.sklearn spends about 85 µs of Python an epoch "
     "(its epoch loop, scikit-learn's), besides the compiled epoch's ~100 µs a batch "
     "of 200."),
]


def limits(reached):
    """RESULTS.md's lines on what limits each target this run missed."""
    missed = [(what, target) for what, target, _, ok in reached if ok is False]
    notes = []
    for what, target in missed:
        text = next((t for (config, word), t in LIMITS
                     if config in (what.split(",")[0], "any") and word in target), None)
        if text and text not in notes:
            notes.append(text)
    if not notes:
        return []
    return ["", "## What limits the targets missed", ""] + [f"- {t}" for t in notes]


# ------------------------------------------------------------ RESULTS.md and chart

def cell(r, key, fmt):
    return fmt.format(r[key]) if r.get(key) is not None else ""


def preamble(peaks, args):
    """The lines above the tables: the command, the machine, the peers, the peak."""
    return ["# fastbp benchmark results", "",
            f"Written by `{args.written_by}` on {time.strftime('%Y-%m-%d')}; median of "
            f"{args.repeats} timings (min–max in brackets), in one process; the peers of a section "
            f"take turns, one timing each a round, each after {WARM:g} s of untimed calls of its own. "
            "Committed runs are made with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset: "
            "`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py`.", "",
            f"Machine: {machine()}", "", f"Peers: {peer_versions()}", "",
            f"GEMM peak (best NumPy matmul in this run, {THREADS} BLAS threads): "
            f"{peaks_text(peaks)}.", ""]


# What RESULTS.md says of who computes the products (measured apart from a run).
PRODUCTS_SECTION = [
    "", "## The products fastbp computes itself", "",
    "The forward product Z = A·Wᵀ runs fastbp's own kernels where the CPU has them "
    "(AVX-512F, chosen at run time), at every size. From 32 rows and 32 units (16 in "
    "float64) it is `csrc/outer.c`'s sums of rows of Wᵀ (`fastbp_?outer_abt`): W "
    "packed 64 floats (32 doubles) of units at a time into a buffer of the thread, "
    "transposed by 16×16 (8×8) blocks in registers, then tiles of six rows of Z by "
    "four vectors of units, the bias and relu or leaky relu of a hidden layer applied "
    "in registers; below, `csrc/dot.c`'s dot products (every Z[i, j] one dot product "
    "of a row of A and a row of W, four rows by five units a tile, nothing packed). "
    "Measured apart from this run (1 thread, µs a product, OpenBLAS / dot.c / packed "
    "outer.c, scipy-openblas32 0.3.34 on this Zen 5): float32 256×784·(784×128)ᵀ "
    "(M's inference) 309 / 249-265 / 225-238, 128 rows 180 / 123-138 / 128, 64 rows "
    "(M's training) 77-92 / 61-66 / 61-67; L's 256×784·(784×512)ᵀ 1007-1134 / "
    "896-1037 and 256×1024·(1024×512)ᵀ 1400-1500 / 1207-1331 (dot.c / packed); "
    "float64 256×784·(784×30)ᵀ (S's inference) 374 / 196 / 128, 200×64·(64×100)ᵀ "
    "(digits) 35 / 31.6 / 26.2. Packing costs a pass over W a call, which fewer rows "
    "do not pay back (float32 16 rows of 784-128: 17.6 / 20.8; float64 10 rows of "
    "784-30, S's training: 6.4 / 7.4), and narrow layers run dot.c (256×10 of 128: "
    "4.1 / 7.9). So a row's output can differ in its last bits with the number of "
    "rows it is computed with (under 32 or not), never with the thread count. In "
    "inference the first product's tiles also tell whether any of X·W₀ᵀ is NaN or ±inf, "
    "as it is for a row of X that holds one: that is forward's finiteness check of X, "
    "which reads X again only where the packed kernel did not run or found one (M's "
    "inference, old and new builds alternating: +2-7% on 1 thread, +4-10% on 2).",
    "",
    "The float32 backward products ∇W = δᵀ·A and δ·W run fastbp's sums-of-rows "
    "kernel (`csrc/outer.c`, AVX-512F: row i of C the sum of B's rows scaled by "
    "op(A)[i, p], six rows by 64 columns a tile, SGD's step applied to the tile "
    "in registers, nothing packed) where C has at most 256 rows and the sums at "
    "least 32 terms, and OpenBLAS elsewhere (float64 too). Measured apart from "
    "this run (1 thread, µs, OpenBLAS / outer.c, C rows × columns, sum of k): "
    "M's ∇W pieces 64×784 of 64 rows 31-33 / 26-28, 10×128 of 64 (M's output "
    "layer before its cut by the hidden pieces) 0.70-0.76 / 0.68-0.70; L's last "
    "∇W 10×1024 of 256 72-95 / 24-26, its δ pieces 256×512 of 1024 1133-1196 / "
    "1076-1162. It loses at L's other ∇W pieces (512×784 of "
    "256: 895-922 / 946-980), for short sums (64×784 of 10: 5.0 / 5.6) and at "
    "the float64 shapes of S and the digits (0.88-1.15×), which stay OpenBLAS's.",
    "",
    "Without them (other CPUs) every product goes to OpenBLAS. Products of at "
    "most 128 multiply-adds but the forward one (`SMALL_GEMM` in "
    "`src/fastbp/_blas.pxd`) are computed by a plain loop on every CPU. Measured "
    "apart from this run (rebuilds with other thresholds; 1 thread, ns per row): a "
    "7-5-3 sigmoid network in online SGD (products of 15-35 multiply-adds) takes "
    "135 ns a row of the compiled epoch with the loop and 430 with OpenBLAS for "
    "all; with the loop for products up to 1024 multiply-adds instead, fits of "
    "64-16-10 at batch 1 and 4, 64-100-10 and 20-30-5 are 4-37% slower and "
    "7-5-3 5-13% faster, so the loop stops at 128. The old blocked GEMM with its "
    "AVX2/AVX-512 micro-kernels reached about 64% of OpenBLAS at the real shapes "
    "and is deleted.",
    "",
    "There, one orientation is chosen by shape: a float64 forward product with at "
    "most 32 units and at least 64 rows is computed as Zᵀ = W·Aᵀ and transposed "
    "(`gemm_abt` in `_blas.pxd`), because OpenBLAS is 1.14-1.43× faster that way "
    "(784-30 at 256 rows: 231 against 169 µs; 100-10 at 200 rows: 11.9 against "
    "8.4 µs; 1 thread, measured apart from this run). In float32, and from 100 "
    "units on, it is not faster (0.71-1.09×), so it is not used there.",
    ""
]


def write_results(rows, peaks, path, args):
    lines = preamble(peaks, args)

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
                     f"{min(r['times']['fit']):.3f}–{max(r['times']['fit']):.3f}",
                     cell(r, "speedup", "{:.2f}"), f"{r['accuracy']:.4f}", str(r["n_iter"])])
    table("digits", "## Digits shape, 64-100-10 relu/softmax float64, SGD, 1 thread: "
          "compiled epoch vs NumPy matrix code", None,
          ["batch", "peer", "µs per batch", "(min–max)", "× NumPy"], ["---:", "---"] + ["---:"] * 3,
          lambda r: [str(r["batch"]), r["peer"], f"{r['us']:.1f}",
                     f"{min(r['uss']):.1f}–{max(r['uss']):.1f}", cell(r, "x_numpy", "{:.2f}")])
    table("options", f"## Training options (fastbp, {THREADS} threads)",
          "The options take turns, one timing each a round; % slower is the median over "
          "the rounds of an option's time over SGD's in the same round.",
          ["config", "option", "samples/s", "(min–max)", "% slower than SGD"],
          ["---"] * 2 + ["---:"] * 3,
          lambda r: [r["config"], r["peer"], f"{r['rate']:,.0f}", spread(r["rates"]),
                     cell(r, "slower", "{:+.1%}").rstrip("%")])
    lines += ["", f"## Targets ({THREADS} threads unless said; ratios within this run)", "",
              "| config | target | measured | reached |", "|---|---|---|---|"]
    reached = targets(rows)
    for what, target, measured, ok in reached:
        lines.append(f"| {what} | {target} | {measured} | "
                     f"{'n/a' if ok is None else 'yes' if ok else 'no'} |")
    lines += limits(reached)
    lines += PRODUCTS_SECTION
    lines += ["", "S runs 5,000 samples per epoch, M 5,000, L 2,048 (bundled MNIST subset) "
              "unless --samples says otherwise. scikit-learn always trains a softmax/log-loss "
              "output, so its S row is not the same cost. "
              "Data-parallel training over MPI (`bench/distributed.py`, 1 and 2 ranks): "
              "see `bench/DISTRIBUTED.md`.", ""]
    write_lines(path, lines)


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
