"""Every snippet of README.md runs as written, each in a fresh empty folder.

- Each ```python block runs as a script of its own (a subprocess, cwd a new
  temp folder, this fastbp importable).
- Each plain ``` block whose every command starts with `fastbp ` runs in bash,
  its lines in order (the Command line section); the other shell blocks
  (installs, builds, test runs, mpiexec) are CI's and the developer's.
- An HTML comment on the line before a block's fence says what it needs:
  `<!-- readme-test: needs mpi4py, sklearn -->` skips the block when those
  modules are absent (mpi4py and dask blocks are also marked `mpi`/`dask` and
  `slow`); `<!-- readme-test: slow, needs sklearn -->` keeps it out of the
  quick run (-m slow runs it); `<!-- readme-test: continues -->` runs the
  block after the python block before it (a tutorial's steps, each using the
  last one's names); `<!-- readme-test: skip REASON -->` skips it.
- A block without a mark that fails only because a third-party module is not
  installed is skipped, naming the module and the mark to add.
"""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastbp

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")
MARK = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->\s*$")
HEAVY = {"mpi4py": "mpi", "dask": "dask", "distributed": "dask"}
TIMEOUT = 600


def blocks(text):
    """(line number, language, code, mark or None) of each fenced block."""
    lines = text.splitlines()
    found, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        mark = MARK.match(before)
        found.append((i + 1, m.group(1), "\n".join(lines[i + 1:j]) + "\n",
                      mark.group(1) if mark else ""))
        i = j + 1
    return found


def commands(code):
    """The commands of a shell block, continuation lines joined."""
    return [c.strip() for c in code.replace("\\\n", " ").splitlines()
            if c.strip() and not c.strip().startswith("#")]


def cases():
    out = []
    previous = ""  # the last python block, as run (with what it continues)
    for line, lang, code, mark in blocks(README.read_text(encoding="utf-8")):
        if lang == "python":
            kind = "python"
            if re.search(r"\bcontinues\b", mark):
                code = previous + code
            previous = code
        elif lang == "" and commands(code) and all(c.startswith("fastbp ")
                                                   for c in commands(code)):
            kind = "shell"
        else:
            continue
        words = [w for w in re.split(r"[\s,;]+", mark) if w and w != "continues"]
        needs = [] if words[:1] == ["skip"] or "needs" not in words else \
            words[words.index("needs") + 1:]
        needs = needs[:next((k for k, w in enumerate(needs) if w in ("slow", "skip")),
                            len(needs))]
        marks = [pytest.mark.slow] if "slow" in words else []
        for module in needs:
            if module in HEAVY:
                marks += [pytest.mark.slow, getattr(pytest.mark, HEAVY[module])]
        skip = None
        if words[:1] == ["skip"]:
            skip = mark.split("skip", 1)[1].strip() or "marked skip"
        out.append(pytest.param(kind, code, needs, skip, id=f"README.md:{line}", marks=marks))
    return out


def environment():
    env = dict(os.environ)
    here = str(Path(fastbp.__file__).resolve().parents[1])  # this fastbp, in any folder
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    env.setdefault("OMP_NUM_THREADS", "2")
    env["MPLBACKEND"] = "Agg"
    return env


def test_the_readme_has_the_blocks_this_test_expects():
    kinds = [p.values[0] for p in cases()]
    assert kinds.count("python") >= 6 and kinds.count("shell") >= 1


@pytest.mark.parametrize("kind, code, needs, skip", cases())
def test_readme_block_runs_as_written(kind, code, needs, skip, tmp_path):
    if skip:
        pytest.skip(f"README.md: {skip}")
    for module in needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs {module}")
    if kind == "python":
        (tmp_path / "snippet.py").write_text(code, encoding="utf-8")
        argv = [sys.executable, "snippet.py"]
    else:
        # `fastbp` as installed, else this Python's `python -m fastbp`
        fastbp_cmd = "fastbp" if shutil.which("fastbp") and not os.environ.get(
            "PYTHONPATH") else f"{sys.executable} -m fastbp"
        script = "set -euo pipefail\n" + "\n".join(
            fastbp_cmd + c[len("fastbp"):] for c in commands(code))
        argv = ["bash", "-c", script]
    result = subprocess.run(argv, cwd=tmp_path, env=environment(), capture_output=True,
                            text=True, timeout=TIMEOUT)
    missing = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", result.stderr)
    if result.returncode and missing and not missing.group(1).startswith("fastbp"):
        pytest.skip(f"needs {missing.group(1)} (mark the block <!-- readme-test: needs "
                    f"{missing.group(1).split('.')[0]} -->)")
    assert result.returncode == 0, f"{code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
