#!/usr/bin/env bash
# Issue "disk-image": the README's `make` (treefile -> bootable qcow2) against mkosi building
# the equivalent image: same packages and suite (trixie main only), Format=disk, UEFI
# (systemd-boot), the same kernel command line.
#
# In one run, on a copy of this checkout (fresh build/):
#   mkosi cold   `mkosi -ff --incremental=yes build` (no output, no incremental cache; warm
#                package cache, as ours has a warm .deb cache), then `qemu-img convert` to qcow2
#                (timed apart: mkosi writes raw only);
#   mkosi rerun  `mkosi -f --incremental=yes build` with nothing changed;
#   ours cold    `make VARIANT=...` (resolve, rootfs, usr-unify, ostree-commit, disk-image);
#   ours rerun   `make VARIANT=...` again with nothing changed.
# Prints ours/mkosi for both (goal: cold <= 0.85, and our rerun <= 10 s), each with the load
# average at its start, and both images' sizes as qcow2 (goal: ours <= mkosi's; `qemu-img info`
# of both in the log). bench/boot.sh boots the two images against each other.
#
# The mkosi side (its trixie tree, the project generated from the treefile): lib.sh's mkosi_project.
#
# Usage: bench/mkosi.sh [VARIANT]    (default base; KEEP=1 keeps the work directory;
#        ROUNDS=N repeats the cold pair N times, alternating which side runs first)
set -euo pipefail
BENCH_NAME=mkosi
bench_dir=$(cd "$(dirname "$0")" && pwd)
. "$bench_dir/lib.sh"

mkosi_bench_start "${1:-base}"

# make runs every recipe line through stage-shell.sh, which logs its time: the stage breakdown.
ours() { make -C "$work/src" --no-print-directory SHELL="$bench_dir/stage-shell.sh" VARIANT="$variant"; }
ours_cold() {
  rm -rf "$work/src/build/$variant" "$work/src/build/repo"
  ours
}

# Rounds alternate the order (mkosi first, then ours first...) so that neither side always runs
# in the other's wake. The qcow2 conversion is timed apart (mkosi_qcow2_N).
rounds=${ROUNDS:-1}
sum_mkosi=0
sum_make=0
per_round=()
for ((i = 1; i <= rounds; i++)); do
  if ((i % 2)); then order=(mkosi make); else order=(make mkosi); fi
  for side in "${order[@]}"; do
    export BENCH_STAGE_LOG=$BENCH_LOGS/$side-$i.stages
    if [ "$side" = mkosi ]; then
      timed "mkosi_cold_$i" mkosi_run -ff --incremental=yes build
      timed "mkosi_qcow2_$i" qemu-img convert -O qcow2 "$out/image.raw" "$out/image.qcow2"
    else
      timed "make_cold_$i" ours_cold
    fi
  done
  tm="t_mkosi_cold_$i" to="t_make_cold_$i"
  sum_mkosi=$(awk -v a="$sum_mkosi" -v b="${!tm}" 'BEGIN { print a + b }')
  sum_make=$(awk -v a="$sum_make" -v b="${!to}" 'BEGIN { print a + b }')
  per_round+=("$(ratio "${!to}" "${!tm}")")
done
timed mkosi_rerun mkosi_run -f --incremental=yes build
export BENCH_STAGE_LOG=$BENCH_LOGS/make-rerun.stages
timed make_rerun ours
[ -f "$work/src/build/$variant/disk.qcow2" ] || die "no disk.qcow2 after make"

r_cold=$(ratio "$sum_make" "$sum_mkosi")
r_rerun=$(ratio "$t_make_rerun" "$t_mkosi_rerun")
r_rerun_cold=$(ratio "$t_make_rerun" "$(awk -v a="$sum_make" -v n="$rounds" 'BEGIN { print a / n }')")
{
  echo "== qemu-img info: mkosi"
  qemu-img info "$out/image.raw"
  echo "== qemu-img info: ours"
  qemu-img info "$work/src/build/$variant/disk.qcow2"
} >"$BENCH_LOGS/qemu-img-info.log"

echo "== bench/mkosi.sh: make VARIANT=$variant vs mkosi $(mkosi_run --version 2>/dev/null | awk '{print $2}') ($(date -u +%FT%TZ), $(nproc) cores)"
for ((i = 1; i <= rounds; i++)); do
  tm="t_mkosi_cold_$i" lm="load_mkosi_cold_$i" tq="t_mkosi_qcow2_$i" to="t_make_cold_$i" lo="load_make_cold_$i"
  result "round $i mkosi (cold)" "${!tm} s  (load ${!lm})  + qemu-img convert ${!tq} s"
  result "round $i make (cold)" "${!to} s  (load ${!lo})  ours/mkosi ${per_round[$((i - 1))]} x"
done
result "ratio cold ours/mkosi" "$r_cold x  goal <= 0.85: $(verdict "$r_cold" 0.85)"
result "mkosi (incremental rerun)" "$t_mkosi_rerun s  (load $load_mkosi_rerun)"
result "make (no-change rerun)" "$t_make_rerun s  (load $load_make_rerun)  goal <= 10 s: $(verdict "$t_make_rerun" 10)"
result "ratio rerun ours/mkosi" "$r_rerun x"
result "ratio rerun/cold (ours)" "$r_rerun_cold x"
size() { qemu-img info --output=json "$1" | jq -r '."actual-size"'; }
mib() { awk -v b="$1" 'BEGIN { printf "%d MiB", b / 1048576 }'; }
size_mkosi=$(size "$out/image.qcow2")
size_ours=$(size "$work/src/build/$variant/disk.qcow2")
r_size=$(ratio "$size_ours" "$size_mkosi")
result "images (qcow2 on disk)" "mkosi $(mib "$size_mkosi") (raw $(mib "$(size "$out/image.raw")")), ours $(mib "$size_ours")"
result "ratio image size ours/mkosi" "$r_size x  goal <= 1.00: $(verdict "$r_size" 1.00)"
echo "  make recipe lines, round $rounds:"
stages make
