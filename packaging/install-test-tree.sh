#!/usr/bin/env bash
# A fresh trixie tree (mmdebstrap, minbase) with the given .debs installed by apt, which pulls in
# nodejs and every Depends from deb.debian.org. Downloaded .debs are cached in $CACHE/apt (shared
# with the toolbox and rootfs). Usage: packaging/install-test-tree.sh TREE DEB...
set -eu
. "$(dirname "$0")/../scripts/helper-tree.sh"
[ $# -ge 2 ] || { echo "usage: $0 TREE DEB..." >&2; exit 2; }
tree=$1; shift
rm -rf "$tree"
debs=()
for d in "$@"; do debs+=("$(readlink -f "$d")"); done
mmdebstrap_cached trixie "$tree" --variant=minbase --mode=root \
  --customize-hook='mkdir -p "$1"/tmp/debs' \
  --customize-hook="copy-in ${debs[*]} /tmp/debs" \
  --customize-hook='chroot "$1" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Options::=--force-unsafe-io /tmp/debs/*.deb"' \
  --customize-hook='rm -rf "$1"/tmp/debs'
