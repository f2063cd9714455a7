#!/usr/bin/env bash
# Run the tap suites of the given package directories (default: every tool),
# enforce each package's honest coverage threshold (package.json
# "debianAtomic": {"coverage": {"lines": N}}), and end with one line
# "N passed, N failed" (assertions), which CI reads.
set -u
cd "$(dirname "$0")/.."
logs=build/test-logs
mkdir -p "$logs"
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(tools/*/)
passed=0 failed=0 bad=()
for d in "${dirs[@]}"; do
  d=${d%/}
  [ -d "$d/test" ] || continue
  name=$(basename "$d")
  log="$logs/$name.log"
  # A narrowed e2e run keeps its own log (boot-test and hwdetect-boot-test run one after the other).
  # A variant other than the default adds its name (make desktop-test runs one file per desktop).
  [ "$name" != e2e ] || [ -z "${E2E_TESTS:-}" ] || log="$logs/e2e-$(sed -E 's|test/||g; s|\.ts||g; s| +|+|g' <<<"$E2E_TESTS")${VARIANT:+$([ "$VARIANT" = base ] || echo "-$VARIANT")}.log"
  printf '== %s ' "$name" >&2
  start=$(date +%s)
  # E2E_TESTS narrows the e2e package to some of its files (boot-test vs check-slow).
  files=()
  [ "$name" != e2e ] || [ -z "${E2E_TESTS:-}" ] || read -r -a files <<<"$E2E_TESTS"
  # As many test files at once as there are CPUs: tap's default leaves one free (1 job on a 2-core
  # machine, where most files wait on a single node process or on I/O), but make check runs
  # nothing beside the suites. A package that must run its files one at a time says "jobs": 1.
  jobs=$(node -e 'const p=require(process.argv[1]); console.log(p.tap?.jobs ?? require("os").availableParallelism())' "$PWD/$d/package.json")
  (cd "$d" && npx tap --reporter=tap --jobs="$jobs" "${files[@]}") >"$log" 2>&1
  rc=$?
  summary=$(grep -aE '^# \{ total: [0-9]+' "$log" | tail -n 1)
  p=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
  f=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
  p=${p:-0} f=${f:-0}
  if [ -z "$summary" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then f=$((f + 1)); fi
  # Coverage gate: the threshold each package declares.
  want=$(node -e 'const p=require(process.argv[1]); console.log(p.debianAtomic?.coverage?.lines ?? 100)' "$PWD/$d/package.json")
  # "Unknown" when the files run loaded no source (a narrowed e2e run): counts as 0 %.
  got=$(node -e 'try{const s=require(process.argv[1]); const p=Number(s.total.lines.pct); console.log(Number.isFinite(p)?p:0)}catch{console.log(0)}' "$PWD/$d/.tap/report/coverage-summary.json")
  cov_ok=$(node -e 'console.log(Number(process.argv[1]) >= Number(process.argv[2]) ? 1 : 0)' "$got" "$want")
  if [ "$cov_ok" != 1 ]; then
    echo "coverage of $name: lines $got% < threshold $want%" >>"$log"
    f=$((f + 1))
  fi
  passed=$((passed + p)) failed=$((failed + f))
  printf '%s passed, %s failed, lines %s%% (threshold %s%%), %ss\n' "$p" "$f" "$got" "$want" "$(( $(date +%s) - start ))" >&2
  if [ "$f" -gt 0 ]; then
    bad+=("$name")
    grep -aE '^\s*not ok|coverage of' "$log" | head -n 20 >&2
  fi
done
[ ${#bad[@]} -eq 0 ] || echo "failing: ${bad[*]} (logs in $logs/)" >&2
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
