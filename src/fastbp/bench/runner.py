"""The bench's command line and its run: options, the sections in order, then
RESULTS.md and the chart. `fastbp bench` and bench/run.py of a checkout both
come here; only their default --out differs."""
import argparse
import os
import time

from .. import set_num_threads
from ..datasets import load_mnist_5k
from .common import (CONFIGS, GEMM_SHAPES, SECTIONS, THREADS, gemm_peak, machine, peaks_text,
                     peer_versions)
from .report import plot, write_results
from .sections import WARM, run_config, run_digits_shape, run_options, run_sklearn_example

DESCRIPTION = ("fastbp's benchmark suite: training and inference throughput against NumPy, "
               "PyTorch, JAX, scikit-learn and ONNX Runtime (a peer that is not installed is "
               "a row that says so), on the bundled MNIST subset and scikit-learn's digits.")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _sections(text):
    """--only: a comma-separated list of SECTIONS."""
    only = [s.strip() for s in text.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown section(s) {', '.join(sorted(unknown))}; "
                                         f"choose among {','.join(SECTIONS)}")
    return only


def _out_file(text):
    """--out: a file in a folder that exists (checked before hours of timing)."""
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"folder {folder} does not exist")
    return text


def add_arguments(parser, out="RESULTS.md", command="fastbp bench"):
    """The bench's options on `parser`; `out` is --out's default, `command`
    the command line RESULTS.md names."""
    where = out if os.path.isabs(out) else f"{out}, in the current folder"
    parser.add_argument("--repeats", type=_positive_int, default=None, metavar="N",
                        help=f"timings per row, each after {WARM:g} s of untimed calls, the "
                        "rows of a section taking turns (default: 5; 2 with --quick)")
    parser.add_argument("--samples", type=_positive_int, default=None, metavar="N",
                        help="training samples per epoch of S, M and L "
                        "(default: 5,000, L 2,048; 1,000 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 repeats, 1,000 samples, one GEMM shape "
                        "(default: off)")
    parser.add_argument("--only", type=_sections, default=list(SECTIONS), metavar="SECTIONS",
                        help=f"comma-separated sections among {','.join(SECTIONS)} (options: "
                        "the option rows of M and L; D and digits need scikit-learn) "
                        "(default: all)")
    parser.add_argument("--out", type=_out_file, default=out, metavar="PATH",
                        help="the results, in Markdown; with matplotlib a chart beside it, "
                        f"results.png for RESULTS.md, else NAME.png (default: {where})")
    parser.set_defaults(written_by=command)


def measure(args):
    """Every section of args.only in turn: (rows, GEMM peaks by dtype)."""
    only = set(args.only)
    sized = only & set(CONFIGS)  # S, M, L: the sections with JAX and a "% of peak"
    start = time.perf_counter()
    if sized:
        try:  # before any JAX array exists: S trains in float64
            import jax
            jax.config.update("jax_enable_x64", True)
        except ImportError:
            pass
    print(f"machine: {machine()}")
    print(f"peers: {peer_versions()}")
    peaks = {}
    if sized:
        shapes = GEMM_SHAPES[:1] if args.quick else GEMM_SHAPES
        peaks = {dt: gemm_peak(dt, args.repeats, shapes) for dt in ("float64", "float32")}
    print(f"GEMM peak (best NumPy matmul, {THREADS} BLAS threads): {peaks_text(peaks)}",
          flush=True)
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
    set_num_threads(THREADS)
    print(f"measured in {time.perf_counter() - start:.0f} s")
    return rows, peaks


def run(args):
    """Measure what the options of add_arguments ask, write RESULTS.md and the
    chart; returns the exit status, 0."""
    if args.quick:
        args.samples = args.samples or 1000
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    rows, peaks = measure(args)
    write_results(rows, peaks, args.out, args)
    print(f"wrote {args.out}")
    base, _ = os.path.splitext(args.out)
    head, tail = os.path.split(base)
    plot(rows, os.path.join(head, "results.png" if tail == "RESULTS" else tail + ".png"))
    return 0


def main(argv=None, out="RESULTS.md", command="fastbp bench"):
    """Parse argv (default: the command line) and run the bench.

    Parameters
    ----------
    argv : list of str, optional
        The options, as add_arguments defines them.
    out : str
        --out's default: where RESULTS.md goes (the chart beside it).
    command : str
        The command RESULTS.md says wrote it.
    """
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    add_arguments(parser, out, command)
    return run(parser.parse_args(argv))
