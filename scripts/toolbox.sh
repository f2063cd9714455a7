#!/usr/bin/env bash
# Build (once) the trixie "toolbox" tree the stages run newer Debian tools from
# through bubblewrap: ostree 2025.x, mtools, mkfs.*, sfdisk, qemu-img, gpg, xorriso, mksquashfs...
# Rebuilt only when this script's package list changes. On a trixie (or newer)
# host with these tools installed, set DEBIAN_ATOMIC_TOOLBOX=none to use the host's.
set -eu
. "$(dirname "$0")/helper-tree.sh"
cache=$DEBIAN_ATOMIC_CACHE
dir=${DEBIAN_ATOMIC_TOOLBOX:-$cache/toolbox}
[ "$dir" != none ] || exit 0
packages=ostree,mtools,dosfstools,e2fsprogs,fdisk,qemu-utils,ca-certificates,gpg,gpg-agent,gpgv,debian-archive-keyring,zstd,xz-utils,xorriso,squashfs-tools
# Bump when the way the toolbox is built changes.
layout=1

# Forky's unsigned GRUB 2.14 (blscfg) of earlier checkouts: the ESP now holds Debian's signed shim and GRUB.
rm -rf "$cache/grub-bls"
# Mount points for the host's resolver files when a toolbox command needs the network.
helper_tree "$dir" toolbox "$packages" "$layout" --skip=essential/unlink --customize-hook='touch "$1"/etc/hosts "$1"/etc/resolv.conf'
