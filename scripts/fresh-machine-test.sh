#!/usr/bin/env bash
# A newcomer on a fresh trixie machine: a trixie tree with only git, make, nodejs and npm (and
# ca-certificates), entered with chroot in its own mount namespace, where a fresh clone of this
# checkout's HEAD runs the README's commands as the very first ones: `make`, then `make run-test`
# (make run, logged in on the console). Nothing is cached: the tree's own ~/.cache starts empty.
# Slow (a cold build, 20-30 minutes here); run by hand: scripts/fresh-machine-test.sh [TARGET...]
# (default targets: "all run-test"; e.g. `VARIANT=server` as the first one). Root only.
set -u
cd "$(dirname "$0")/.."
src=$PWD
. scripts/helper-tree.sh
work=$(mktemp -d "${TMPDIR:-/var/tmp}/fresh-machine.XXXXXX")
logs=$src/build/test-logs
mkdir -p "$logs"
trap 'rm -rf "$work"' EXIT
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(all run-test)
echo "fresh-machine: trixie tree with git make nodejs npm at $work/root" >&2
mmdebstrap_cached trixie "$work/root" --variant=apt --include=git,make,nodejs,npm,ca-certificates \
  >"$logs/fresh-machine-tree.log" 2>&1 || { tail -n 20 "$logs/fresh-machine-tree.log" >&2; exit 1; }
git clone -q "$src" "$work/root/root/debian-atomic"
cp /etc/resolv.conf "$work/root/etc/resolv.conf"
# The machine's own trust, as every machine of this kind has it (a site CA in front of the
# registries): the host's CA bundle, which Node is told to use as npm on the host is.
cp /etc/ssl/certs/ca-certificates.crt "$work/root/etc/ssl/certs/ca-certificates.crt"
passed=0 failed=0
for target in "${targets[@]}"; do
  start=$(date +%s)
  log=$logs/fresh-machine-${target//[^A-Za-z0-9_-]/_}.log
  # Its own mount namespace: the tree bound onto itself (bubblewrap needs / to be a mount point,
  # as on a machine), /proc, /sys, /dev for mmdebstrap, bubblewrap and QEMU inside.
  if unshare --mount --propagation private sh -c '
      r=$1; shift
      mount --bind "$r" "$r" &&
      mount -t proc proc "$r/proc" && mount --rbind /sys "$r/sys" && mount --rbind /dev "$r/dev" &&
      mount -t tmpfs tmpfs "$r/tmp" &&
      exec chroot "$r" env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
        sh -c "cd /root/debian-atomic && make \"\$@\"" make "$@"' sh "$work/root" "$target" >"$log" 2>&1; then
    passed=$((passed + 1)); echo "fresh-machine: ok   make $target ($(( $(date +%s) - start )) s)" >&2
  else
    failed=$((failed + 1)); echo "fresh-machine: FAIL make $target ($(( $(date +%s) - start )) s; log: $log)" >&2
    tail -n 20 "$log" >&2
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
