#!/usr/bin/env bash
# Build fastbp with gcc's AddressSanitizer + UndefinedBehaviorSanitizer
# (CMake option FASTBP_SANITIZE) into a throwaway venv and run the tests under
# it. Exits nonzero if the build fails, a test fails, or any sanitizer report
# is written. Usage:
#
#   tools/sanitize.sh [pytest args...]     # default: tests/ but test_no_alloc.py
#
# test_no_alloc.py counts malloc calls, which ASan's allocator changes; the
# resident-memory test of test_reliability.py skips itself under ASan.
#
# The working tree (tracked and untracked, not ignored files) is copied to a
# temp dir first, so the repo's build/ and in-place _core*.so are not touched
# nor packaged. The venv is clean: pip installs fastbp[test] and its build
# requirements from the package index. CPython leaks by design: leak checking
# is off; every other ASan/UBSan report fails the run.
# FASTBP_KEEP=1 keeps the temp dir (build, venv, pytest.log).
set -euo pipefail
# shellcheck source=tools/scratch.sh
source "$(dirname "$0")/scratch.sh"
start_scratch sanitize  # sets repo, python and tmp; the working tree is in $tmp/src

echo "+ building with FASTBP_SANITIZE=address,undefined"
# A clean venv: packages installed system-wide (torch, matplotlib, ...) would be
# imported by tests under ASan, and C++ libraries loaded after libasan trip its
# __cxa_throw interceptor.
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q \
  -Ccmake.define.FASTBP_SANITIZE=address,undefined -Ccmake.build-type=RelWithDebInfo \
  -Cbuild-dir="$tmp/build" "$tmp/src" pytest hypothesis
# (not the [test] extra: scikit-learn, matplotlib, mpi4py, dask bring C++
# modules too; their tests skip here and run in the plain venv)

# (not imported to find it: an instrumented module only loads under LD_PRELOAD)
so=$(compgen -G "$tmp/venv/lib/python*/site-packages/fastbp/_core*.so" || true)
if [ -z "$so" ]; then
  echo "sanitize.sh: fastbp._core was not installed in the venv" >&2; exit 1
fi
if ! nm -D "$so" | grep __asan_init > /dev/null; then  # not -q: SIGPIPE under pipefail
  echo "sanitize.sh: $so is not instrumented" >&2; exit 1
fi

# Sanitizer reports go to fd 2 (UBSan ignores log_path next to ASan): pytest
# captures only sys.stdout/err (--capture=sys), so a report that halts the
# run is not lost with pytest's captured output; everything is logged.
export LD_PRELOAD
LD_PRELOAD=$(gcc -print-file-name=libasan.so)
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:allocator_may_return_null=1"  # numpy: MemoryError
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONMALLOC=malloc          # every Python object through ASan's allocator
unset PYTHONPATH
# tests that run fastbp from the source tree (PYTHONPATH=src) get the same core
cp "$so" "$tmp/src/src/fastbp/"

status=0
[ $# -gt 0 ] || set -- tests --ignore=tests/test_no_alloc.py
echo "+ pytest $* (under ASan + UBSan)"
(cd "$tmp/src" && "$tmp/venv/bin/python" -m pytest -q -rfE --capture=sys -p no:cacheprovider \
   "$@") 2>&1 | tee "$tmp/pytest.log" || status=$?
unset LD_PRELOAD

if grep -q -E "runtime error:|ERROR: AddressSanitizer|ERROR: UndefinedBehaviorSanitizer" \
     "$tmp/pytest.log"; then
  echo "sanitize.sh: sanitizer reports:" >&2
  grep -E -A30 "runtime error:|ERROR: AddressSanitizer|ERROR: UndefinedBehaviorSanitizer" \
    "$tmp/pytest.log" | head -120 >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "sanitize.sh: tests failed (status $status)" >&2
  exit "$status"
fi
echo "sanitize.sh: clean (ASan + UBSan, no reports)"
