#!/usr/bin/env bash
# Build (once) the trixie "toolbox" tree the stages run newer Debian tools from
# through bubblewrap: ostree 2025.x, mtools, mkfs.*, sfdisk, qemu-img, gpg, xorriso, mksquashfs...
# Rebuilt only when this script's package list changes. On a trixie (or newer)
# host with these tools installed, set DEBIAN_ATOMIC_TOOLBOX=none to use the host's.
set -eu
cache=${DEBIAN_ATOMIC_CACHE:-$HOME/.cache/debian-atomic}
dir=${DEBIAN_ATOMIC_TOOLBOX:-$cache/toolbox}
[ "$dir" != none ] || exit 0
mirror=${MIRROR:-http://deb.debian.org/debian}
packages=ostree,mtools,dosfstools,e2fsprogs,fdisk,qemu-utils,ca-certificates,gpg,gpg-agent,gpgv,debian-archive-keyring,zstd,xz-utils,xorriso,squashfs-tools
# Bump when the way the toolbox is built changes.
layout=1
key=$(printf '%s %s %s' "$packages" "$mirror" "$layout" | sha256sum | cut -d' ' -f1)
build_toolbox() {
mkdir -p "$cache/apt"
tmp="$dir.new.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "toolbox: building trixie toolbox at $dir" >&2
mmdebstrap --quiet --variant=apt --include="$packages" \
  --skip=essential/unlink \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
  --setup-hook="sync-in $cache/apt /var/cache/apt/archives" \
  --customize-hook="sync-out /var/cache/apt/archives $cache/apt" \
  --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
  trixie "$tmp" "$mirror" >&2
# Mount points for the host's resolver files when a toolbox command needs the network.
touch "$tmp/etc/hosts" "$tmp/etc/resolv.conf"
echo "$key" >"$tmp/.toolbox-key"
rm -rf "$dir.old"
[ ! -e "$dir" ] || mv "$dir" "$dir.old"
mv "$tmp" "$dir"
rm -rf "$dir.old"
trap - EXIT
}

# Forky's unsigned GRUB 2.14 (blscfg) of earlier checkouts: the ESP now holds Debian's signed shim and GRUB.
rm -rf "$cache/grub-bls"
if [ ! -f "$dir/.toolbox-key" ] || [ "$(cat "$dir/.toolbox-key")" != "$key" ]; then build_toolbox; fi
