#!/bin/sh
# Snapshot the sysfs/procfs files that `hwdetect probe` reads into a tarball,
# keeping symlinks as (relative) symlinks so that, extracted anywhere, the tree
# resolves like the live one: sys/bus/pci/devices/X -> ../../../devices/pci.../X.
#
# POSIX sh plus cat, readlink (-f), mkdir, ln, tar, gzip: runs in a busybox guest.
#
#   capture-sysfs.sh [-s SYSFS] [-p PROC] OUTPUT.tar.gz    ("-" for stdout)
#   tar -xzf OUTPUT.tar.gz -C DIR && hwdetect probe --sysfs DIR/sys --proc DIR/proc
set -eu

SYSFS=/sys
PROC=/proc
usage() { echo "usage: $0 [-s SYSFS] [-p PROC] OUTPUT.tar.gz|-" >&2; exit 2; }
while getopts s:p:h opt; do
  case $opt in
    s) SYSFS=$OPTARG ;;
    p) PROC=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
OUTPUT=$1

SYSFS=$(cd "$SYSFS" && pwd -P)
PROC=$(cd "$PROC" && pwd -P)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/capture-sysfs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
OUT=$WORK/root

warn() { echo "capture-sysfs: warning: $*" >&2; }

# Where a live sysfs path goes in the capture.
dest() { echo "$OUT/sys${1#"$SYSFS"}"; }

# Copy one sysfs path. Every symlink met on the way (a directory link such as
# bus/pci/devices/X, or a final link such as X/driver) is recorded as a link and
# its target created, so the capture stays resolvable. Missing paths are skipped.
capture() {
  cur=$SYSFS
  rest=${1#"$SYSFS"}
  rest=${rest#/}
  while [ -n "$rest" ]; do
    case $rest in
      */*) comp=${rest%%/*}; rest=${rest#*/} ;;
      *) comp=$rest; rest= ;;
    esac
    [ -n "$comp" ] || continue
    next=$cur/$comp
    if [ -L "$next" ]; then
      d=$(dest "$next")
      if [ ! -L "$d" ]; then
        mkdir -p "${d%/*}"
        ln -s "$(readlink "$next")" "$d"
      fi
      target=$(readlink -f "$next") || return 0
      case $target in "$SYSFS"/*) ;; *) warn "link leaves sysfs: $next"; return 0 ;; esac
      if [ -z "$rest" ]; then
        # A final link (driver): make its target exist, as a directory.
        [ -d "$target" ] && mkdir -p "$(dest "$target")"
        return 0
      fi
      next=$target
    elif [ ! -e "$next" ]; then
      return 0
    fi
    cur=$next
  done
  d=$(dest "$cur")
  if [ -d "$cur" ]; then
    mkdir -p "$d"
  elif [ -f "$cur" ]; then
    mkdir -p "${d%/*}"
    cat "$cur" >"$d" 2>/dev/null || { rm -f "$d"; warn "cannot read $cur"; }
  fi
}

mkdir -p "$OUT/sys" "$OUT/proc"

for dev in "$SYSFS"/bus/pci/devices/*; do
  [ -e "$dev" ] || continue
  for f in class vendor device subsystem_vendor subsystem_device revision modalias boot_vga driver; do
    capture "$dev/$f"
  done
done

capture "$SYSFS/firmware/efi"
for f in sys_vendor product_name chassis_type; do capture "$SYSFS/class/dmi/id/$f"; done
capture "$SYSFS/hypervisor/type"
capture "$SYSFS/devices/system/cpu/online"
capture "$SYSFS/devices/system/clocksource/clocksource0/available_clocksource"
for g in "$SYSFS"/kernel/iommu_groups/*; do
  [ -e "$g" ] && capture "$g"
done

for blk in "$SYSFS"/block/*; do
  [ -e "$blk" ] || continue
  for f in size removable queue/rotational; do capture "$blk/$f"; done
done

# procfs: the first processor stanza is enough (the count comes from cpu/online).
if [ -r "$PROC/cpuinfo" ]; then
  while IFS= read -r line; do
    [ -z "$line" ] && break
    printf '%s\n' "$line"
  done <"$PROC/cpuinfo" >"$OUT/proc/cpuinfo"
fi
for f in meminfo cmdline; do
  if [ -r "$PROC/$f" ]; then cat "$PROC/$f" >"$OUT/proc/$f" || warn "cannot read $PROC/$f"; fi
done

if [ "$OUTPUT" = - ]; then
  tar -C "$OUT" -cf - sys proc | gzip -n -9
else
  tar -C "$OUT" -cf - sys proc | gzip -n -9 >"$OUTPUT.tmp"
  mv "$OUTPUT.tmp" "$OUTPUT"
fi
