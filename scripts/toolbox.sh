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

# GRUB with blscfg (forky's 2.14; trixie's 2.12 has none), unpacked only: disk-image runs its
# grub-mkstandalone from the toolbox to build a standalone EFI binary that reads the BLS
# entries ostree writes, so nothing on the ESP changes on upgrades or rollbacks.
fetch_grub_bls() {
  local grub=$cache/grub-bls
  [ ! -f "$grub/.done" ] || return 0
  echo "toolbox: fetching GRUB 2.14 (forky) for blscfg" >&2
  work=$(mktemp -d "$cache/grub-bls.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror forky main" >"$work/sources.list"
  # Check-Valid-Until off: forky (testing) Release files expire within days; a frozen mirror is still signed.
  local apt="apt-get -q -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root -o Dir::Etc::SourceList=$work/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$work/lists -o Dir::Cache=$work/cache -o Debug::NoLocking=1"
  # The toolbox's system directories on a tmpfs root, as tools/lib's sandbox does.
  local root_args=(--tmpfs /)
  for e in "$dir"/*; do
    n=${e##*/}
    if [ -L "$e" ]; then root_args+=(--symlink "$(readlink "$e")" "/$n")
    elif [ "$n" = usr ] || [ "$n" = etc ]; then root_args+=(--ro-bind "$e" "/$n"); fi
  done
  bwrap "${root_args[@]}" --dir /var/tmp --dev /dev --proc /proc --tmpfs /tmp --bind "$work" "$work" \
    --ro-bind /etc/resolv.conf /etc/resolv.conf --ro-bind /etc/hosts /etc/hosts --chdir "$work/debs" \
    sh -c "$apt update >&2 && $apt download grub-common grub2-common grub-efi-amd64-bin >&2"
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
  rm -rf "$grub"
  mv "$work/root" "$grub"
  touch "$grub/.done"
  rm -rf "$work"
  trap - EXIT
}

if [ ! -f "$dir/.toolbox-key" ] || [ "$(cat "$dir/.toolbox-key")" != "$key" ]; then build_toolbox; fi
fetch_grub_bls
