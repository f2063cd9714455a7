#!/usr/bin/env bash
# Issue "Faster than the peers": one package added to a treefile → a new commit, against the cold build.
#
# In one run, on a copy of this checkout (fresh build/ and OSTree repository):
#   cold   `make commit VARIANT=...` from nothing (the .deb cache warm, as for every bench);
#   one    the same build directory, the treefile with one more package (REBUILD_PACKAGE, default
#          trixie's `tree`): `make commit` of a variant that includes VARIANT's treefile and adds
#          the package, with BUILD pointed at VARIANT's build directory, as a person's edit would
#          leave it. Checked: the new commit differs, and the package is in its manifest.
# Both builds run with INCREMENTAL=1 (rootfs --incremental, mkosi's --incremental: the cold build
# keeps mmdebstrap's tree, in a directory of the bench's own; the rebuild copies it and apt-installs
# the package); INCREMENTAL=0 benches the default build, which runs mmdebstrap both times.
# Prints one/cold (goal <= 0.50) with the load average at the start of each, and where the
# one-package rebuild spent its time. Exit 0 even when the goal is missed (the numbers are the
# result); 1 when a build fails.
#
# Usage: bench/rebuild.sh [VARIANT]    (default base; KEEP=1 keeps the work directory;
#        ROUNDS=N repeats the pair N times)
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
. "$bench_dir/lib.sh"

bench_start "${1:-base}" "mmdebstrap --mode=root, bubblewrap binds"
package=${REBUILD_PACKAGE:-tree}
make_work_copy "$work/src"
make_prerequisites
incremental=${INCREMENTAL:-1}
mode="INCREMENTAL=1"
[ "$incremental" = 0 ] && incremental= mode="default build"
trees=$work/trees

# The edited treefile: VARIANT's, plus one package (include merges lists). Built in VARIANT's
# own build directory: what make sees after a person adds a line to the treefile.
plus=bench-rebuild-plus
cat >"$work/src/variants/treefiles/$plus.yaml" <<EOF
# bench/rebuild.sh: $variant with one more package
include: [$variant.yaml]
packages: [$package]
EOF
ours() { make -C "$work/src" --no-print-directory SHELL="$bench_dir/stage-shell.sh" VARIANT="$1" BUILD="build/$variant" INCREMENTAL="$incremental" TREES="$trees" commit; }
cold() {
  rm -rf "$work/src/build/$variant" "$work/src/build/repo" "$trees"
  ours "$variant"
}
commit_of() { jq -r .commit "$work/src/build/$variant/commit.json"; }

rounds=${ROUNDS:-1}
sum_cold=0
sum_one=0
for ((i = 1; i <= rounds; i++)); do
  export BENCH_STAGE_LOG=$BENCH_LOGS/cold-$i.stages
  timed "cold_$i" cold
  before=$(commit_of)
  export BENCH_STAGE_LOG=$BENCH_LOGS/one-$i.stages
  timed "one_$i" ours "$plus"
  after=$(commit_of)
  [ "$after" != "$before" ] || die "the one-package rebuild made the same commit $after"
  if [ -n "$incremental" ]; then
    jq -e '.incremental.reused' "$work/src/build/$variant/rootfs.json" >/dev/null ||
      die "the rebuild did not start from the cached tree: $(jq -r '.incremental.reason // "no incremental record"' "$work/src/build/$variant/rootfs.json")"
  fi
  jq -e --arg p "$package" 'any(.[]; .name == $p)' "$work/src/build/$variant/rootfs/usr/share/debian-atomic/packages.json" >/dev/null ||
    die "$package is not in the rebuilt tree's manifest"
  tc="t_cold_$i" to="t_one_$i"
  sum_cold=$(awk -v a="$sum_cold" -v b="${!tc}" 'BEGIN { print a + b }')
  sum_one=$(awk -v a="$sum_one" -v b="${!to}" 'BEGIN { print a + b }')
done

r=$(ratio "$sum_one" "$sum_cold")
echo "== bench/rebuild.sh: one package ($package) added to $variant vs the cold build, $mode ($(date -u +%FT%TZ), $(nproc) cores, $rounds round(s))"
for ((i = 1; i <= rounds; i++)); do
  tc="t_cold_$i" lc="load_cold_$i" to="t_one_$i" lo="load_one_$i"
  result "round $i make commit (cold)" "${!tc} s  (load ${!lc})"
  result "round $i + $package" "${!to} s  (load ${!lo})  one/cold $(ratio "${!to}" "${!tc}") x"
done
result "ratio one-package/cold" "$r x  goal <= 0.50: $(verdict "$r" 0.50)"
echo "  one-package rebuild recipe lines, round $rounds:"
stages one
