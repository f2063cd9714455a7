#!/usr/bin/env bash
# The test runs of make check (fast) and make check-slow (slow). A script, not a recipe line that
# names $(MAKE): make runs such lines even under -n, and `make -n check` must only print what
# check would do. Every group runs even when an earlier one failed; the exit status says whether
# any failed. Each group prints its own "N passed, N failed" line. make (with the flags of the
# make that called us, through MAKEFLAGS) runs the VM groups.
#   check.sh fast TOOL_DIR...   unit suites + packaging (the boot tests' images build meanwhile), newcomer dry runs, boot tests
#   check.sh slow               reproducibility + Day-2 updates, the raw image boot, registry updates, package layering, Secure Boot, installer ISO, derived images, desktops, hwdetect report, make run, a fresh clone
#   check.sh desktop VARIANT... each desktop variant's commit, then its desktop test (make desktop-test)
set -u
cd "$(dirname "$0")/.."
group=${1:?usage: check.sh fast DIR... | check.sh slow | check.sh desktop VARIANT...}
shift
rc=0
sub() { make --no-print-directory "$@" || rc=1; }
case $group in
  fast)
    # The boot tests' images (the default variant's, then the server's) build while the unit
    # suites run: a build waits mostly on the mirror, dpkg and the disk, and the suites on many
    # short processes. The VM tests start once both are built, with nothing running beside them.
    # A failed build is reported here and again, counted, by the boot test that needs it.
    mkdir -p build/test-logs
    images_log=build/test-logs/check-images.log
    make --no-print-directory boot-test-images >"$images_log" 2>&1 &
    images=$!
    scripts/run-tests.sh "$@" packaging || rc=1
    if ! wait "$images"; then
      echo "check: building the boot tests' images failed (the end of $images_log):" >&2
      tail -n 15 "$images_log" >&2
    fi
    sub newcomer-test
    sub boot-test
    sub hwdetect-boot-test
    ;;
  slow)
    VARIANT=${VARIANT:-base} DEBIAN_ATOMIC_UPDATE_TEST=1 E2E_TESTS="test/reproducible.ts ${SLOW_TESTS:-test/update.ts}" scripts/run-tests.sh tools/e2e || rc=1
    sub raw-boot-test
    sub registry-test
    sub layering-test
    sub secureboot-test
    sub iso-test
    sub derived-test
    sub desktop-test
    sub hwdetect-report-test
    sub run-test
    sub fresh-clone-test
    ;;
  desktop)
    for v in "$@"; do
      if make --no-print-directory VARIANT="$v" commit; then
        VARIANT=$v DEBIAN_ATOMIC_DESKTOP_TEST=1 E2E_TESTS=test/desktop.ts scripts/run-tests.sh tools/e2e || rc=1
      else
        echo "desktop-test: make VARIANT=$v commit failed" >&2
        rc=1
      fi
    done
    ;;
  *) echo "check.sh: unknown group $group (fast, slow or desktop)" >&2; exit 2 ;;
esac
exit $rc
