"""The `fastbp` command (also `python -m fastbp`).

    fastbp demo       train on the bundled wheat seeds and MNIST subset
    fastbp info       how fastbp was built (= fastbp.show_config())
    fastbp train      train a classifier on a numeric CSV file and save it
    fastbp evaluate   loss and accuracy of a saved model on a CSV file
    fastbp predict    one predicted class per line for a CSV file
    fastbp bench      the benchmark suite (bench/run.py, source checkout only)

What `train` learns besides the weights (the standardization, the target
column, the class labels as written in the file) goes to a sidecar JSON
`<model>.json`, so the model file keeps fastbp's own format. Mistakes a user
can make (arguments, unreadable or malformed data and model files, networks
too big for the machine, files beyond memory) end in one line
`fastbp: error: ...` on stderr and exit status 2, never a traceback; Ctrl-C
ends in one line and status 130. The model and its sidecar are written
together (atomic_write_many): both temp files in full, then both renamed.
"""
import argparse
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from . import Network, _io, datasets, load, set_num_threads, show_config
from ._validation import COSTS, HIDDEN_ACTIVATIONS

SIDECAR_FORMAT = "fastbp-cli-sidecar"


class CommandError(Exception):
    """A problem the user can fix; main() prints it as one line, exit 2."""


# ------------------------------------------------------------------ demo / info


def _train(name, X, y, sizes, epochs, batch_size, lr, seed, test_fraction, plot=None,
           **net_args):
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_fraction, seed=seed)
    if name == "wheat seeds":  # raw measurements differ in scale by 100x
        X_train, X_test = datasets.standardize(X_train, X_test)
    net = Network(sizes, seed=seed, **net_args)
    print(f"\n{name}: {len(X_train)} training / {len(X_test)} test samples, {net}")
    start = time.perf_counter()
    history = net.fit(X_train, y_train, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                      validation_data=(X_test, y_test), progress=True)
    wall = time.perf_counter() - start
    for epoch, (loss, acc, vacc) in enumerate(zip(history["loss"], history["accuracy"],
                                                  history["val_accuracy"]), 1):
        print(f"  epoch {epoch:3d}  loss {loss:.4f}  accuracy {acc:.3f}  test accuracy {vacc:.3f}")
    trained = epochs * len(X_train)
    result = net.evaluate(X_test, y_test)
    print(f"  final test accuracy {result['accuracy']:.4f} (loss {result['loss']:.4f}); "
          f"{trained / sum(history['seconds']):,.0f} training samples/s "
          f"({wall:.2f} s with per-epoch evaluation)")
    if plot:
        try:
            history.plot(plot)
        except ImportError as e:
            raise CommandError(str(e)) from None
        print(f"  loss and accuracy curves: {plot}")
    return result["accuracy"]


def demo(args):
    """`fastbp demo`: the main job on the bundled data sets."""
    def plot_path(dataset):  # one file per data set when both are trained
        if not args.plot or args.dataset != "all":
            return args.plot
        stem, ext = os.path.splitext(args.plot)
        return f"{stem}-{dataset}{ext or '.png'}"

    if args.dataset in ("wheat", "all"):
        X, y = datasets.load_wheat_seeds()
        _train("wheat seeds", X, y, [7, 10, 3], args.epochs or 50, 10, 0.5, args.seed, 0.25,
               plot=plot_path("wheat"), activation="sigmoid", cost="cross_entropy")
    if args.dataset in ("mnist", "all"):
        X, y = datasets.load_mnist_5k()
        # Nielsen's chapter 1 network and hyper-parameters
        _train("MNIST 5k", X, y, [784, 30, 10], args.epochs or 10, 10, 3.0, args.seed, 0.2,
               plot=plot_path("mnist"), activation="sigmoid", cost="quadratic")
    return 0


def info(args):
    """`fastbp info`: fastbp.show_config()."""
    show_config()
    return 0


# ------------------------------------------------------------------ sidecar


def _sidecar_path(model):
    return os.fspath(model) + ".json"


def _sidecar_writer(target, classes, mean, std):
    """write(f) of the sidecar's JSON; strict JSON (no NaN or Infinity)."""
    side = {"format": SIDECAR_FORMAT, "version": 1, "target": target,
            "classes": [int(c) for c in classes],
            "standardize": None if mean is None else {"mean": mean.tolist(), "std": std.tolist()}}
    try:
        text = json.dumps(side, indent=1, allow_nan=False).encode("utf-8")
    except ValueError:
        raise CommandError("--standardize: the statistics of the features are not finite "
                           "numbers") from None
    return lambda f: f.write(text)


