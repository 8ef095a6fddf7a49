"""The `fastbp` command: `fastbp demo` (the main job on bundled data) and
`fastbp info` (= fastbp.show_config()). Bad arguments exit with status 2."""
import argparse
import sys
import time

from . import Network, datasets, set_num_threads, show_config


def _train(name, X, y, sizes, epochs, batch_size, lr, seed, test_fraction, **net_args):
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_fraction, seed=seed)
    if name == "wheat seeds":  # raw measurements differ in scale by 100x
        X_train, X_test = datasets.standardize(X_train, X_test)
    net = Network(sizes, seed=seed, **net_args)
    print(f"\n{name}: {len(X_train)} training / {len(X_test)} test samples, {net}")
    start = time.perf_counter()
    history = net.fit(X_train, y_train, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                      validation_data=(X_test, y_test))
    wall = time.perf_counter() - start
    for epoch, (loss, acc, vacc) in enumerate(zip(history["loss"], history["accuracy"],
                                                  history["val_accuracy"]), 1):
        print(f"  epoch {epoch:3d}  loss {loss:.4f}  accuracy {acc:.3f}  test accuracy {vacc:.3f}")
    trained = epochs * len(X_train)
    result = net.evaluate(X_test, y_test)
    print(f"  final test accuracy {result['accuracy']:.4f} (loss {result['loss']:.4f}); "
          f"{trained / sum(history['seconds']):,.0f} training samples/s "
          f"({wall:.2f} s with per-epoch evaluation)")
    return result["accuracy"]


def demo(args):
    if args.threads:
        set_num_threads(args.threads)
    if args.dataset in ("wheat", "all"):
        X, y = datasets.load_wheat_seeds()
        _train("wheat seeds", X, y, [7, 10, 3], args.epochs or 50, 10, 0.5, args.seed, 0.25,
               activation="sigmoid", cost="cross_entropy")
    if args.dataset in ("mnist", "all"):
        X, y = datasets.load_mnist_5k()
        # Nielsen's chapter 1 network and hyper-parameters
        _train("MNIST 5k", X, y, [784, 30, 10], args.epochs or 10, 10, 3.0, args.seed, 0.2,
               activation="sigmoid", cost="quadratic")
    return 0


def info(args):
    show_config()
    return 0


def _parser():
    parser = argparse.ArgumentParser(prog="fastbp", description="Fast, exact backpropagation.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="train on the bundled wheat seeds and MNIST subset")
    p.add_argument("--dataset", choices=("wheat", "mnist", "all"), default="all")
    p.add_argument("--epochs", type=int, default=None, help="default: 50 (wheat), 10 (mnist)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(run=demo)
    p = sub.add_parser("info", help="show how fastbp was built (show_config)")
    p.set_defaults(run=info)
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    for name in ("epochs", "threads"):
        if getattr(args, name, None) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
