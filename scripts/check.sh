#!/usr/bin/env bash
# The test runs of make check (fast) and make check-slow (slow). A script, not a recipe line that
# names $(MAKE): make runs such lines even under -n, and `make -n check` must only print what
# check would do. Every group runs even when an earlier one failed; the exit status says whether
# any failed. Each group prints its own "N passed, N failed" line. make (with the flags of the
# make that called us, through MAKEFLAGS) runs the VM groups.
#   check.sh fast TOOL_DIR...   unit suites + packaging, newcomer dry runs, boot tests
#   check.sh slow               reproducibility + Day-2 updates, registry updates, package layering, Secure Boot, installer ISO, derived images, hwdetect report, make run, a fresh clone
set -u
cd "$(dirname "$0")/.."
group=${1:?usage: check.sh fast DIR... | check.sh slow}
shift
rc=0
sub() { make --no-print-directory "$@" || rc=1; }
case $group in
  fast)
    scripts/run-tests.sh "$@" packaging || rc=1
    sub newcomer-test
    sub boot-test
    sub hwdetect-boot-test
    ;;
  slow)
    VARIANT=${VARIANT:-base} DEBIAN_ATOMIC_UPDATE_TEST=1 E2E_TESTS="test/reproducible.ts ${SLOW_TESTS:-test/update.ts}" scripts/run-tests.sh tools/e2e || rc=1
    sub registry-test
    sub layering-test
    sub secureboot-test
    sub iso-test
    sub derived-test
    sub hwdetect-report-test
    sub run-test
    sub fresh-clone-test
    ;;
  *) echo "check.sh: unknown group $group (fast or slow)" >&2; exit 2 ;;
esac
exit $rc
