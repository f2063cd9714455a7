#!/usr/bin/env bash
# podman for derived images (examples/derived, make derived-test): the host's when it is podman 5 or
# newer (trixie's 5.4), else trixie's podman, buildah and crun in a tree of their own under the cache
# (built once, like scripts/toolbox.sh), run in a private mount namespace chrooted there. Its
# /var/lib/containers (overlay storage, and the blob cache that lets a push reuse the registry's
# compressed base layers) is PODMAN_STATE, default $cache/podman-storage, kept between runs
# (bookworm's podman 4.3 with vfs copies a 64-layer image once per layer). RUN steps use chroot isolation (this host's hybrid cgroups stop
# crun) and the host's network, so apt reaches the mirror and a push reaches a registry on 127.0.0.1.
# The current directory and PODMAN_BINDS (colon-separated directories) are visible at their paths.
set -eu
. "$(dirname "$0")/helper-tree.sh"
cache=$DEBIAN_ATOMIC_CACHE
if [ "${DEBIAN_ATOMIC_PODMAN:-}" != tree ] && command -v podman >/dev/null; then
  major=$(podman --version | sed -n 's/^podman version \([0-9]*\)\..*/\1/p')
  if [ "${major:-0}" -ge 5 ]; then exec podman "$@"; fi
fi
[ "$(id -u)" = 0 ] || { echo "podman.sh: podman 5 is not installed, and running trixie's from $cache/podman needs root" >&2; exit 2; }
dir=$cache/podman
helper_tree "$dir" podman podman,buildah,crun,netavark,aardvark-dns,passt,catatonit,fuse-overlayfs,uidmap,iptables,ca-certificates 1
# This process's limits are the most a container may have (raising them is not permitted here).
mkdir -p "$dir/etc/containers"
cat >"$dir/etc/containers/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=$(ulimit -Hu):$(ulimit -Hu)"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
state=${PODMAN_STATE:-$cache/podman-storage}
mkdir -p "$state"
exec unshare --mount --propagation private -- bash -c '
set -eu
t=$1 storage=$2; shift 2
mount --bind "$t" "$t"
mount --rbind /proc "$t/proc"; mount --rbind /sys "$t/sys"; mount --rbind /dev "$t/dev"
mount -t tmpfs tmpfs "$t/run"
mount -t tmpfs tmpfs "$t/tmp"
mkdir -p "$t/var/lib/containers"
mount --bind "$storage" "$t/var/lib/containers"
cp /etc/resolv.conf "$t/etc/resolv.conf"
cp /etc/hosts "$t/etc/hosts"
IFS=: read -r -a binds <<<"$PWD:${PODMAN_BINDS:-}"
for b in "${binds[@]}"; do
  [ -n "$b" ] && [ "$b" != / ] && [ -d "$b" ] || continue
  b=$(realpath "$b")
  mkdir -p "$t$b"
  mount --rbind "$b" "$t$b"
done
cd "$PWD"
exec chroot "$t" env -C "$PWD" BUILDAH_ISOLATION=chroot PODMAN_IGNORE_CGROUPSV1_WARNING=1 podman "$@"
' - "$dir" "$state" "$@"
