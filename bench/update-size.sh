#!/usr/bin/env bash
# Issue "Faster than the peers" (a): what does a one-package update download over OSTree HTTP?
#
# The e2e update test's steps without a VM (bench/update-size.ts, which imports its fixtures):
#   v1  the variant's commit from `make commit` (in the benches' shared copy of this checkout,
#       bench_base_commit: rebuilt only where this checkout changed), published GPG-signed;
#   v2  v1's tree plus trixie's `tree` .deb installed with dpkg into the image's database
#       (/usr/lib/sysimage/dpkg), committed with tools/ostree-commit --delta;
#   a bare-user repository holding v1 pulls v2 from the e2e tests' HTTP server, which counts the
#   bytes it sends: once with the static delta, once without (object by object).
# Prints both byte counts, the .deb's size and their ratios (goal <= 1.5 x the .deb), what the
# bytes were (per object type or delta part), the floor of any OSTree transport (the checksums
# in the dirtrees that change, sent whole in a delta too), and the load average at the start
# (bytes do not depend on it). Exit 0 even when the goal is missed (the numbers are the result); 1 when a
# build or the measurement fails.
#
# Usage: bench/update-size.sh [VARIANT]    (default base)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bench_start "${1:-base}" "mmdebstrap --mode=root, dpkg into the tree"
bench_base_commit "$variant" refresh

measure() {
  cd "$base_src"
  VARIANT=$variant nice -n 19 node --import=./scripts/tap/ts-import.mjs bench/update-size.ts >"$work/update-size.json"
}
timed measure measure
json=$work/update-size.json
deb_bytes=$(jq -r .debBytes "$json")
r_delta=$(ratio "$(jq -r .delta.bytes "$json")" "$deb_bytes")
r_objects=$(ratio "$(jq -r .objects.bytes "$json")" "$deb_bytes")
# What was served, largest first: "kind N B (R requests)".
kinds() { jq -r ".$1.by | map(\"\(.kind) \(.bytes) B (\(.requests))\") | join(\", \")" "$json"; }

echo "== bench/update-size.sh: one-package update v1 -> v2 of $(jq -r .ref "$json") ($(date -u +%FT%TZ), load $load_measure)"
result "package" "$(basename "$(jq -r .deb "$json")") $deb_bytes bytes"
result "update bytes (delta)" "$(jq -r .delta.bytes "$json") bytes in $(jq -r .delta.requests "$json") requests  $r_delta x the .deb  goal <= 1.5: $(verdict "$r_delta" 1.5)"
result "update bytes (no delta)" "$(jq -r .objects.bytes "$json") bytes in $(jq -r .objects.requests "$json") requests  $r_objects x the .deb  goal <= 1.5: $(verdict "$r_objects" 1.5)"
r_floor=$(ratio "$(jq -r .floor.checksumBytes "$json")" "$deb_bytes")
result "floor (OSTree objects)" "$(jq -r .floor.dirtrees "$json") dirtrees change ($(jq -r .floor.bytes "$json") bytes); the distinct SHA-256 checksums in them alone are $(jq -r .floor.checksumBytes "$json") bytes, $r_floor x the .deb, which any OSTree transport sends"
echo "  served with the delta: $(kinds delta)"
echo "  served without: $(kinds objects)"
