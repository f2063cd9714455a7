#!/usr/bin/env bash
# Build (once) the trixie tree bench/mkosi.sh runs mkosi 25 from, through bubblewrap:
# bookworm's mkosi 14 is too old for the configuration the bench uses.
# The package set is mkosi's Depends (no Recommends: they pull qemu-system, dnf, zypper...).
# Rebuilt only when the package list changes, as scripts/toolbox.sh does for the toolbox.
set -eu
. "$(dirname "$0")/../scripts/helper-tree.sh"
# Mount points for the host's resolver files (mkosi downloads packages).
helper_tree "${MKOSI_TREE:-$DEBIAN_ATOMIC_CACHE/mkosi-tree}" mkosi-tree mkosi,ca-certificates,debian-archive-keyring,qemu-utils '' \
  --aptopt='APT::Install-Recommends "false"' --skip=essential/unlink --customize-hook='touch "$1"/etc/hosts "$1"/etc/resolv.conf'
