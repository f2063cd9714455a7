#!/usr/bin/env bash
# The newcomer's path from fresh clones of HEAD: `make` as the very first command builds the
# default image, `make run-test` logs in to it, and `make VARIANT=server` as the first command
# of another clone builds the server image. Prints what each took and "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
src=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/fresh-clone.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
logs=$src/build/test-logs
mkdir -p "$logs"
step() { # step NAME CLONE CHECK-FILE make-args...
  local name=$1 clone=$2 check=$3; shift 3
  local start=$(date +%s)
  if env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -C "$clone" --no-print-directory "$@" >"$logs/fresh-clone-$name.log" 2>&1 && { [ -z "$check" ] || [ -s "$clone/$check" ]; }; then
    passed=$((passed + 1)); echo "fresh-clone: ok   $name ($(( $(date +%s) - start )) s)" >&2
  else
    failed=$((failed + 1)); echo "fresh-clone: FAIL $name ($(( $(date +%s) - start )) s; log: $logs/fresh-clone-$name.log)" >&2
    tail -n 20 "$logs/fresh-clone-$name.log" >&2
  fi
}
git clone -q "$src" "$work/a"
step make "$work/a" build/base/disk.qcow2
step run-test "$work/a" "" run-test
git clone -q "$src" "$work/b"
step make-server "$work/b" build/server/disk.qcow2 VARIANT=server
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
