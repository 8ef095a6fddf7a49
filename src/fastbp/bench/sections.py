"""Running the sections (S, M, L, options, D, digits): each timing a row,
printed as it is measured; a peer's failure is its row's status."""
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
    """fastbp, THREADS threads: SGD and the training options, % slower than
    SGD. The options take turns, one timing each a round (after a warm-up
    each), so that a slow spell of a shared machine falls on all of them;
    an option's slowdown is the median over the rounds of its time over
    SGD's in the same round."""
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
            train()  # the warm-up
            return dict(train=train, times=[])
        rows.append(measured_row(measure, section="options", config=name, peer=label))
    for _ in range(args.repeats):
        for r in rows:
            if r["status"] == "ok":
                r["times"] += timed(r["train"], 1, warm_up=False)
    sgd = rows[0] if rows[0]["status"] == "ok" else None
    for r in rows:
        if r["status"] == "ok":
            r["rates"] = [n * FASTBP_EPOCHS / t for t in r["times"]]
            r["rate"] = statistics.median(r["rates"])
            r["slower"] = (statistics.median(t / t0 for t, t0 in zip(r["times"], sgd["times"])) - 1
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
