#!/usr/bin/env bash
# Install .debs built in this run (make debs) into an image's root filesystem, with the tree's
# own dpkg run inside it (bubblewrap), so its database records them and checks their Depends
# against what the variant installed: a variant that ships hwdetect must include nodejs.
# Our packages have no maintainer scripts, so nothing runs in the tree but dpkg.
# Run it after rootfs and before `hwdetect apply` (which enables the unit the package ships) and
# usr-unify (which moves the dpkg database to /usr).
# Usage: packaging/install-into-rootfs.sh ROOTFS DEB...
set -eu
[ $# -ge 2 ] || { echo "usage: $0 ROOTFS DEB..." >&2; exit 2; }
root=$(readlink -f "$1"); shift
[ -x "$root/usr/bin/dpkg" ] || { echo "install-into-rootfs: $root: no dpkg: not a Debian tree (or already usr-unified)" >&2; exit 2; }
stage=$root/var/tmp/debian-atomic-debs
mkdir -p "$stage"
trap 'rm -rf "$stage"' EXIT
names=()
for deb in "$@"; do
  cp "$deb" "$stage/"
  names+=("/var/tmp/debian-atomic-debs/${deb##*/}")
done
if ! bwrap --bind "$root" / --dev /dev --proc /proc --tmpfs /tmp --clearenv \
    --setenv PATH /usr/sbin:/usr/bin:/sbin:/bin --setenv DEBIAN_FRONTEND noninteractive \
    dpkg --install "${names[@]}" >&2; then
  echo "install-into-rootfs: dpkg failed in $root; if a dependency is missing (nodejs...), add it to the variant's packages" >&2
  exit 1
fi