def _save_model_and_sidecar(net, model, target, classes, mean, std):
    """The model and its sidecar, both new or both old: both are written to
    temp files first (a full disk or an error leaves both as they were), then
    renamed over the old ones one after the other."""
    _io.atomic_write_many([(model, _io.model_writer(net)),
                           (_sidecar_path(model), _sidecar_writer(target, classes, mean, std))])


def _sidecar_limit(net):
    """The most bytes a sidecar of this model can take (generously): numbers
    for each input and output, and a target column name."""
    return (1 << 20) + 64 * (2 * net.sizes[0] + net.sizes[-1])


def _read_sidecar(model, net):
    """(target, classes or None, mean or None, std or None) saved by train;
    defaults, with a note, for a model saved from Python without one."""
    path = _sidecar_path(model)
    if not os.path.exists(path):
        print(f"fastbp: note: no {path}: data used unscaled, classes are output indices",
              file=sys.stderr)
        return -1, None, None, None
    limit = _sidecar_limit(net)
    with open(path, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # /dev/zero never ends
            raise CommandError(f"{path} is not a regular file")
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise CommandError(f"{path} is larger than a sidecar of this model can be "
                           f"({limit:,} bytes)")
    try:
        side = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # RecursionError: nested too deeply
        why = e if isinstance(e, ValueError) else "nested too deeply"
        raise CommandError(f"{path} is not JSON: {why}") from None
    n_in, n_out = net.sizes[0], net.sizes[-1]
    ok = (isinstance(side, dict) and side.get("format") == SIDECAR_FORMAT
          and type(side.get("target")) in (int, str)
          and isinstance(side.get("classes"), list)
          and all(type(c) is int and -2**63 <= c < 2**63 for c in side["classes"])
          and side["classes"] == sorted(set(side["classes"]))
          and len(side["classes"]) == (2 if n_out == 1 else n_out))
    scale = side.get("standardize") if ok else None
    if ok and scale is not None:
        try:
            mean = np.array(scale["mean"], dtype=np.float64)
            std = np.array(scale["std"], dtype=np.float64)
        except (TypeError, KeyError, ValueError):
            ok = False
        else:
            ok = mean.shape == std.shape == (n_in,) and np.isfinite(mean).all() and (std > 0).all()
    if not ok:
        raise CommandError(f"{path} is not a sidecar fastbp train wrote for this model")
    if scale is None:
        return side["target"], side["classes"], None, None
    return side["target"], side["classes"], mean, std


# ------------------------------------------------------------------ train / evaluate / predict


def _column(text):
    """--target: an integer is a column index, anything else a column name."""
    return int(text) if re.fullmatch(r"[+-]?\d+", text.strip()) else text


def _class_labels(path, y):
    if y.dtype.kind != "i":
        raise CommandError(f"{path}: the target column holds non-integer values; "
                           f"fastbp train does classification (integer class labels)")
    return y


def train(args):
    """`fastbp train`: fit a classifier to a CSV file; save it and its sidecar."""
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):  # found out now rather than after training
        raise CommandError(f"--out: directory {out_dir} does not exist")
    X, y = datasets.load_csv(args.data, target=args.target)
    classes, codes = np.unique(_class_labels(args.data, y), return_inverse=True)
    if len(classes) < 2:
        raise CommandError(f"{args.data}: the target column holds a single class")
    layers = args.layers or [30, len(classes)]
    if layers[-1] != len(classes) and not (layers[-1] == 1 and len(classes) == 2):
        raise CommandError(f"--layers: {layers[-1]} output units for {len(classes)} classes "
                           f"{classes.tolist()}; use {len(classes)} (or 1 for two classes)")
    if args.test_fraction:
        X_train, X_test, y_train, y_test = datasets.train_test_split(
            X, codes, args.test_fraction, seed=args.seed)
    else:
        X_train, X_test, y_train, y_test = X, X[:0], codes, codes[:0]
    mean = std = None
    if args.standardize:
        mean, std = datasets.standardize_stats(X_train)
        X_train, X_test = datasets.standardize(X_train, X_test)
    _check_memory([X.shape[1], *layers], args.batch_size)
    net = Network([X.shape[1], *layers], activation=args.activation, cost=args.cost,
                  seed=args.seed)
    print(f"{args.data}: {len(X_train)} training / {len(X_test)} test samples, {net}")
    validation = (X_test, y_test) if len(X_test) else None
    net.fit(X_train, y_train, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            seed=args.seed, validation_data=validation, verbose=True, progress=True)
    if validation:
        result = net.evaluate(X_test, y_test)
        print(f"test accuracy {result['accuracy']:.4f} (loss {result['loss']:.4f})")
    _save_model_and_sidecar(net, args.out, args.target, classes, mean, std)
    print(f"saved {args.out} and {_sidecar_path(args.out)}")
    return 0


