#!/usr/bin/env bash
# valgrind memcheck over a short training run of fastbp's in-place build:
# both dtypes, 1 and 2 threads, layers cut into one and several pieces, and the
# other entry points once (forward, loss, gradients, evaluate, save/load).
# Fails on any error (invalid read/write/free, uninitialised value, ...) or
# definite leak with a frame in fastbp's compiled core; errors elsewhere are
# counted and shown but do not fail the run (tools/valgrind.supp silences the
# known CPython/NumPy/libgomp ones). Usage:
#
#   python setup.py build_ext --inplace   # if src/fastbp/_core*.so is missing
#   tools/valgrind.sh                     # ~2-5 minutes
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# the interpreter itself, not a launcher script (pyenv's shims exec python,
# and valgrind does not follow exec)
python=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
if ! compgen -G "$repo/src/fastbp/_core*.so" > /dev/null; then
  echo "valgrind.sh: no in-place build; run: python setup.py build_ext --inplace" >&2
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fastbp-valgrind.XXXXXX")
if [ -z "${FASTBP_KEEP:-}" ]; then
  trap 'rm -rf "$tmp"' EXIT     # FASTBP_KEEP=1 keeps memcheck.xml/.log
else
  echo "+ keeping $tmp"
fi

cat > "$tmp/workload.py" <<'EOF'
import sys
import numpy as np
import fastbp

fastbp._threads.adaptive = False  # use the threads asked for, small as the work is
rng = np.random.default_rng(0)
X = rng.standard_normal((37, 9))          # odd sizes
y = rng.integers(0, 3, 37)
# widths cut into one and several pieces (fastbp._core.pieces_for), odd batches
for dtype in ("float64", "float32"):
    for threads in (1, 2):
        fastbp.set_num_threads(threads)
        net = fastbp.Network([9, 259, 130, 3], activation="tanh", cost="cross_entropy",
                             dtype=dtype, seed=1)
        net.fit(X, y, epochs=3, batch_size=8, lr=0.1, seed=0, validation_data=(X, y))
        net.forward(X[:1]); net.predict(X); net.loss(X, y); net.gradients(X, y)
        net.evaluate(X, y)
print("valgrind workload: fit/forward/gradients ok", flush=True)
net.save(sys.argv[1])
assert np.array_equal(fastbp.load(sys.argv[1]).params, net.params)
EOF

echo "+ valgrind memcheck: $python workload.py (dtypes; 1-2 threads)"
status=0
PYTHONPATH="$repo/src" PYTHONMALLOC=malloc OMP_NUM_THREADS=2 \
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
           --errors-for-leak-kinds=definite --num-callers=40 --track-origins=yes \
           --suppressions="$repo/tools/valgrind.supp" --gen-suppressions=all \
           --xml=yes --xml-file="$tmp/memcheck.xml" --log-file="$tmp/memcheck.log" \
           "$python" "$tmp/workload.py" "$tmp/model.npz" || status=$?
if [ "$status" -ne 0 ]; then
  echo "valgrind.sh: the workload failed (status $status)" >&2
  tail -30 "$tmp/memcheck.log" >&2
  exit "$status"
fi

# An error is fastbp's if any frame of any of its stacks is in fastbp/_core*.so.
"$python" - "$tmp/memcheck.xml" <<'EOF'
import collections
import re
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
ours, others = [], collections.Counter()
for error in root.iter("error"):
    kind = error.findtext("kind")
    objs = [f.findtext("obj") or "" for f in error.iter("frame")]
    if any(re.search(r"/fastbp/_core[^/]*\.so$", o) for o in objs):
        ours.append(error)
    else:
        others[kind] += 1
for count in root.iter("errorcounts"):
    pass
print(f"valgrind.sh: {len(ours)} error(s) in fastbp's core; elsewhere (not failing): "
      + (", ".join(f"{n} {k}" for k, n in others.most_common()) or "none"))
for error in ours:
    what = error.findtext("what") or error.findtext("xwhat/text")
    print(f"\n{error.findtext('kind')}: {what}")
    for f in error.iter("frame"):
        where = f.findtext("file")
        where = f"{where}:{f.findtext('line')}" if where else f.findtext("obj")
        print(f"    {f.findtext('fn') or '???'}  ({where})")
sys.exit(1 if ours else 0)
EOF
