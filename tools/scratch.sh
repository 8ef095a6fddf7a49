# tools/scratch.sh: sourced by sanitize.sh and check_wheel.sh, which build
# fastbp away from the repository (its build/ and in-place _core*.so stay
# untouched and unpackaged).

# make_scratch NAME: a temp dir in $tmp, removed on exit unless FASTBP_KEEP=1.
make_scratch() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/fastbp-$1.XXXXXX")
  if [ -z "${FASTBP_KEEP:-}" ]; then
    trap 'rm -rf "$tmp"' EXIT
  else
    echo "+ keeping $tmp"
  fi
}

# copy_working_tree REPO DEST: the tracked and untracked (not ignored) files of
# REPO into DEST (files deleted but not committed are skipped).
copy_working_tree() {
  echo "+ copying the working tree to $2"
  mkdir "$2"
  (cd "$1" && git ls-files -z --cached --others --exclude-standard \
     | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
     | tar --null -T - -cf -) | tar -xf - -C "$2"
}

# start_scratch NAME: repo (this checkout), python ($PYTHON, else python3), a
# scratch dir $tmp (make_scratch NAME) and the working tree copied to $tmp/src.
start_scratch() {
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  python=${PYTHON:-python3}
  make_scratch "$1"
  copy_working_tree "$repo" "$tmp/src"
}
