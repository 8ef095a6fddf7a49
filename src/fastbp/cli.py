"""The `fastbp` command (also `python -m fastbp`).

    fastbp demo       train on the bundled wheat seeds and MNIST subset
    fastbp info       how fastbp was built (= fastbp.show_config())
    fastbp datasets   write a bundled data set as a CSV file with a header row
    fastbp train      train a classifier on a numeric CSV file and save it
    fastbp evaluate   loss and accuracy of a saved model on a CSV file
    fastbp predict    the predicted class (and --proba) of each row of a CSV file
    fastbp bench      the benchmark suite (fastbp.bench; RESULTS.md in this folder)

What `train` learns besides the weights (the standardization, the target
column, the class labels as written in the file) goes to a sidecar JSON
`<model>.json`, so the model file keeps fastbp's own format. Mistakes a user
can make (arguments, unreadable or malformed data and model files, networks
too big for the machine, files beyond memory) end in one line
`fastbp: error: ...` on stderr and exit status 2, never a traceback; Ctrl-C
ends in one line and status 130. The model and its sidecar are written
together (atomic_write_many): both temp files in full, then both renamed; the
sidecar names the SHA-256 of its model file, so that a pair a crash between
the two renames left (one file new, the other old) is refused by `evaluate`
and `predict`, never misread.
"""
import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import time
import warnings

import numpy as np

from . import Network, _io, datasets, load, set_num_threads, show_config
from . import bench as bench_suite
from ._validation import COSTS, HIDDEN_ACTIVATIONS

SIDECAR_FORMAT = "fastbp-cli-sidecar"


class CommandError(Exception):
    """A problem the user can fix; main() prints it as one line, exit 2."""


# ------------------------------------------------------------------ demo / info


@contextlib.contextmanager
def _one_line_warnings():
    """Warnings (fit's InputScaleWarning, say) as `fastbp: warning: ...` lines."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"fastbp: warning: {message}", file=sys.stderr, flush=True)
    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _say(args):
    """print, unless --quiet."""
    return (lambda *a, **k: None) if getattr(args, "quiet", False) else \
        (lambda *a, **k: print(*a, **k, flush=True))


def _train(name, X, y, sizes, epochs, batch_size, lr, seed, test_fraction, say, **net_args):
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_fraction, seed=seed)
    if name == "wheat seeds":  # raw measurements differ in scale by 100x
        X_train, X_test = datasets.standardize(X_train, X_test)
    net = Network(sizes, seed=seed, **net_args)
    say(f"\n{name}: {len(X_train)} training / {len(X_test)} test samples, {net}")

    def report(epoch, logs):  # each epoch as it ends: the progress of a longer run
        say(f"  epoch {epoch + 1:3d}  loss {logs['loss']:.4f}  accuracy {logs['accuracy']:.3f}"
            f"  test accuracy {logs['val_accuracy']:.3f}")

    start = time.perf_counter()
    history = net.fit(X_train, y_train, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                      validation_data=(X_test, y_test), callbacks=[report])
    wall = time.perf_counter() - start
    trained = epochs * len(X_train)
    result = net.evaluate(X_test, y_test)
    print(f"  {name}: final test accuracy {result['accuracy']:.4f} (loss {result['loss']:.4f}); "
          f"{trained / sum(history['seconds']):,.0f} training samples/s "
          f"({wall:.2f} s with per-epoch evaluation)")
    return history


def _pyplot():
    """matplotlib.pyplot drawing to files, or a CommandError saying what to install."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CommandError("--plot needs matplotlib: pip install 'fastbp[plot]'") from None
    return plt


