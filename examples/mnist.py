"""Nielsen's [784, 30, 10] network on MNIST (Neural Networks and Deep
Learning, chapter 1): sigmoid units, quadratic cost, mini-batch SGD with
batch size 10 and learning rate 3.0, test accuracy printed after each epoch
as "Epoch e: correct / total".

By default it trains on the 5,000-digit subset bundled with fastbp (4,000
to train, 1,000 to test; expect about 92%, below Nielsen's 95% on the full
60,000). With --idx-dir DIR holding the standard MNIST files
(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
t10k-labels-idx1-ubyte, each optionally .gz) it trains on all 60,000 and
tests on the 10,000.

    python examples/mnist.py [--quick] [--epochs N] [--idx-dir DIR]
"""
import argparse
import os
import sys
import time

import fastbp
from fastbp.datasets import load_mnist_5k, train_test_split

IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def find_idx(directory, name):
    """Path of `name` or `name.gz` in directory; SystemExit naming it if absent."""
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    raise SystemExit(f"mnist.py: {directory} has no {name} (or {name}.gz); the standard "
                     f"MNIST files are {', '.join(n for pair in IDX_FILES.values() for n in pair)}")


def load_idx_dir(directory):
    load_mnist_idx = getattr(fastbp.datasets, "load_mnist_idx", None)
    if load_mnist_idx is None:   # added to fastbp.datasets after this example
        raise SystemExit("mnist.py: --idx-dir needs fastbp.datasets.load_mnist_idx, which "
                         "this fastbp does not have; run without --idx-dir to use the "
                         "bundled 5,000-digit subset")
    try:
        parts = [load_mnist_idx(*(find_idx(directory, n) for n in IDX_FILES[part]))
                 for part in ("train", "test")]
    except ValueError as e:      # a damaged or mismatched file, named by the loader
        raise SystemExit(f"mnist.py: {e}") from None
    (X_train, y_train), (X_test, y_test) = parts
    return X_train, X_test, y_train, y_test, f"MNIST IDX files in {directory}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 epochs on at most 4,000 training digits (a smoke test)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--idx-dir", metavar="DIR", help="directory of the MNIST IDX files")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.idx_dir:
        X_train, X_test, y_train, y_test, source = load_idx_dir(args.idx_dir)
    else:
        X, y = load_mnist_5k()
        X_train, X_test, y_train, y_test = train_test_split(X, y, 0.2, seed=args.seed)
        source = "the bundled 5,000-digit subset"
    epochs = args.epochs
    if args.quick:
        epochs, X_train, y_train = 2, X_train[:4000], y_train[:4000]
    print(f"{source}: {len(y_train)} training and {len(y_test)} test digits")
    print(f"network [784, 30, 10], sigmoid, quadratic cost, SGD batch 10, lr 3.0, "
          f"{epochs} epochs")

    net = fastbp.Network([784, 30, 10], activation="sigmoid", cost="quadratic",
                         seed=args.seed)
    seconds = 0.0
    for epoch in range(epochs):
        # one fit call per epoch so each line prints as it happens
        start = time.perf_counter()
        net.fit(X_train, y_train, epochs=1, batch_size=10, lr=3.0, seed=args.seed + epoch)
        seconds += time.perf_counter() - start
        correct = round(net.evaluate(X_test, y_test)["accuracy"] * len(y_test))
        print(f"Epoch {epoch}: {correct} / {len(y_test)}", flush=True)
    print(f"test accuracy {correct / len(y_test):.2%} after {epochs} epochs, "
          f"{epochs * len(y_train) / seconds:,.0f} training samples/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
