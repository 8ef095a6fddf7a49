"""Running the sections (S, M, L, options, D, digits): the rows of a section
are set up, then take turns (in_turns), and are printed when the section is
measured; a peer's failure is its row's status."""
import gc
import math
import statistics
import warnings

import numpy as np

from .. import set_num_threads
from .common import (DIGITS_BATCHES, FASTBP_EPOCHS, LR, OPTIONS, THREADS, NotInstalled,
                     blas_threads, flops_per_sample, forward_flops_per_sample, import_peer,
                     make_net, timed)
from .peers import INFER_PEERS, TRAIN_PEERS, fastbp_train, numpy_train


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


# Seconds of a run's own calls before each of its timings: by then the
# threads of the peer before have stopped spinning (OpenBLAS's spin for 2^28
# time-stamp ticks, about 0.1 s, before they sleep), and the run's own
# threads and data are as warm as in repeats one after another (measured:
# with a single untimed call before each timing, fastbp's 2-thread inference
# at batch 256, a call of about a millisecond, ran slower than its 1 thread).
WARM = 0.3


def in_turns(rows, repeats):
    """Time every set-up row's runs (r["runs"]: name -> function) for
    `repeats` rounds, the rows of a section taking turns: a slow spell of the
    shared machine then falls on every peer alike, and the ratios of one run
    stay fair. Each turn calls the run untimed for WARM seconds (once at
    least), then times one call. The seconds go to r["times"][name]; a run that
    raises makes its row's status."""
    for r in rows:
        r["times"] = {}
    for _ in range(repeats):
        for r in rows:
            if r["status"] != "ok":
                continue
            try:
                for name, fn in r["runs"].items():
                    r["times"].setdefault(name, []).extend(timed(fn, 1, WARM))
            except Exception as e:
                r["status"] = why(e)
    for r in rows:
        r.pop("runs", None)  # the peers' models and data, no longer needed
    gc.collect()


def train_row(name, cfg, label, peer, threads, X, Y):
    def measure():
        train, epochs = peer(cfg, X, Y, threads)
        return dict(runs=dict(train=train), epochs=epochs)
    return measured_row(measure, section="train", config=name, peer=label, n=len(X))


def train_rates(r, cfg, peak):
    r.update(rate_fields([r["n"] * r["epochs"] / t for t in r["times"]["train"]],
                         flops_per_sample(cfg[0]), peak))


def infer_row(name, cfg, label, peer, threads, X):
    def measure():
        batches, whole = peer(cfg, X, threads)
        return dict(runs=dict(batches=batches, whole=whole))
    return measured_row(measure, section="infer", config=name, peer=label, n=len(X))


def infer_rates(r, cfg, peak):
    r.update(rate_fields([r["n"] / t for t in r["times"]["batches"]],
                         forward_flops_per_sample(cfg[0]), peak),
             whole=r["n"] / statistics.median(r["times"]["whole"]))


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
    train = [train_row(name, cfg, label, peer, threads, X, Y)
             for label, peer, threads in TRAIN_PEERS]
    in_turns(train, args.repeats)
    for r in train:
        if r["status"] == "ok":
            train_rates(r, cfg, peak)
    relative(train)
    one = next((r for r in train if r["peer"] == "fastbp 1 thread" and r["status"] == "ok"), None)
    for r in train:
        if r["status"] == "ok" and r["peer"].startswith("fastbp") and one:
            r["scaling"] = r["rate"] / one["rate"]
        print_rate_row(r, "train")
    infer = [infer_row(name, cfg, label, peer, threads, X)
             for label, peer, threads in INFER_PEERS]
    in_turns(infer, args.repeats)
    for r in infer:
        if r["status"] == "ok":
            infer_rates(r, cfg, peak)
    relative(infer)
    for r in infer:
        print_rate_row(r, "infer")
    return train + infer


def run_options(name, cfg, X_all, y_all, args):
    """fastbp, THREADS threads: SGD and the training options, % slower than
    SGD, taking turns (in_turns); an option's slowdown is the median over
    the rounds of its time over SGD's in the same round."""
    n = args.samples or (5000 if name != "L" else 2048)
    X = np.ascontiguousarray(X_all[:n], dtype=cfg[5])
    Y = np.eye(10, dtype=cfg[5])[y_all[:n]]
    rows = []
    for label, options in OPTIONS:
        def measure():
            net, kwargs = make_net(cfg), options()

            def train():
                set_num_threads(THREADS)
                net.fit(X, Y, epochs=FASTBP_EPOCHS, batch_size=cfg[4], lr=LR, shuffle=False,
                        **kwargs)
            return dict(runs=dict(train=train))
        rows.append(measured_row(measure, section="options", config=name, peer=label))
    in_turns(rows, args.repeats)
    sgd = rows[0]["times"]["train"] if rows[0]["status"] == "ok" else None
    for r in rows:
        if r["status"] == "ok":
            times = r["times"]["train"]
            r["rates"] = [n * FASTBP_EPOCHS / t for t in times]
            r["rate"] = statistics.median(r["rates"])
            r["slower"] = (statistics.median(t / t0 for t, t0 in zip(times, sgd)) - 1
                           if sgd else None)
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
        from ..sklearn import MLPClassifier as FbMLP
    except Exception as e:
        row = dict(section="D", config="D", peer="fastbp.sklearn vs sklearn", threads=THREADS,
                   status=why(e))
        print(f"D {row['status']}")
        return [row]
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

    def row(label, threads):
        def measure():
            fitted = []

            def fit():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    if label == "sklearn":
                        clf = SkMLP(hidden_layer_sizes=(100,), random_state=0)
                        with blas_threads(threads):
                            clf.fit(X_train, y_train)
                    else:
                        clf = FbMLP(hidden_layer_sizes=(100,), random_state=0, n_threads=threads)
                        clf.fit(X_train, y_train)
                fitted[:] = [clf]
            return dict(runs=dict(fit=fit), fitted=fitted)
        return measured_row(measure, section="D", config="D", peer=label, threads=threads)
    rows = [row(label, threads) for threads in (1, THREADS)
            for label in ("sklearn", "fastbp.sklearn")]
    in_turns(rows, args.repeats)
    for sk, fb in (rows[:2], rows[2:]):
        for r in (sk, fb):
            if r["status"] != "ok":
                print(f"D {r['peer']:15s} {r['threads']} thread(s) {r['status']}", flush=True)
                continue
            clf = r.pop("fitted")[0]
            r.update(seconds=statistics.median(r["times"]["fit"]),
                     accuracy=clf.score(X_test, y_test), n_iter=clf.n_iter_)
            r["speedup"] = (statistics.median(sk["times"]["fit"]) / r["seconds"]
                            if sk["status"] == "ok" else None)
            print(f"D {r['peer']:15s} {r['threads']} thread{'s' if r['threads'] > 1 else ' '} "
                  f"fit {r['seconds']:7.3f} s ({min(r['times']['fit']):.3f}–{max(r['times']['fit']):.3f}) "
                  f"{fmt_x(r['speedup'])} scikit-learn  test accuracy {r['accuracy']:.4f}  "
                  f"{r['n_iter']} epochs", flush=True)
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
                return dict(runs=dict(train=train), epochs=epochs)
            pair[label] = measured_row(measure, section="digits", config=f"64-100-10 batch {batch}",
                                       peer=label, batch=batch)
            rows.append(pair[label])
        in_turns(pair.values(), args.repeats)
        for r in pair.values():
            if r["status"] == "ok":
                r["uss"] = [1e6 * t / (r["epochs"] * n_batches) for t in r["times"]["train"]]
                r["us"] = statistics.median(r["uss"])
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
