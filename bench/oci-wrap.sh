#!/usr/bin/env bash
# Issue "Faster than the peers" (b): is oci-wrap as fast as `tar -c | gzip -1` of the same tree?
#
# In one run, on the variant's commit from the benches' shared copy of this checkout
# (bench_base_commit: the one bench/update-size.sh built when it is there, else built now):
#   ours  oci-wrap of the commit (this checkout's code, compiled in a work copy) into a new OCI
#         layout: reads the archive repository's objects, writes every layer's tar once through
#         gzip level 1, hashing it (diff ID and digest) in the same pass;
#   bare  `tar -c | gzip -1` of the same commit checked out (`ostree checkout -U`, not timed).
# Both inputs are read once before the timed runs, so both start from the page cache.
# Prints ours/bare by wall clock and by CPU time (user + system, all processes and threads),
# goal <= 1.00 by wall clock (oci-wrap's throughput at least the pipeline's), each run with the
# load average at its start, and both outputs' sizes. Exit 0 even when the goal is missed (the
# numbers are the result); 1 when a step fails.
#
# Usage: bench/oci-wrap.sh [VARIANT]    (default base; KEEP=1 keeps the work directory;
#        ROUNDS=N repeats the pair N times, alternating which side runs first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bench_start "${1:-base}" "mmdebstrap --mode=root when the commit has to be built"
bench_base_commit "$variant" reuse
make_work_copy "$work/src"
commit=$(jq -r .commit "$base_build/commit.json")

say "checking out $commit (not timed)"
toolbox_run --bind "$base_repo" --bind "$work" ostree --repo="$base_repo" checkout -U "$commit" "$work/tree" \
  >"$BENCH_LOGS/checkout.log" 2>&1 || die "ostree checkout failed (log: $BENCH_LOGS/checkout.log)"
# Into the page cache, both (repository objects and tree), not timed.
find "$base_repo/objects" "$work/tree" -type f -exec cat {} + >/dev/null

ours() {
  rm -rf "$work/oci"
  node "$work/src/tools/oci-wrap/dist/bin.js" --quiet --repo "$base_repo" --ref "$commit" \
    --output "oci:$work/oci:latest" >"$work/oci.json"
}
bare() {
  rm -f "$work/tree.tar.gz"
  tar -C "$work/tree" -cf - . | gzip -1 >"$work/tree.tar.gz"
}

# Rounds alternate the order so that neither side always runs in the other's wake.
rounds=${ROUNDS:-1}
sum_ours=0 sum_bare=0 cpu_sum_ours=0 cpu_sum_bare=0
per_round=()
for ((i = 1; i <= rounds; i++)); do
  if ((i % 2)); then order=(bare ours); else order=(ours bare); fi
  for side in "${order[@]}"; do timed "${side}_$i" "$side"; done
  to="t_ours_$i" tb="t_bare_$i" co="cpu_ours_$i" cb="cpu_bare_$i"
  sum_ours=$(awk -v a="$sum_ours" -v b="${!to}" 'BEGIN { print a + b }')
  sum_bare=$(awk -v a="$sum_bare" -v b="${!tb}" 'BEGIN { print a + b }')
  cpu_sum_ours=$(awk -v a="$cpu_sum_ours" -v b="${!co}" 'BEGIN { print a + b }')
  cpu_sum_bare=$(awk -v a="$cpu_sum_bare" -v b="${!cb}" 'BEGIN { print a + b }')
  per_round+=("$(ratio "${!to}" "${!tb}")")
done

r_wall=$(ratio "$sum_ours" "$sum_bare")
r_cpu=$(ratio "$cpu_sum_ours" "$cpu_sum_bare")
mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }
echo "== bench/oci-wrap.sh: oci-wrap vs tar -c | gzip -1 of $(jq -r .ref "$base_build/commit.json") ($(date -u +%FT%TZ), $(nproc) cores, $rounds round(s))"
for ((i = 1; i <= rounds; i++)); do
  tb="t_bare_$i" cb="cpu_bare_$i" lb="load_bare_$i" to="t_ours_$i" co="cpu_ours_$i" lo="load_ours_$i"
  result "round $i tar | gzip -1" "${!tb} s, CPU ${!cb} s  (load ${!lb})"
  result "round $i oci-wrap" "${!to} s, CPU ${!co} s  (load ${!lo})  ours/bare ${per_round[$((i - 1))]} x"
done
result "ratio ours/bare (wall)" "$r_wall x  goal <= 1.00 (throughput >= 1.0 x): $(verdict "$r_wall" 1.00)"
result "ratio ours/bare (CPU)" "$r_cpu x"
result "oci-wrap manifest" "$(jq -r .manifest "$work/oci.json") (the same commit and code give the same)"
result "output" "oci-wrap $(jq '.layers | length' "$work/oci.json") layers $(mib "$(jq '[.layers[].size] | add' "$work/oci.json")") (tar $(mib "$(jq .bytes "$work/oci.json")")); tar | gzip -1 $(mib "$(stat -c %s "$work/tree.tar.gz")") (tree $(mib "$(du -sb "$work/tree" | cut -f1)"))"
