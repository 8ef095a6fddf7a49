"""The `fastbp` command: train / evaluate / predict on CSV files, and the
one-line, exit-status-2 handling of everything a user can get wrong (bench:
test_bench.py)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp import cli
from fastbp.datasets import load_wheat_seeds, standardize, standardize_stats, train_test_split

HEADER = "area,perimeter,compactness,length,width,asymmetry,groove,variety"


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def write_csv(path, X, y, header=HEADER):
    """Features then the label column, as a user's CSV file would hold them."""
    lines = ([header] if header else []) + [
        ",".join([*(repr(float(v)) for v in row), str(label)]) for row, label in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def wheat(tmp_path_factory):
    """wheat-seeds train/test CSV files, labels 1..3 as in the original file."""
    tmp = tmp_path_factory.mktemp("wheat")
    X, y = load_wheat_seeds()
    X_train, X_test, y_train, y_test = train_test_split(X, y, 0.25, seed=0)
    return (write_csv(tmp / "train.csv", X_train, y_train + 1),
            write_csv(tmp / "test.csv", X_test, y_test + 1))


def run(argv, capsys):
    """main(argv) -> (status, stdout, stderr)."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def accuracy_of(evaluate_output):
    return float(re.search(r"accuracy (\d\.\d+)", evaluate_output).group(1))


# ------------------------------------------------------------------ train / evaluate / predict


def test_python_m_fastbp_train_then_evaluate_and_predict(wheat, tmp_path, capsys):
    train_csv, test_csv = wheat
    model = tmp_path / "wheat.npz"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(fastbp.__file__).parents[1]), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "fastbp", "train", str(train_csv), "--target", "variety",
         "--layers", "10,3", "--cost", "cross_entropy", "--epochs", "100", "--lr", "0.5",
         "--standardize", "--seed", "0", "--threads", "1", "--out", str(model)],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("epoch ") == 100 and "epoch 100/100" in proc.stdout
    assert model.exists() and Path(str(model) + ".json").exists()

    status, out, _ = run(["evaluate", model, test_csv], capsys)
    assert status == 0 and "(54 samples)" in out
    accuracy = accuracy_of(out)
    assert accuracy >= 0.90

    # predict drops the training target by itself; labels come back as written (1..3),
    # under a header row named after the target
    status, out, _ = run(["predict", model, test_csv], capsys)
    assert out.splitlines()[0] == "variety"
    predicted = np.array(out.split()[1:], dtype=int)
    truth = np.loadtxt(test_csv, delimiter=",", skiprows=1)[:, -1]
    assert status == 0 and set(predicted) <= {1, 2, 3}
    assert abs(np.mean(predicted == truth) - accuracy) < 1e-4


def test_train_saves_standardization_and_labels_in_sidecar(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(50.0, 10.0, (60, 3))
    y = np.where(X[:, 0] > 50, 9, 5)  # labels as written: 5 and 9
    data = write_csv(tmp_path / "d.csv", X, y, header="a,b,c,label")
    model = tmp_path / "m.npz"
    status, out, err = run(["train", data, "--target", "label", "--layers", "4,2", "--epochs", "3",
                            "--standardize", "--test-fraction", "0.25", "--out", model], capsys)
    assert status == 0, err
    assert re.search(r"epoch 3/3: loss .* val_accuracy", out) and "test accuracy" in out
    side = json.loads(Path(str(model) + ".json").read_text())
    assert side["target"] == "label" and side["classes"] == [5, 9]
    # the statistics of the training part of the same split train used
    codes = (y == 9).astype(int)
    X_train = train_test_split(X, codes, 0.25, seed=0)[0]
    mean, std = standardize_stats(X_train)
    np.testing.assert_allclose(side["standardize"]["mean"], mean, rtol=1e-15)
    np.testing.assert_allclose(side["standardize"]["std"], std, rtol=1e-15)
    assert fastbp.load(model).sizes == (3, 4, 2)

    # evaluate scales with the saved statistics and maps 5/9 to classes 0/1
    status, out, _ = run(["evaluate", model, data], capsys)
    want = fastbp.load(model).evaluate(standardize(X_train, X)[1], codes)
    assert status == 0 and f"loss {want['loss']:.6f}  accuracy {want['accuracy']:.4f}" in out

    # without the sidecar (a model saved from Python) the data go in unscaled,
    # labels as output indices, with a note saying so
    os.remove(str(model) + ".json")
    coded = write_csv(tmp_path / "coded.csv", X, codes, header=None)
    status, out, err = run(["evaluate", model, coded], capsys)
    raw = fastbp.load(model).evaluate(X, codes)
    assert status == 0 and "note: no" in err
    assert f"loss {raw['loss']:.6f}" in out and raw["loss"] != want["loss"]


def test_predict_target_options_and_out_file(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    data = write_csv(tmp_path / "d.csv", X, y, header=None)  # no header: index targets
    model = tmp_path / "m.npz"
    assert run(["train", data, "--layers", "3,2", "--epochs", "2", "--no-standardize",
                "--out", model], capsys)[0] == 0
    net = fastbp.load(model)
    want = net.predict(X).tolist()

    features_only = write_csv(tmp_path / "x.csv", X[:, :1], X[:, 1], header=None)
    for argv in (["predict", model, data], ["predict", model, data, "--target", "2"],
                 ["predict", model, features_only]):
        status, out, _ = run(argv, capsys)
        assert status == 0 and out.split()[0] == "label"
        assert [int(v) for v in out.split()[1:]] == want

    status, out, _ = run(["predict", model, data, "--out", tmp_path / "p.csv"], capsys)
    assert status == 0 and "wrote 40 predictions" in out
    assert [int(v) for v in (tmp_path / "p.csv").read_text().split()[1:]] == want


def test_predict_proba_columns_per_class(wheat, tmp_path, capsys):
    train_csv, test_csv = wheat
    model = tmp_path / "m.npz"
    assert run(["train", train_csv, "--target", "variety", "--layers", "10,3", "--cost",
                "cross_entropy", "--epochs", "20", "--lr", "0.5", "-q", "--out", model],
               capsys)[0] == 0
    status, out, _ = run(["predict", model, test_csv, "--proba"], capsys)
    lines = out.splitlines()
    assert status == 0 and lines[0] == "variety,p_1,p_2,p_3" and len(lines) == 55
    table = np.array([line.split(",") for line in lines[1:]], dtype=float)
    np.testing.assert_allclose(table[:, 1:].sum(axis=1), 1, atol=1e-5)
    # the label is the most probable class, written as in the file (1..3)
    np.testing.assert_array_equal(table[:, 0], table[:, 1:].argmax(axis=1) + 1)


def test_train_holds_out_a_fifth_by_default_or_says_it_reports_training_accuracy(
        wheat, tmp_path, capsys):
    train_csv, _ = wheat
    status, out, _ = run(["train", train_csv, "--epochs", "2", "--out", tmp_path / "m.npz"],
                         capsys)
    assert status == 0 and "on the 30 held-out rows (--test-fraction 0.2)" in out
    assert "126 training / 30 held-out samples" in out
    status, out, _ = run(["train", train_csv, "--epochs", "2", "--test-fraction", "0",
                          "--out", tmp_path / "m.npz"], capsys)
    assert status == 0 and "training accuracy" in out and "says little about new data" in out


def test_train_standardizes_by_default(tmp_path, capsys):
    # raw wheat seeds: at chance (0.33) unscaled; the default scales them
    X, y = load_wheat_seeds()
    data = write_csv(tmp_path / "seeds.csv", X, y + 1)
    argv = ["train", data, "--target", "variety", "--epochs", "30", "-q", "--out", tmp_path / "m.npz"]
    status, out, err = run(argv, capsys)
    assert status == 0 and accuracy_of(out) > 0.8 and "warning" not in err
    status, out, err = run(argv + ["--no-standardize"], capsys)
    assert status == 0 and accuracy_of(out) < 0.5
    assert err.startswith("fastbp: warning: fit: some columns of X are far larger than 1")


def test_quiet_prints_only_the_result(wheat, tmp_path, capsys):
    train_csv, test_csv = wheat
    model = tmp_path / "m.npz"
    status, out, err = run(["train", train_csv, "--epochs", "3", "--quiet", "--out", model],
                           capsys)
    assert status == 0 and err == ""
    assert out.splitlines() == [line for line in out.splitlines() if "test accuracy" in line]
    assert len(out.splitlines()) == 1
    status, out, _ = run(["demo", "--dataset", "wheat", "--epochs", "2", "-q"], capsys)
    assert status == 0 and len(out.splitlines()) == 1 and "final test accuracy" in out
    status, out, _ = run(["predict", model, test_csv, "-q", "--out", tmp_path / "p.csv"], capsys)
    assert status == 0 and out == ""


def test_delimiters_are_guessed_or_given_and_gzip_is_read(tmp_path, capsys):
    import gzip
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    plain = write_csv(tmp_path / "d.csv", X, y, header="a,b,c,y")
    text = plain.read_text()
    (tmp_path / "semi.csv").write_text(text.replace(",", ";"))
    (tmp_path / "tab.tsv").write_text(text.replace(",", "\t"))
    with gzip.open(tmp_path / "d.csv.gz", "wt") as f:
        f.write(text)
    model = tmp_path / "m.npz"
    assert run(["train", plain, "--epochs", "2", "-q", "--out", model], capsys)[0] == 0
    want = run(["evaluate", model, plain], capsys)[1]
    for argv in ([tmp_path / "semi.csv"], [tmp_path / "tab.tsv"], [tmp_path / "d.csv.gz"],
                 [tmp_path / "semi.csv", "--delimiter", ";"],
                 [tmp_path / "tab.tsv", "--delimiter", "\\t"]):
        status, out, err = run(["evaluate", model, *argv], capsys)
        assert status == 0 and out == want, (argv, err)
    status, _, err = run(["evaluate", model, tmp_path / "semi.csv", "--delimiter", ","], capsys)
    assert status == 2 and "fastbp: error:" in err  # one column 'a;b;c;y' is no number


def test_datasets_writes_the_bundled_data_with_a_header(tmp_path, capsys):
    status, out, _ = run(["datasets"], capsys)
    assert status == 0 and "wheat-seeds" in out and "mnist-5k" in out
    status, out, _ = run(["datasets", "wheat-seeds"], capsys)
    lines = out.splitlines()
    assert status == 0 and lines[0] == HEADER and len(lines) == 211
    assert lines[1] == "15.26,14.84,0.871,5.763,3.312,2.221,5.22,1"  # as in the file
    X, y = fastbp.datasets.load_csv(write_text(tmp_path, out), target="variety")
    X0, y0 = load_wheat_seeds()
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0 + 1)
    status, _, _ = run(["datasets", "mnist-5k", "--out", tmp_path / "m.csv.gz", "-q"], capsys)
    import gzip
    with gzip.open(tmp_path / "m.csv.gz", "rt") as f:
        assert f.readline().startswith("pixel0,pixel1,")
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    Xm, ym = fastbp.datasets.load_mnist_5k()
    assert status == 0 and table.shape == (5000, 785)
    np.testing.assert_array_equal(table[:, :-1] / 255, Xm)
    np.testing.assert_array_equal(table[:, -1], ym)


def write_text(tmp_path, text):
    path = tmp_path / "written.csv"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ errors: one line, status 2


def bad_files(tmp):
    write_csv(tmp / "ok.csv", np.eye(4), [0, 1, 0, 1], header="a,b,c,d,y")
    (tmp / "text.csv").write_text("a,b,y\n1,2,0\n3,oops,1\n")
    (tmp / "float.csv").write_text("a,y\n1,0.5\n2,1.5\n")
    (tmp / "one.csv").write_text("a,y\n1,0\n2,0\n")
    (tmp / "wide.csv").write_text("a,b,c,d,e,y\n1,2,3,4,5,0\n")
    (tmp / "unseen.csv").write_text("a,b,c,d,y\n1,2,3,4,7\n")
    (tmp / "junk.npz").write_bytes(b"not a zip file")


@pytest.fixture
def trained(tmp_path, capsys):
    bad_files(tmp_path)
    status, _, err = run(["train", tmp_path / "ok.csv", "--target", "y", "--layers", "3,2",
                          "--epochs", "1", "--out", tmp_path / "m.npz"], capsys)
    assert status == 0, err
    return tmp_path


BAD = {
    "no command": ([], "required: command"),
    "unknown command": (["fly"], "invalid choice"),
    "unknown option": (["train", "{t}/ok.csv", "--bogus"], "unrecognized arguments: --bogus"),
    "layers": (["train", "{t}/ok.csv", "--layers", "30,x"], "comma-separated"),
    "zero width": (["train", "{t}/ok.csv", "--layers", "0,2"], "must be positive"),
    "epochs": (["train", "{t}/ok.csv", "--epochs", "0"], "--epochs: '0' must be a positive"),
    "epochs float": (["demo", "--epochs", "2.5"], "'2.5' is not an integer"),
    "lr": (["train", "{t}/ok.csv", "--lr", "-1"], "must be a positive number"),
    "lr nan": (["train", "{t}/ok.csv", "--lr", "nan"], "must be a positive number"),
    "fraction": (["train", "{t}/ok.csv", "--test-fraction", "1.5"], "between 0 and 1"),
    "activation": (["train", "{t}/ok.csv", "--activation", "swish"], "'swish' is not one of"),
    "missing data": (["train", "{t}/none.csv"], "none.csv: No such file or directory"),
    "non-numeric": (["train", "{t}/text.csv"], "text.csv, line 3, column 2 ('b'): 'oops'"),
    "regression target": (["train", "{t}/float.csv"], "non-integer values"),
    "one class": (["train", "{t}/one.csv"], "single class"),
    "outputs": (["train", "{t}/ok.csv", "--layers", "5,4"], "4 output units for 2 classes"),
    "no column": (["train", "{t}/ok.csv", "--target", "z"], "no column named 'z'"),
    "out dir": (["train", "{t}/ok.csv", "--out", "{t}/no/m.npz"], "does not exist"),
    "softmax 1 unit": (["train", "{t}/ok.csv", "--layers", "3,1", "--cost", "cross_entropy"],
                       "at least 2 output units"),
    "junk model": (["evaluate", "{t}/junk.npz", "{t}/ok.csv"], "not a valid fastbp model"),
    "missing model": (["evaluate", "{t}/none.npz", "{t}/ok.csv"], "none.npz: No such file"),
    "wrong width": (["evaluate", "{t}/m.npz", "{t}/wide.csv"], "5 feature columns"),
    "unseen class": (["evaluate", "{t}/m.npz", "{t}/unseen.csv"], "class 7 is not among"),
    "predict width": (["predict", "{t}/m.npz", "{t}/wide.csv"], "the model takes 4"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_user_errors_are_one_line_status_2(trained, capsys, case):
    argv, message = BAD[case]
    status, _, err = run([a.format(t=trained) for a in argv], capsys)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("fastbp: error: ")
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("content", ["{not json", '{"format": "other"}',
                                     '{"format": "fastbp-cli-sidecar", "target": -1, '
                                     '"classes": [0, 1], "standardize": {"mean": [0], "std": [1]}}'])
def test_damaged_sidecar_is_reported(trained, capsys, content):
    Path(f"{trained}/m.npz.json").write_text(content)
    status, _, err = run(["evaluate", trained / "m.npz", trained / "ok.csv"], capsys)
    assert status == 2 and "m.npz.json" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ help, info, demo


def test_help_lists_the_commands(capsys):
    status, out, _ = run(["--help"], capsys)
    assert status == 0
    for command in ("demo", "info", "train", "evaluate", "predict", "bench"):
        assert command in out
    status, out, _ = run(["train", "--help"], capsys)
    assert status == 0 and "--test-fraction F" in out and "--standardize" in out


def test_info_and_demo_still_work(capsys):
    status, out, _ = run(["info"], capsys)
    assert status == 0 and out.startswith(f"fastbp {fastbp.__version__}")
    status, out, _ = run(["demo", "--dataset", "wheat", "--epochs", "2"], capsys)
    assert status == 0 and "epoch   2" in out and "final test accuracy" in out


def test_every_help_shows_every_default(capsys):
    parser = cli._parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        status, out, _ = run([name, "--help"], capsys)
        assert status == 0
        help_text = " ".join(out.split())
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                rendered = cli._Help("fastbp")._get_help_string(action)
                assert "default" in rendered, (name, action.dest)
                assert " ".join(rendered.split()).split(" (default")[0] in help_text


def test_demo_plot_writes_the_one_file_named_with_titles(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    saved = []
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, path, **kw: saved.append(
        (path, [ax.get_title() for ax in fig.axes])) or Path(path).write_bytes(b"png"))
    status, out, _ = run(["demo", "--epochs", "1", "--plot", tmp_path / "curves.png"], capsys)
    assert status == 0 and sorted(os.listdir(tmp_path)) == ["curves.png"]
    (path, titles), = saved
    assert titles == ["wheat seeds 7-10-3: loss", "wheat seeds 7-10-3: accuracy",
                      "MNIST 5k 784-30-10: loss", "MNIST 5k 784-30-10: accuracy"]
