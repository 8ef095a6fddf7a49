"""examples/*.py run with --quick in a subprocess (as CI runs them): exit
status 0 and the lines that carry each script's result."""
import gzip
import importlib.util
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp.datasets import load_mnist_5k

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(script, *args):
    env = dict(os.environ)
    # the fastbp these tests imported (installed, or an in-place build); one
    # thread: a tiny network gains nothing from two
    here = str(Path(fastbp.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, str(EXAMPLES / script), "--quick", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_worked_example_reproduces_mazur():
    result = run("worked_example.py")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "MISMATCH" not in out
    assert re.search(r"E_total = net.loss\(X, Y\) +0\.298371109 +Mazur 0\.298371109 +ok", out)
    assert re.search(r"δ_o1 = ∂E/∂net_o1 +0\.138498562 +Mazur 0\.138498562 +ok", out)
    assert re.search(r"w5\+ +0\.358916480 +Mazur 0\.35891648 +ok", out)
    assert re.search(r"w1\+ +0\.149780716 +Mazur 0\.149780716 +ok", out)
    assert "fastbp also updates the biases" in out
    assert out.rstrip().endswith("Every figure of Mazur's checked above is reproduced.")


def test_worked_example_reports_a_mismatch():
    module = load_example("worked_example")
    module.show("a wrong value", 0.5, "0.51")
    module.show("a right value", 0.5, "0.50")
    assert module.failures == ["a wrong value"]


def test_wheat_seeds_cross_validation():
    result = run("wheat_seeds.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(re.findall(r"fold \d: 168 train, 42 test, accuracy", result.stdout)) == 5
    mean = re.search(r"mean accuracy ([\d.]+)%", result.stdout)
    assert mean and float(mean.group(1)) > 85      # ~94% with the quick 50 epochs


def test_mnist_on_the_bundled_subset():
    result = run("mnist.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the bundled 5,000-digit subset: 4000 training and 1000 test digits" in result.stdout
    assert re.search(r"^Epoch 1: \d+ / 1000$", result.stdout, re.M)
    accuracy = re.search(r"test accuracy ([\d.]+)% after 2 epochs", result.stdout)
    assert accuracy and float(accuracy.group(1)) > 80


def _write_idx(path, array, magic):
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def idx_dir(tmp_path):
    """Small gzipped IDX files cut from the bundled digits: 300 train, 100 test."""
    X, y = load_mnist_5k()
    images = np.round(X * 255).reshape(-1, 28, 28)
    for part, rows in (("train", slice(0, 300)), ("t10k", slice(300, 400))):
        _write_idx(tmp_path / f"{part}-images-idx3-ubyte.gz", images[rows], 0x803)
        _write_idx(tmp_path / f"{part}-labels-idx1-ubyte.gz", y[rows], 0x801)
    return tmp_path


def test_mnist_on_idx_files(idx_dir):
    result = run("mnist.py", "--idx-dir", str(idx_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"MNIST IDX files in {idx_dir}: 300 training and 100 test digits" in result.stdout
    assert re.search(r"^Epoch 1: \d+ / 100$", result.stdout, re.M)


def test_mnist_names_a_missing_idx_file(idx_dir):
    (idx_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    result = run("mnist.py", "--idx-dir", str(idx_dir))
    assert result.returncode == 1
    assert "has no t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz)" in result.stderr


def test_mnist_names_a_damaged_idx_file(idx_dir):
    (idx_dir / "train-labels-idx1-ubyte.gz").write_bytes(b"not an IDX file")
    result = run("mnist.py", "--idx-dir", str(idx_dir))
    assert result.returncode == 1
    assert "train-labels-idx1-ubyte.gz" in result.stderr and "magic number" in result.stderr


def test_mnist_without_load_mnist_idx_says_so(idx_dir, monkeypatch):
    module = load_example("mnist")
    monkeypatch.delattr(fastbp.datasets, "load_mnist_idx")
    with pytest.raises(SystemExit, match="needs fastbp.datasets.load_mnist_idx"):
        module.main(["--quick", "--idx-dir", str(idx_dir)])


def test_dask_example_shows_progress_while_the_search_runs(capsys):
    # the search printed nothing for 96 s (issue 15): a line every few seconds now
    import time
    module = load_example("dask_grid_search")
    with module.heartbeat("searching", every=0.05):
        time.sleep(0.3)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 3 and all(re.fullmatch(r"  \.\.\. searching: \d+ s", x) for x in lines)
