#!/usr/bin/env bash
# make's SHELL for a timed build: runs each recipe line with bash as make would, and appends
# "<seconds> <first words of the line>" to $BENCH_STAGE_LOG, so a bench can show where the time
# of `make commit` went without touching the Makefile.
start=$(date +%s.%N)
bash "$@"
rc=$?
if [ -n "${BENCH_STAGE_LOG:-}" ] && [ "${1:-}" = -c ]; then
  awk -v a="$start" -v b="$(date +%s.%N)" -v cmd="$2" 'BEGIN {
    n = split(cmd, w, " "); line = w[1]; for (i = 2; i <= n && i <= 3; i++) line = line " " w[i]
    printf "%7.1f s  %s\n", b - a, line }' >>"$BENCH_STAGE_LOG"
fi
exit $rc