def _plot(path, runs):
    """One PNG: a row of loss and accuracy curves per (title, history)."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(runs), 2, figsize=(9, 3.2 * len(runs)), squeeze=False)
    for row, (title, history) in zip(axes, runs):
        history.plot(ax=row)
        for ax, metric in zip(row, ("loss", "accuracy")):
            ax.set_title(f"{title}: {metric}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def demo(args):
    """`fastbp demo`: the main job on the bundled data sets."""
    say = _say(args)
    if args.plot:  # a missing matplotlib or folder is reported now, not after training
        _pyplot()
        if not os.path.isdir(os.path.dirname(os.path.abspath(args.plot))):
            raise CommandError(f"--plot: directory {os.path.dirname(args.plot)} does not exist")
    runs = []
    with _one_line_warnings():
        if args.dataset in ("wheat", "all"):
            X, y = datasets.load_wheat_seeds()
            history = _train("wheat seeds", X, y, [7, 10, 3], args.epochs or 50, 10, 0.5,
                             args.seed, 0.25, say, activation="sigmoid", cost="cross_entropy")
            runs.append(("wheat seeds 7-10-3", history))
        if args.dataset in ("mnist", "all"):
            X, y = datasets.load_mnist_5k()
            # Nielsen's chapter 1 network and hyper-parameters
            history = _train("MNIST 5k", X, y, [784, 30, 10], args.epochs or 10, 10, 3.0,
                             args.seed, 0.2, say, activation="sigmoid", cost="quadratic")
            runs.append(("MNIST 5k 784-30-10", history))
    if args.plot:
        _plot(args.plot, runs)
        say(f"loss and accuracy curves: {args.plot}")
    return 0


def info(args):
    """`fastbp info`: fastbp.show_config()."""
    show_config()
    return 0


# ------------------------------------------------------------------ datasets

WHEAT_COLUMNS = ["area", "perimeter", "compactness", "length", "width", "asymmetry", "groove",
                 "variety"]
DATASETS = {
    "wheat-seeds": "UCI wheat seeds: 210 kernels, 7 measurements, variety 1-3 (Kama, Rosa, "
                   "Canadian); header " + ",".join(WHEAT_COLUMNS),
    "mnist-5k": "5,000 MNIST digits in a fixed shuffled order: pixel0..pixel783 (0-255), "
                "then digit",
}


def _dataset_rows(name):
    """(header, rows of text cells) of a bundled data set, labels as in its file."""
    if name == "wheat-seeds":
        X, y = datasets.load_wheat_seeds()
        return WHEAT_COLUMNS, ([*(repr(float(v)) for v in row), str(label + 1)]
                               for row, label in zip(X.tolist(), y.tolist()))
    X, y = datasets.load_mnist_5k()
    pixels = np.rint(X * 255).astype(np.uint8)
    text = [str(v) for v in range(256)]  # 3.9 million cells: a table, not str() each
    return ([f"pixel{i}" for i in range(784)] + ["digit"],
            ([text[v] for v in row + [label]]
             for row, label in zip(pixels.tolist(), y.tolist())))


def datasets_command(args):
    """`fastbp datasets [NAME]`: list the bundled data, or write one as CSV."""
    if args.name is None:
        for name, text in DATASETS.items():
            print(f"{name:12s} {text}")
        print("fastbp datasets NAME > NAME.csv writes one, with a header row")
        return 0
    header, rows = _dataset_rows(args.name)
    text = "".join(",".join(cells) + "\n" for cells in [header, *rows])
    if args.out is None:
        sys.stdout.write(text)
        return 0
    gzipped = args.out.endswith(".gz")
    with (gzip.open(args.out, "wt", compresslevel=6, encoding="ascii", newline="") if gzipped
          else open(args.out, "w", encoding="ascii", newline="")) as f:
        f.write(text)
    _say(args)(f"wrote {args.name} to {args.out}")
    return 0


# ------------------------------------------------------------------ sidecar


def _sidecar_path(model):
    return os.fspath(model) + ".json"


def _sha256(path):
    """The SHA-256 of a file, read in chunks, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar_writer(model_sha256, target, classes, mean, std):
    """write(f) of the sidecar's JSON, bound to the model file whose SHA-256
    is model_sha256; strict JSON (no NaN or Infinity)."""
    side = {"format": SIDECAR_FORMAT, "version": 2, "model_sha256": model_sha256,
            "target": target, "classes": [int(c) for c in classes],
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
    renamed over the old ones one after the other. A crash between the two
    renames leaves a new file beside an old one: the sidecar names the
    SHA-256 of its model file, so _read_sidecar refuses such a pair."""
    buffer = io.BytesIO()  # the model file's bytes: hashed, then written
    _io.model_writer(net)(buffer)
    data = buffer.getvalue()
    side = _sidecar_writer(hashlib.sha256(data).hexdigest(), target, classes, mean, std)
    _io.atomic_write_many([(model, lambda f: f.write(data)), (_sidecar_path(model), side)])


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
    if type(side.get("model_sha256")) is not str:
        raise CommandError(f"{path} does not name the model file it belongs to (a sidecar of "
                           f"an older fastbp train); train the model again")
    if side["model_sha256"] != _sha256(model):
        raise CommandError(f"{path} belongs to another model than {model}: the two were not "
                           f"written together (a fastbp train stopped between them?); train "
                           f"the model again")
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


def _load_csv(args, target):
    delimiter = None if args.delimiter == "auto" else args.delimiter
    return datasets.load_csv(args.data, target=target, delimiter=delimiter)


def train(args):
    """`fastbp train`: fit a classifier to a CSV file; save it and its sidecar."""
    say = _say(args)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):  # found out now rather than after training
        raise CommandError(f"--out: directory {out_dir} does not exist")
    X, y = _load_csv(args, args.target)
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
    say(f"{args.data}: {len(X_train)} training / {len(X_test)} held-out samples, {net}")
    validation = (X_test, y_test) if len(X_test) else None
    with _one_line_warnings():
        net.fit(X_train, y_train, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                seed=args.seed, validation_data=validation, verbose=not args.quiet,
                progress=not args.quiet)
    if validation:
        result = net.evaluate(X_test, y_test)
        print(f"test accuracy {result['accuracy']:.4f} (loss {result['loss']:.4f}) on the "
              f"{len(X_test)} held-out rows (--test-fraction {args.test_fraction:g}), "
              f"which the model did not train on")
    else:
        result = net.evaluate(X_train, y_train)
        print(f"training accuracy {result['accuracy']:.4f} (loss {result['loss']:.4f}): on the "
              f"rows the model trained on, so it says little about new data "
              f"(--test-fraction F holds some out)")
    _save_model_and_sidecar(net, args.out, args.target, classes, mean, std)
    say(f"saved {args.out} and {_sidecar_path(args.out)}")
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
    X, y = _load_csv(args, target)
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


def _probabilities(net, X):
    """Each class's probability: softmax outputs as they are, one sigmoid unit
    as (1 − a, a), several sigmoid units normalized to sum 1."""
    # TODO(#15 items 5-9): use Network.predict_proba once network.py has it
    out = net.forward(X)
    if net.output_activation == "softmax":
        return out
    if net.output_activation == "sigmoid":
        if out.shape[1] == 1:
            return np.hstack([1 - out, out])
        return out / np.maximum(out.sum(axis=1, keepdims=True), np.finfo(out.dtype).tiny)
    raise CommandError(f"--proba: the outputs of a {net.output_activation} output layer are "
                       f"not probabilities (train with a sigmoid or softmax output)")


def predict(args):
    """`fastbp predict`: a CSV with a header row: the predicted class of each row,
    as the labels were written, and with --proba each class's probability."""
    net, target, classes, mean, std = _model(args.model)
    if args.target is not None:
        target = args.target
        X, _ = _load_csv(args, target)
    else:
        X, _ = _load_csv(args, None)
        if X.shape[1] == net.sizes[0] + 1:  # the training target is still there: drop it
            X, _ = _load_csv(args, target)
    X = _inputs(args.data, net, X, target, mean, std)
    predicted = net.predict(X)
    labels = classes if classes is not None else list(range(max(2, net.sizes[-1])))
    predicted = np.asarray(labels)[predicted]
    name = target if isinstance(target, str) else "label"
    header, columns = [name], [[str(p) for p in predicted.tolist()]]
    if args.proba:
        header += [f"p_{c}" for c in labels]
        columns += [[f"{p:.6g}" for p in col] for col in _probabilities(net, X).T.tolist()]
    text = "".join(",".join(row) + "\n" for row in [header, *zip(*columns)])
    if args.out:
        data = text.encode("utf-8")
        _io.atomic_write(args.out, lambda f: f.write(data))
        _say(args)(f"wrote {len(predicted)} predictions to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


# ------------------------------------------------------------------ bench


def bench(args):
    """`fastbp bench [OPTIONS]`: fastbp.bench's run (--help: its options)."""
    return bench_suite.run(args)


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
    """--test-fraction: 0 (hold nothing out) or a fraction below 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1 (0: none)")
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


def _delimiter(text):
    """--delimiter: 'auto', one character, or \\t for a tab."""
    text = {"\\t": "\t", "tab": "\t"}.get(text, text)
    if text != "auto" and len(text) != 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not one character (or auto, or \\t)")
    return text


def _activations(text):
    """One hidden activation name, or a comma-separated name per hidden layer."""
    names = text.split(",")
    for name in names:
        if name not in HIDDEN_ACTIVATIONS:
            raise argparse.ArgumentTypeError(f"{name!r} is not one of {', '.join(HIDDEN_ACTIVATIONS)}")
    return names[0] if len(names) == 1 else names


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help: appended unless the help says it."""
    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def _common(p, data=True, threads=True):
    """Options shared by the commands that read data or train."""
    if data:
        p.add_argument("--delimiter", type=_delimiter, default="auto",
                       help="field separator of DATA; 'auto' guesses among , ; tab | space "
                       "(files may be gzipped, e.g. data.csv.gz)")
    if threads:
        p.add_argument("--threads", type=_positive(int), default=None,
                       help="threads of the compiled core (default: OMP_NUM_THREADS, "
                       "else all cores)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print only the result: no per-epoch lines, progress or notes")


def _parser():
    parser = _Parser(prog="fastbp", description="Fast, exact backpropagation.",
                     formatter_class=_Help)
    sub = parser.add_subparsers(dest="command", required=True)
    for add_command in (_demo_parser, _info_parser, _datasets_parser, _train_parser,
                        _evaluate_parser, _predict_parser, _bench_parser):
        add_command(sub)
    return parser


def _command(sub, name, run, **kw):
    """The subcommand `name`, which calls run(args)."""
    p = sub.add_parser(name, formatter_class=_Help, **kw)
    p.set_defaults(run=run)
    return p


def _demo_parser(sub):
    p = _command(sub, "demo", demo, help="train on the bundled wheat seeds and MNIST subset",
                 description="Train a 7-10-3 network on the wheat seeds and Nielsen's "
                 "784-30-10 on the 5,000-digit MNIST subset, printing each epoch.")
    p.add_argument("--dataset", choices=("wheat", "mnist", "all"), default="all",
                   help="which data set")
    p.add_argument("--epochs", type=_positive(int), default=None,
                   help="default: 50 (wheat), 10 (mnist)")
    p.add_argument("--seed", type=int, default=0, help="initial weights, split and shuffling")
    p.add_argument("--plot", metavar="FILE.png", default=None,
                   help="save the loss and accuracy curves to FILE.png (needs matplotlib; "
                   "default: no plot)")
    _common(p, data=False)


def _info_parser(sub):
    _command(sub, "info", info, help="show how fastbp was built (show_config)")


def _datasets_parser(sub):
    p = _command(sub, "datasets", datasets_command,
                 help="write a bundled data set as a CSV file with a header row",
                 description="Without NAME, list the bundled data sets. With NAME, write it "
                 "as CSV with a header row (to stdout, or --out): fastbp datasets wheat-seeds "
                 "> seeds.csv")
    p.add_argument("name", metavar="NAME", nargs="?", choices=list(DATASETS),
                   help=f"one of {', '.join(DATASETS)} (default: list them)")
    p.add_argument("--out", default=None,
                   help="write to this file (gzipped if it ends in .gz; default: stdout)")
    _common(p, data=False, threads=False)


def _train_parser(sub):
    p = _command(sub, "train", train, help="train a classifier on a numeric CSV file",
                 description="Train on DATA (a numeric CSV; a header row is optional) "
                 "and save the model to --out, with its standardization and class "
                 "labels in --out + '.json'. A --test-fraction of the rows is held out "
                 "and the accuracy on them reported.")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--target", type=_column, default=-1,
                   help="target column: a name from the header or an index (-1: the last)")
    p.add_argument("--layers", type=_widths, default=None,
                   help="hidden and output widths, e.g. 30,3 (default: 30,<number of classes>)")
    p.add_argument("--activation", type=_activations, default="sigmoid",
                   help=f"hidden activation, or one per hidden layer, e.g. relu,tanh "
                   f"({', '.join(HIDDEN_ACTIVATIONS)})")
    p.add_argument("--cost", choices=COSTS, default="quadratic", help="cost function")
    p.add_argument("--epochs", type=_positive(int), default=30, help="passes over the data")
    p.add_argument("--batch-size", type=_positive(int), default=10, help="mini-batch size")
    p.add_argument("--lr", type=_positive(float), default=3.0, help="learning rate")
    p.add_argument("--seed", type=int, default=0, help="initial weights, split and shuffling")
    p.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                   help="scale features to mean 0, std 1 with the statistics of the training "
                   "part (saved for evaluate and predict)")
    p.add_argument("--test-fraction", type=_fraction, default=0.2, metavar="F",
                   help="hold out this fraction, stratified, and report the accuracy on it "
                   "(0: train on every row and report the training accuracy)")
    p.add_argument("--out", default="model.npz", help="model file")
    _common(p)


