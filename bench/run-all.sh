#!/usr/bin/env bash
# Run every bench in turn (never in parallel: each would load the other's timings) and print
# one summary block of their ratios. Arguments go to each bench (the variant, default base).
# Exit 1 when a bench failed to build; a missed goal is a result, not a failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
status=0
summary=""
# Rounds of the benches whose single pair varies more than its goal's margin on this machine
# (ROUNDS: each bench's own setting; the ratios are of the sums). A first boot under TCG took
# 54 and 75 s in two boots of the same image in one run; a wrap 10.6 to 12.1 s; the one-package
# rebuild's ratio was 0.41 and 0.46 in two runs against a goal of 0.50.
declare -A rounds=([boot]=${BOOT_ROUNDS:-4} [oci-wrap]=${OCI_WRAP_ROUNDS:-3} [rebuild]=${REBUILD_ROUNDS:-2})
# update-size first: it builds (or brings up to date) the commit oci-wrap reuses.
for bench in commit rebuild mkosi boot update-size oci-wrap; do
  echo "run-all: bench/$bench.sh (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  if out=$(ROUNDS=${rounds[$bench]:-${ROUNDS:-1}} "$here/$bench.sh" "$@"); then
    summary+="$out"$'\n'
  else
    status=1
    summary+="== bench/$bench.sh: FAILED (see its log above)"$'\n'
  fi
done
echo
echo "==== Debian Atomic benches: ratios measured within each bench's own run ===="
printf '%s' "$summary"
exit $status
