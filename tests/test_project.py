"""How the project is set up for a newcomer (issue 15): the quick test run
leaves the heavy tests out but CI can still select every one of them, the
`dev` extra brings what the in-place build needs, and the generated C file
alone gets the flags that quiet its false warnings. Skipped where the source
tree is absent (tests run against an installed wheel)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if not (ROOT / "pyproject.toml").is_file() or not (ROOT / "setup.py").is_file():
    pytest.skip("no source tree here", allow_module_level=True)

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None


def pyproject():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


SAMPLE = ["test_typing.py", "test_distributed.py", "test_cli.py"]  # heavy and quick tests


def collected(*args):
    out = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider",
                          *args, *(str(ROOT / "tests" / f) for f in SAMPLE)],
                         capture_output=True, text=True,
                         cwd=ROOT, timeout=300).stdout
    return {line for line in out.splitlines() if "::" in line}


def test_extras_light_test_full_and_dev():
    extras = pyproject()["project"]["optional-dependencies"]
    names = {k: {re.split(r"[<>=\[; ]", d)[0].lower() for d in v} for k, v in extras.items()}
    assert names["test"] == {"pytest", "hypothesis", "scikit-learn"}
    assert {"mpi4py", "dask", "mypy", "matplotlib"} <= names["test-full"]
    assert "fastbp[test-full]" in extras["dev"] and "cython" in names["dev"]
    # the heavy tests are out of the default run, and registered markers
    ini = pyproject()["tool"]["pytest"]["ini_options"]
    assert "-m 'not slow'" in ini["addopts"]
    assert {m.split(":")[0] for m in ini["markers"]} == {"slow", "mpi", "dask"}


def test_the_heavy_tests_are_marked_slow_and_still_selectable():
    slow = collected("-m", "slow")
    assert "tests/test_typing.py::test_mypy_finds_no_errors" in slow
    assert "tests/test_distributed.py::test_ranks_train_the_model_of_one_process[2]" in slow
    quick = collected()
    assert not slow & quick and len(quick) > 40
    assert "tests/test_cli.py::test_help_lists_the_commands" in quick


def test_setup_py_names_the_dev_extra_without_cython():
    code = ("import sys; sys.modules['Cython'] = sys.modules['Cython.Build'] = None; "
            "sys.argv = ['setup.py', '--version']; exec(open('setup.py').read())")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and ".[dev]" in result.stderr and "Traceback" not in result.stderr


def test_generated_c_flags_apply_to_the_generated_file_only():
    config = json.loads((ROOT / "csrc" / "sources.json").read_text())
    assert config["generated_c_flags"] == ["-Wno-maybe-uninitialized"]
    assert "-Wno-maybe-uninitialized" not in config["c_flags"]
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert "json_list(GENERATED_C_FLAGS generated_c_flags)" in cmake
    assert 'set_property(SOURCE "${CORE_C}" APPEND PROPERTY COMPILE_OPTIONS' in cmake
    assert 'CONFIG.get("generated_c_flags"' in (ROOT / "setup.py").read_text()