def _evaluate_parser(sub):
    p = _command(sub, "evaluate", evaluate,
                 help="loss and accuracy of a saved model on a CSV file")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--target", type=_column, default=None,
                   help="target column (default: the one the model was trained with)")
    _common(p)


def _predict_parser(sub):
    p = _command(sub, "predict", predict, help="predicted class of each row of a CSV file",
                 description="Write a CSV with a header row: the predicted class of each "
                 "row of DATA (as the labels were written in training), and with --proba "
                 "each class's probability.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--target", type=_column, default=None,
                   help="a column to drop (default: the training target, if present)")
    p.add_argument("--proba", action="store_true",
                   help="add a column p_<class> per class with its probability")
    p.add_argument("--out", default=None, help="write the predictions here (default: stdout)")
    _common(p)


def _bench_parser(sub):
    p = _command(sub, "bench", bench,
                 help="run the benchmark suite (training and inference against its peers)",
                 description=bench_suite.DESCRIPTION + " Writes RESULTS.md and, with "
                 "matplotlib, results.png in the current folder (--out names another file); "
                 "in a source checkout `python bench/run.py` takes the same options and "
                 "writes bench/RESULTS.md.")
    bench_suite.add_arguments(p)


def main(argv=None):
    """Run the command line; returns the exit status (2 for user errors)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a bad argument (2)
        return e.code
    sys.unraisablehook = _quiet_when_out_of_memory
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


def _quiet_when_out_of_memory(unraisable):
    """Python's report of an exception in a finalizer, except MemoryError:
    when memory runs out, the frames freed on the way to main's one-line
    error run finalizers (of open files, say) that fail the same way, and
    the default report, failing itself, left a half line before ours."""
    if not isinstance(unraisable.exc_value, MemoryError):
        sys.__unraisablehook__(unraisable)


if __name__ == "__main__":
    sys.exit(main())
