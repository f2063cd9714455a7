#!/usr/bin/env bash
# Issue "Faster than the peers": boot to multi-user under TCG, ours against mkosi's image of the
# same package set, under the same QEMU, measured in one run.
#
# Builds (not timed) the README's `make VARIANT=...` disk.qcow2 in a copy of this checkout and
# mkosi's equivalent image (lib.sh's mkosi_project: same packages, UEFI, systemd-boot, a UKI with
# mkosi's default initrd), converted to qcow2 so that both disks take the same path in QEMU. Then
# boots them alternately (mkosi, ours, ours, mkosi, ...: ROUNDS pairs, default 2), every boot the
# first boot of the pristine image (snapshot=on), with the e2e tests' machine: q35, OVMF (4M, no
# Secure Boot), TCG with -cpu max, 2 CPUs, 2 GiB, virtio disk, network and RNG.
#
# Measured per boot:
#   host   seconds from QEMU's start to the first "login:" on the serial console (firmware and
#          boot loader included);
#   guest  kernel + initrd + userspace of `systemd-analyze time` once the boot has finished
#          (firmware and loader left out: only systemd-boot reports them).
# The guest's report comes out on a second serial port. Both images get it the same way, through
# SMBIOS credentials that systemd (>= 256) reads in any image: systemd.extra-unit.* adds a unit
# and systemd.unit-dropin.* makes multi-user.target want it, so neither image is changed.
# Prints ours/mkosi by each clock (goal <= 0.80) with the load average at the start of every
# boot, our initramfs's size and ours' slowest units (full reports in the log directory).
# Exit 0 even when the goal is missed (the numbers are the result); 1 when a build or a boot fails.
#
# Usage: bench/boot.sh [VARIANT]    (default base; KEEP=1 keeps the work directory;
#        ROUNDS=N boots each image N times)
set -euo pipefail
bench_dir=$(cd "$(dirname "$0")" && pwd)
. "$bench_dir/lib.sh"

mkosi_bench_start "${1:-base}"

# --- the two images (not timed) -----------------------------------------------------------
say "make VARIANT=$variant (not timed; log: $BENCH_LOGS/make.log)"
make -C "$work/src" --no-print-directory VARIANT="$variant" >"$BENCH_LOGS/make.log" 2>&1 || die "make failed (log: $BENCH_LOGS/make.log)"
ours_disk=$work/src/build/$variant/disk.qcow2
say "mkosi build (not timed; log: $BENCH_LOGS/mkosi.log)"
mkosi_run -ff build >"$BENCH_LOGS/mkosi.log" 2>&1 || die "mkosi build failed (log: $BENCH_LOGS/mkosi.log)"
mkosi_disk=$out/image.qcow2
qemu-img convert -O qcow2 "$out/image.raw" "$mkosi_disk"

# --- the report both guests send on their second serial port ------------------------------
# Type=exec: the unit's start job ends at once, so the boot can finish while it waits for that.
report_unit='[Unit]
Description=bench/boot.sh: the boot time report on the second serial port
After=multi-user.target
[Service]
Type=exec
ExecStart=/bin/sh -c "systemctl is-system-running --wait >/dev/null 2>&1; { systemd-analyze time; systemd-analyze critical-chain --no-pager; systemd-analyze blame --no-pager | grep -v [.]device$$ | head -n 25; echo BENCH-BOOT-REPORT-END; } >/dev/ttyS1 2>&1"
'
report_dropin='[Unit]
Wants=bench-boot-report.service
'
# An SMBIOS type 11 string: io.systemd.credential.binary:NAME=BASE64 (no comma to escape).
credential() { printf 'type=11,value=io.systemd.credential.binary:%s=%s' "$1" "$(printf '%s' "$2" | base64 -w0)"; }

