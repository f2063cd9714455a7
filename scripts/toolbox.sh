#!/usr/bin/env bash
# Build (once) the trixie "toolbox" tree the stages run newer Debian tools from
# through bubblewrap: ostree 2025.x, dracut-less GRUB EFI tooling, mtools...
# Rebuilt only when this script's package list changes. On a trixie (or newer)
# host with these tools installed, set DEBIAN_ATOMIC_TOOLBOX=none to use the host's.
set -eu
cache=${DEBIAN_ATOMIC_CACHE:-$HOME/.cache/debian-atomic}
dir=${DEBIAN_ATOMIC_TOOLBOX:-$cache/toolbox}
[ "$dir" != none ] || exit 0
mirror=${MIRROR:-http://deb.debian.org/debian}
packages=ostree,grub-efi-amd64-bin,grub-common,mtools,dosfstools,e2fsprogs,fdisk,qemu-utils,ca-certificates,gpg,gpg-agent,gpgv,debian-archive-keyring,zstd,xz-utils
key=$(printf '%s %s %s' "$packages" "$mirror" "$(sha256sum "$0" | cut -d' ' -f1)" | sha256sum | cut -d' ' -f1)
if [ -f "$dir/.toolbox-key" ] && [ "$(cat "$dir/.toolbox-key")" = "$key" ]; then exit 0; fi
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
echo "$key" >"$tmp/.toolbox-key"
rm -rf "$dir.old"
[ ! -e "$dir" ] || mv "$dir" "$dir.old"
mv "$tmp" "$dir"
rm -rf "$dir.old"
trap - EXIT
