#!/usr/bin/env bash
# Build (once) the trixie tree bench/mkosi.sh runs mkosi 25 from, through bubblewrap:
# bookworm's mkosi 14 is too old for the configuration the bench uses.
# The package set is mkosi's Depends (no Recommends: they pull qemu-system, dnf, zypper...).
# Rebuilt only when the package list changes, as scripts/toolbox.sh does for the toolbox.
set -eu
cache=${DEBIAN_ATOMIC_CACHE:-$HOME/.cache/debian-atomic}
dir=${MKOSI_TREE:-$cache/mkosi-tree}
mirror=${MIRROR:-http://deb.debian.org/debian}
packages=mkosi,ca-certificates,debian-archive-keyring,qemu-utils
key=$(printf '%s %s' "$packages" "$mirror" | sha256sum | cut -d' ' -f1)
if [ -f "$dir/.mkosi-tree-key" ] && [ "$(cat "$dir/.mkosi-tree-key")" = "$key" ]; then exit 0; fi
mkdir -p "$cache/apt"
tmp="$dir.new.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "mkosi-tree: building trixie tree with mkosi at $dir" >&2
mmdebstrap --quiet --variant=apt --include="$packages" \
  --aptopt='APT::Install-Recommends "false"' \
  --skip=essential/unlink \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
  --setup-hook="sync-in $cache/apt /var/cache/apt/archives" \
  --customize-hook="sync-out /var/cache/apt/archives $cache/apt" \
  --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
  trixie "$tmp" "$mirror" >&2
# Mount points for the host's resolver files (mkosi downloads packages).
touch "$tmp/etc/hosts" "$tmp/etc/resolv.conf"
echo "$key" >"$tmp/.mkosi-tree-key"
rm -rf "$dir.old"
[ ! -e "$dir" ] || mv "$dir" "$dir.old"
mv "$tmp" "$dir"
rm -rf "$dir.old"
trap - EXIT