# since START: seconds (one decimal) from START (date +%s.%N) to now.
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# boot SIDE DISK ROUND: one first boot; sets host_SIDE_ROUND, guest_SIDE_ROUND, load_SIDE_ROUND.
boot() {
  local side=$1 disk=$2 i=$3
  local name=$side-$i
  local serial=$BENCH_LOGS/$name.serial report=$BENCH_LOGS/$name.report vars=$work/$name.vars.fd
  local qemu start load login='' limit=${BOOT_TIMEOUT:-1200}
  cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vars"
  : >"$serial"
  : >"$report"
  load=$(loadavg)
  say "$name: boot (load $load)"
  start=$(date +%s.%N)
  timeout --foreground -k 5 "$limit" qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2 -machine q35 \
    -nographic -monitor none -no-reboot -serial "file:$serial" -serial "file:$report" \
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
    -drive "if=pflash,format=raw,file=$vars" \
    -drive "if=virtio,format=qcow2,file=$disk,snapshot=on" \
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0 -device virtio-rng-pci \
    -smbios "$(credential systemd.extra-unit.bench-boot-report.service "$report_unit")" \
    -smbios "$(credential systemd.unit-dropin.multi-user.target "$report_dropin")" \
    </dev/null >"$BENCH_LOGS/$name.qemu.log" 2>&1 &
  qemu=$!
  until grep -aq BENCH-BOOT-REPORT-END "$report"; do
    if [ -z "$login" ] && grep -aq 'login:' "$serial"; then
      login=$(since "$start")
    fi
    if ! kill -0 "$qemu" 2>/dev/null; then
      die "$name: QEMU ended before the guest's boot report (serial: $serial, report: $report)"
    fi
    sleep 0.5
  done
  kill "$qemu" 2>/dev/null || true
  wait "$qemu" 2>/dev/null || true
  [ -n "$login" ] || grep -aq 'login:' "$serial" || die "$name: no login prompt on the serial console (serial: $serial)"
  # The prompt can come out between two polls of the report: it is then at most 0.5 s late.
  [ -n "$login" ] || login=$(since "$start")
  local guest
  guest=$(startup_seconds "$report")
  [ -n "$guest" ] || die "$name: no 'Startup finished' line in the guest's report ($report)"
  printf -v "host_${side}_$i" '%s' "$login"
  printf -v "guest_${side}_$i" '%s' "$guest"
  printf -v "load_${side}_$i" '%s' "$load"
  say "$name: login prompt after $login s (host), kernel + initrd + userspace $guest s (guest)"
}

# startup_seconds REPORT: kernel + initrd + userspace from "Startup finished in 1.2s (firmware) +
# ... + 1min 3.4s (userspace) = ..." (systemd's time spans: h, min, s, ms, us).
startup_seconds() {
  awk '
    function span(s,   n, w, i, v, t) {
      t = 0; n = split(s, w, " ")
      for (i = 1; i <= n; i++) {
        v = w[i]
        if (v ~ /ms$/) t += substr(v, 1, length(v) - 2) / 1000
        else if (v ~ /us$/) t += substr(v, 1, length(v) - 2) / 1000000
        else if (v ~ /min$/) t += substr(v, 1, length(v) - 3) * 60
        else if (v ~ /h$/) t += substr(v, 1, length(v) - 1) * 3600
        else if (v ~ /s$/) t += substr(v, 1, length(v) - 1)
      }
      return t
    }
    /^Startup finished in / {
      sub(/^Startup finished in /, ""); sub(/ = .*/, "")
      n = split($0, part, / \+ /)
      for (i = 1; i <= n; i++)
        if (part[i] ~ /\((kernel|initrd|userspace)\)$/) { sub(/ \([a-z]+\)$/, "", part[i]); total += span(part[i]) }
      printf "%.1f\n", total
      exit
    }' "$1"
}

rounds=${ROUNDS:-2}
sum() { awk '{ s += $1 } END { printf "%.1f", s }'; }
for ((i = 1; i <= rounds; i++)); do
  if ((i % 2)); then order=(mkosi ours); else order=(ours mkosi); fi
  for side in "${order[@]}"; do
    if [ "$side" = mkosi ]; then boot mkosi "$mkosi_disk" "$i"; else boot ours "$ours_disk" "$i"; fi
  done
done
total() { for ((i = 1; i <= rounds; i++)); do v="$1_$2_$i"; echo "${!v}"; done | sum; }
r_host=$(ratio "$(total host ours)" "$(total host mkosi)")
r_guest=$(ratio "$(total guest ours)" "$(total guest mkosi)")
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
ours_initrd=$(stat -c %s "$work/src/build/$variant/rootfs/usr/lib/modules/"*/initramfs.img)
# mkosi's kernel and initrd travel together in its UKI (image.efi), when it leaves one beside the image.
mkosi_uki=$(find "$out" -maxdepth 1 -name '*.efi' -printf '%s\n' -quit)
echo "== bench/boot.sh: first boot of make VARIANT=$variant vs mkosi's image, TCG ($(date -u +%FT%TZ), $(nproc) cores, $rounds round(s))"
for ((i = 1; i <= rounds; i++)); do
  for side in mkosi ours; do
    h="host_${side}_$i" g="guest_${side}_$i" l="load_${side}_$i"
    result "round $i $side" "login prompt ${!h} s, kernel+initrd+userspace ${!g} s  (load ${!l})"
    echo "    $(grep -a -m 1 '^Startup finished' "$BENCH_LOGS/$side-$i.report" | tr -d '\r')"
  done
done
result "ratio host ours/mkosi" "$r_host x  goal <= 0.80: $(verdict "$r_host" 0.80)"
result "ratio guest ours/mkosi" "$r_guest x  goal <= 0.80: $(verdict "$r_guest" 0.80)"
result "initrd" "ours $(mb "$ours_initrd")${mkosi_uki:+ (the UKI of mkosi, kernel and initrd: $(mb "$mkosi_uki"))}"
echo "  slowest units of ours (round $rounds):"
sed -n '/^ *\([0-9.]*\(h\|min\|s\|ms\) \)\+[^ ]*$/p' "$BENCH_LOGS/ours-$rounds.report" | head -n 6 | sed 's/^ */    /'