def _memory_bytes():
    """This machine's memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(sizes, batch_size):
    """Refuse, before allocating, a network whose training cannot fit in this
    machine's memory: parameters, gradients and an optimizer buffer, plus
    activations and deltas of a batch (float64)."""
    n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    need = 8 * (3 * n_params + 2 * min(batch_size, 1 << 20) * sum(sizes))
    memory = _memory_bytes()
    if memory is not None and need > memory:
        raise CommandError(f"--layers: a network of sizes {sizes} has {n_params:,} parameters; "
                           f"training it needs about {need / 2**30:,.1f} GiB, more than this "
                           f"machine's {memory / 2**30:,.1f} GiB")


def _model(path):
    """(net, target, classes, mean, std) of a model file and its sidecar."""
    net = load(path)
    return (net, *_read_sidecar(path, net))


def _inputs(path, net, X, target, mean, std):
    """Features checked against the model's input width, then scaled as in train."""
    if X.shape[1] != net.sizes[0]:
        raise CommandError(f"{path} has {X.shape[1]} feature columns (target {target!r} "
                           f"aside); the model takes {net.sizes[0]}")
    return X if mean is None else (X - mean) / std


def evaluate(args):
    """`fastbp evaluate`: print the loss and accuracy of a saved model on a CSV file."""
    net, target, classes, mean, std = _model(args.model)
    if args.target is not None:
        target = args.target
    X, y = datasets.load_csv(args.data, target=target)
    X = _inputs(args.data, net, X, target, mean, std)
    y = _class_labels(args.data, y)
    if classes is not None:
        unseen = ~np.isin(y, classes)
        if unseen.any():
            raise CommandError(f"{args.data}: class {y[unseen][0]} is not among the classes "
                               f"{classes} the model was trained on")
        y = np.searchsorted(classes, y)
    result = net.evaluate(X, y)
    print(f"loss {result['loss']:.6f}  accuracy {result['accuracy']:.4f}  ({len(X)} samples)")
    return 0


def predict(args):
    """`fastbp predict`: one predicted class per row, as the labels were written."""
    net, target, classes, mean, std = _model(args.model)
    if args.target is not None:
        target = args.target
        X, _ = datasets.load_csv(args.data, target=target)
    else:
        X, _ = datasets.load_csv(args.data, target=None)
        if X.shape[1] == net.sizes[0] + 1:  # the training target is still there: drop it
            X, _ = datasets.load_csv(args.data, target=target)
    predicted = net.predict(_inputs(args.data, net, X, target, mean, std))
    if classes is not None:
        predicted = np.asarray(classes)[predicted]
    text = "".join(f"{p}\n" for p in predicted.tolist())
    if args.out:
        data = text.encode("utf-8")
        _io.atomic_write(args.out, lambda f: f.write(data))
        print(f"wrote {len(predicted)} predictions to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


# ------------------------------------------------------------------ bench


def _bench_script():
    # src/fastbp/cli.py -> the checkout's bench/run.py; absent from installed wheels
    return Path(__file__).resolve().parents[2] / "bench" / "run.py"


def bench(args):
    """`fastbp bench`: run bench/run.py with the remaining arguments; its status."""
    script = _bench_script()
    if not script.is_file():
        raise CommandError("bench is only available from a source checkout of fastbp "
                           "(bench/run.py not found)")
    # a child process runs it as `python bench/run.py` would, importing this fastbp
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return subprocess.call([sys.executable, str(script), *args.bench_args], env=env)


# ------------------------------------------------------------------ arguments


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # one line, as every other fastbp error; the usage is one --help away
        self.exit(2, f"fastbp: error: {message} (see '{self.prog} --help')\n")


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
        return value
    parse.__name__ = kind.__name__
    return parse


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def _widths(text):
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of "
                                         f"layer widths such as 30,10") from None
    if not all(w > 0 for w in widths):
        raise argparse.ArgumentTypeError(f"{text!r}: layer widths must be positive")
    return widths


