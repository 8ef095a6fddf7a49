"""`fastbp bench` from an installed fastbp (issue #15 item 10): its --help
lists the bench's options, a tiny run in an empty folder writes RESULTS.md
there, peers that are missing are rows that say so, and the checkout's
bench/run.py is a thin wrapper with the same options. These runs check that
the bench works, not its numbers: one repeat of a few dozen samples."""
import importlib.abc
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastbp
from fastbp import bench, cli

pytestmark = pytest.mark.usefixtures("one_thread")  # the bench sets threads; restored after
OPTIONS = ("--repeats", "--samples", "--quick", "--only", "--out")
MISSING = ("torch", "jax", "onnxruntime", "onnx")
WRAPPER = Path(__file__).resolve().parents[1] / "bench" / "run.py"


class NotInstalled(importlib.abc.MetaPathFinder):
    """An import hook for which the MISSING packages are not installed."""
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in MISSING:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def environment():
    env = dict(os.environ)  # this fastbp (src/ or the installed wheel), from any folder
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(fastbp.__file__).resolve().parents[1]), env.get("PYTHONPATH")) if p)
    env.setdefault("MPLBACKEND", "Agg")
    return env


def test_bench_help_lists_the_bench_options(capsys):
    status = cli.main(["bench", "--help"])
    out = capsys.readouterr().out
    assert status == 0 and out.startswith("usage: fastbp bench")
    for option in OPTIONS:
        assert option in out
    assert "S,M,L,D,digits,options" in out and "RESULTS.md, in the current folder" in out


def test_bench_refuses_bad_options_in_one_line(tmp_path, capsys):
    for argv, message in ((["--only", "S,X"], "unknown section(s) X"),
                          (["--repeats", "0"], "must be at least 1"),
                          (["--out", str(tmp_path / "no" / "R.md")], "does not exist")):
        status = cli.main(["bench", *argv])
        err = capsys.readouterr().err
        assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_tiny_bench_run_writes_its_results_in_the_current_folder(tmp_path, monkeypatch,
                                                                    capsys):
    # as where they are not installed (sklearn stays, if it is): not importable,
    # and not in sys.modules, where libraries such as scikit-learn look for them
    for name in [n for n in sys.modules if n.split(".")[0] in MISSING]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NotInstalled(), *sys.meta_path])
    monkeypatch.setattr(bench.runner, "GEMM_SHAPES", [(64, 64, 64)])  # a peak, not a timing
    monkeypatch.chdir(tmp_path)
    status = cli.main(["bench", "--only", "S", "--samples", "40", "--repeats", "1"])
    out = capsys.readouterr().out
    assert status == 0 and "wrote RESULTS.md" in out
    results = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert results.startswith("# fastbp benchmark results") and "`fastbp bench`" in results
    rows = {}  # peer -> the cells after it, of the training table's S rows
    for line in results.split("## Inference")[0].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "S":
            rows[cells[1]] = cells[2:]
    for peer in ("fastbp 1 thread", "fastbp 2 threads", "numpy"):  # measured: samples/s
        assert rows[peer][0].replace(",", "").isdigit(), (peer, rows[peer])
    for peer in ("torch", "jax"):
        assert rows[peer][0].startswith("not installed"), (peer, rows[peer])
    assert "| S | onnxruntime 2 threads | not installed" in results
    if importlib.util.find_spec("sklearn"):
        assert rows["sklearn"][0].replace(",", "").isdigit(), rows["sklearn"]
    chart = {"results.png"} if importlib.util.find_spec("matplotlib") else set()
    assert set(os.listdir(tmp_path)) == {"RESULTS.md"} | chart


def test_the_checkout_wrapper_takes_the_same_options_and_writes_into_bench():
    if not WRAPPER.is_file():
        pytest.skip("no bench/run.py beside these tests")
    result = subprocess.run([sys.executable, str(WRAPPER), "--help"], capture_output=True,
                            text=True, env=environment(), timeout=120)
    assert result.returncode == 0, result.stderr
    for option in OPTIONS:
        assert option in result.stdout
    assert os.path.join("bench", "RESULTS.md") in " ".join(result.stdout.split())


@pytest.mark.slow
def test_fastbp_bench_runs_in_a_fresh_process_in_an_empty_folder(tmp_path):
    result = subprocess.run([sys.executable, "-m", "fastbp", "bench", "--only", "digits",
                             "--repeats", "1"], cwd=tmp_path, capture_output=True, text=True,
                            env=environment(), timeout=600)
    assert result.returncode == 0, result.stderr
    results = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "## Digits shape" in results or "| digits | all | not installed" in results


def test_the_rows_of_a_section_take_turns_and_a_failing_run_is_its_rows_status(monkeypatch):
    from fastbp.bench import sections
    monkeypatch.setattr(sections, "WARM", 0.0)  # (one untimed call each turn)
    calls = []

    def run(name, fail_at=None):
        def fn():
            calls.append(name)
            if fail_at is not None and calls.count(name) == fail_at:
                raise RuntimeError(f"{name} broke")
        return fn
    rows = [dict(status="ok", runs=dict(a=run("a"))),
            dict(status="ok", runs=dict(b=run("b"), c=run("c"))),
            dict(status="ok", runs=dict(d=run("d", fail_at=3))),
            dict(status="not installed")]
    sections.in_turns(rows, 3)
    # each turn: the run untimed, then timed; round after round, row after row
    assert calls == (["a", "a", "b", "b", "c", "c", "d", "d"]
                     + ["a", "a", "b", "b", "c", "c", "d"]  # d's third call raises
                     + ["a", "a", "b", "b", "c", "c"])
    assert [len(t) for t in rows[0]["times"].values()] == [3]
    assert [len(t) for t in rows[1]["times"].values()] == [3, 3]
    assert rows[2]["status"] == "failed: RuntimeError: d broke"
    assert rows[3]["status"] == "not installed" and rows[3]["times"] == {}
    assert not any("runs" in r for r in rows)  # the peers are let go


def test_results_say_what_limits_each_target_missed():
    from fastbp.bench import report
    every = report.targets([])  # every target, none measured: nothing to explain
    assert report.limits(every) == []
    missed = [(what, target, "x", False) for what, target, _, _ in every]
    notes = report.limits(missed)
    assert notes[:3] == ["", "## What limits the targets missed", ""]
    # each limit is said once, and each is some missed target's
    assert sorted(notes[3:]) == sorted(f"- {text}" for _, text in report.LIMITS)
    s_peak = [t for t in missed if t[0] == "S" and "peak" in t[1]]
    assert report.limits(s_peak)[3].startswith("- S trains on two threads")
