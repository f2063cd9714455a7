#!/bin/sh
# The image build's hwdetect hook, in two steps (see README.md, "In the image build"):
#
#   build-hook.sh plan  POLICY BUILD_DIR   before the rootfs: plan for any hardware →
#                                          BUILD_DIR/hwdetect-plan.json, hwdetect-packages.txt
#                                          (one package a line) and hwdetect-components.txt
#   build-hook.sh apply BUILD_DIR ROOTFS   after the rootfs, before its initramfs is generated:
#                                          kargs.d, modules-load.d, dracut.conf.d (+ hwdetect if enabled)
#
# A variant without a policy (POLICY missing) plans nothing and applies nothing.
# NODE overrides the node binary.
set -eu
HWDETECT="${NODE:-node} $(cd "$(dirname "$0")/.." && pwd)/dist/bin.js"
usage() { echo "usage: $0 plan POLICY BUILD_DIR | apply BUILD_DIR ROOTFS" >&2; exit 2; }
[ $# -eq 3 ] || usage
case $1 in
  plan)
    policy=$2 out=$3
    if [ ! -e "$policy" ]; then
      rm -f "$out/hwdetect-plan.json" "$out/hwdetect-packages.txt" "$out/hwdetect-components.txt"
      exit 0
    fi
    mkdir -p "$out"
    $HWDETECT plan --quiet --any-hardware --policy "$policy" --output "$out/hwdetect-plan.json"
    $HWDETECT plan --quiet --any-hardware --policy "$policy" --list packages --output "$out/hwdetect-packages.txt"
    $HWDETECT plan --quiet --any-hardware --policy "$policy" --list components --output "$out/hwdetect-components.txt"
    ;;
  apply)
    plan=$2/hwdetect-plan.json root=$3
    [ -e "$plan" ] || exit 0
    $HWDETECT apply --quiet --plan "$plan" --root "$root" >/dev/null
    ;;
  *) usage ;;
esac