def _activations(text):
    """One hidden activation name, or a comma-separated name per hidden layer."""
    names = text.split(",")
    for name in names:
        if name not in HIDDEN_ACTIVATIONS:
            raise argparse.ArgumentTypeError(f"{name!r} is not one of {', '.join(HIDDEN_ACTIVATIONS)}")
    return names[0] if len(names) == 1 else names


def _parser():
    parser = _Parser(prog="fastbp", description="Fast, exact backpropagation.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="train on the bundled wheat seeds and MNIST subset")
    p.add_argument("--dataset", choices=("wheat", "mnist", "all"), default="all")
    p.add_argument("--epochs", type=_positive(int), default=None,
                   help="default: 50 (wheat), 10 (mnist)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=_positive(int), default=None)
    p.add_argument("--plot", metavar="FILE.png", default=None,
                   help="save loss and accuracy curves (needs matplotlib)")
    p.set_defaults(run=demo)

    p = sub.add_parser("info", help="show how fastbp was built (show_config)")
    p.set_defaults(run=info)

    p = sub.add_parser("train", help="train a classifier on a numeric CSV file",
                       description="Train on DATA (a numeric CSV; a header row is optional) "
                       "and save the model to --out, with its standardization and class "
                       "labels in --out + '.json'.")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--target", type=_column, default=-1,
                   help="target column: a name from the header or an index (default -1, the last)")
    p.add_argument("--layers", type=_widths, default=None,
                   help="hidden and output widths, e.g. 30,3 (default: 30,<number of classes>)")
    p.add_argument("--activation", type=_activations, default="sigmoid",
                   help=f"hidden activation, or one per hidden layer, e.g. relu,tanh "
                   f"({', '.join(HIDDEN_ACTIVATIONS)}; default sigmoid)")
    p.add_argument("--cost", choices=COSTS, default="quadratic")
    p.add_argument("--epochs", type=_positive(int), default=30)
    p.add_argument("--batch-size", type=_positive(int), default=10)
    p.add_argument("--lr", type=_positive(float), default=3.0, help="learning rate")
    p.add_argument("--seed", type=int, default=0, help="initial weights, split and shuffling")
    p.add_argument("--standardize", action="store_true",
                   help="scale features to mean 0, std 1 (statistics of the training part)")
    p.add_argument("--test-fraction", type=_fraction, default=None, metavar="F",
                   help="hold out this fraction, stratified, and report accuracy on it")
    p.add_argument("--out", default="model.npz", help="model file (default model.npz)")
    p.add_argument("--threads", type=_positive(int), default=None)
    p.set_defaults(run=train)

    p = sub.add_parser("evaluate", help="loss and accuracy of a saved model on a CSV file")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--target", type=_column, default=None,
                   help="target column (default: the one the model was trained with)")
    p.add_argument("--threads", type=_positive(int), default=None)
    p.set_defaults(run=evaluate)

    p = sub.add_parser("predict", help="predicted class of each row of a CSV file")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--target", type=_column, default=None,
                   help="a column to drop (default: the training target, if present)")
    p.add_argument("--out", default=None, help="write the predictions here, one per line")
    p.add_argument("--threads", type=_positive(int), default=None)
    p.set_defaults(run=predict)

    p = sub.add_parser("bench", help="run the benchmark suite (from a source checkout)",
                       description="Runs bench/run.py; further arguments are passed to it.")
    p.set_defaults(run=bench)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (2 for user errors)."""
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and args.command != "bench":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:  # argparse: --help (0) or a bad argument (2)
        return e.code
    args.bench_args = extra
    try:
        if getattr(args, "threads", None):
            set_num_threads(args.threads)
        return args.run(args)
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's status for SIGINT
        print("fastbp: interrupted", file=sys.stderr)
        return 130
    # FloatingPointError: training diverged; TypeError: a value of the wrong
    # kind in a file (a sidecar's target, say)
    except (CommandError, ValueError, FloatingPointError, TypeError) as e:
        message = str(e)
    except OSError as e:
        message = f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e)
    except MemoryError as e:
        message = f"out of memory{': ' + str(e) if str(e) else ''}"
    except RecursionError:
        message = "input nested too deeply"
    message = " ".join(message.split())  # one line, whatever the message holds
    print(f"fastbp: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
