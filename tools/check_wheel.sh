#!/usr/bin/env bash
# Packaging check: `python -m build` makes an sdist and a wheel from a clean
# copy of the repository; the wheel is installed into a fresh venv (with the
# test extra) and the test suite runs against it from outside the source
# tree, so nothing is imported from src/; `auditwheel show` prints its
# platform tag. Usage:
#
#   tools/check_wheel.sh [pytest args...]   # default: the whole suite, -q
#
# FASTBP_KEEP=1 keeps the temp dir (dist/, venvs).
set -euo pipefail
# shellcheck source=tools/scratch.sh
source "$(dirname "$0")/scratch.sh"
start_scratch wheel  # sets repo, python and tmp; the working tree is in $tmp/src

echo "+ python -m build (sdist and wheel)"
"$python" -m venv "$tmp/build-venv"
"$tmp/build-venv/bin/python" -m pip install -q build
(cd "$tmp/src" && "$tmp/build-venv/bin/python" -m build --outdir "$tmp/dist" > "$tmp/build.log" 2>&1) \
  || { tail -40 "$tmp/build.log" >&2; exit 1; }
ls -l "$tmp/dist"
sdist=$(compgen -G "$tmp/dist/fastbp-*.tar.gz")
wheel=$(compgen -G "$tmp/dist/fastbp-*.whl")
# the sdist holds what a build from it needs; the wheel the compiled core and
# the data, not the sources of the build
"$python" - "$sdist" "$wheel" <<'PY'
import sys, tarfile, zipfile
sdist = tarfile.open(sys.argv[1]).getnames()
wheel = zipfile.ZipFile(sys.argv[2]).namelist()
need = ["pyproject.toml", "setup.py", "CMakeLists.txt", "csrc/sources.json",
        "src/fastbp/_core.pyx", "README.md"]
missing = [f for f in need if not any(n.endswith("/" + f) for n in sdist)]
problems = [f"sdist lacks {f}" for f in missing]
if not any("fastbp/_core" in n and n.endswith(".so") for n in wheel):
    problems.append("wheel lacks the compiled core")
if not any("fastbp/datasets/data/" in n for n in wheel):
    problems.append("wheel lacks the data sets")
problems += [f"wheel holds build source {n}" for n in wheel if n.endswith((".pyx", ".c"))]
if problems:
    sys.exit("check_wheel.sh: " + "; ".join(problems))
print(f"sdist: {len(sdist)} files, wheel: {len(wheel)} files: contents ok")
PY

echo "+ auditwheel show"
"$tmp/build-venv/bin/python" -m pip install -q auditwheel
"$tmp/build-venv/bin/auditwheel" show "$wheel"

echo "+ installing the wheel into a fresh venv"
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q "$wheel[test]"
# the tests, examples and data files, without src/: fastbp comes from the wheel
cp -r "$tmp/src" "$tmp/run" && rm -rf "$tmp/run/src"
unset PYTHONPATH
[ $# -gt 0 ] || set -- -q
(cd "$tmp/run" && "$tmp/venv/bin/python" -c "import fastbp, sys; assert 'site-packages' in fastbp.__file__, fastbp.__file__; fastbp.show_config()" \
  && "$tmp/venv/bin/python" -m pytest tests -p no:cacheprovider "$@")
