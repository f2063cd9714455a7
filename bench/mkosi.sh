#!/usr/bin/env bash
# Issue "disk-image": the README's `make` (treefile -> bootable qcow2) against mkosi building
# the equivalent image: same packages and suite (trixie main only), Format=disk, UEFI
# (systemd-boot), the same kernel command line.
#
# In one run, on a copy of this checkout (fresh build/):
#   mkosi cold   `mkosi -ff --incremental=yes build` (no output, no incremental cache; warm
#                package cache, as ours has a warm .deb cache), then `qemu-img convert` to qcow2
#                (timed apart: mkosi writes raw only);
#   mkosi rerun  `mkosi -f --incremental=yes build` with nothing changed;
#   ours cold    `make VARIANT=...` (resolve, rootfs, usr-unify, ostree-commit, disk-image);
#   ours rerun   `make VARIANT=...` again with nothing changed.
# Prints ours/mkosi for both (goal: cold < 1.0, and our rerun <= 10 s), each with the load
# average at its start, and `qemu-img info` of both images. BOOT=1 also boots the mkosi image
# in QEMU (OVMF, TCG) until a login prompt, as a check that it is the equivalent system.
#
# mkosi 25 (trixie) runs from a trixie tree through bubblewrap (bench/mkosi-tree.sh builds it
# once): bookworm's mkosi 14 is too old.
#
# Usage: bench/mkosi.sh [VARIANT]    (default base; KEEP=1 keeps the work directory;
#        ROUNDS=N repeats the cold pair N times, alternating which side runs first)
set -euo pipefail
BENCH_NAME=mkosi
bench_dir=$(cd "$(dirname "$0")" && pwd)
. "$bench_dir/lib.sh"

variant=${1:-base}
[ -f "$bench_main/variants/treefiles/$variant.yaml" ] || die "no variant $variant in $bench_main/variants/treefiles"
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap --mode=root, mkosi, bubblewrap)"
mkosi_tree=${MKOSI_TREE:-$DEBIAN_ATOMIC_CACHE/mkosi-tree}
mkosi_packages=$DEBIAN_ATOMIC_CACHE/mkosi-packages
MKOSI_TREE=$mkosi_tree "$bench_dir/mkosi-tree.sh"

bench_workdir mkosi
work=$BENCH_WORK
say "work directory $work, logs $BENCH_LOGS"
make_work_copy "$work/src"
make -C "$work/src" --no-print-directory toolbox >"$BENCH_LOGS/toolbox.log" 2>&1 || die "make toolbox failed (log: $BENCH_LOGS/toolbox.log)"
# The treefile of the Makefile's rootfs step (with the hardware policy's packages), by its own steps.
make -C "$work/src" --no-print-directory VARIANT="$variant" BUILD="$work/mkosi-build" plan >"$BENCH_LOGS/plan.log" 2>&1 || die "make plan failed (log: $BENCH_LOGS/plan.log)"
treefile=$work/mkosi-build/treefile.json

# --- the mkosi project: generated from the resolved treefile ------------------------------
project=$work/mkosi
# Output and workspace outside the project: mkosi refuses a workspace inside its build sources.
out=$work/mkosi-out
mkdir -p "$project/sandbox/etc/apt/sources.list.d" "$out" "$work/mkosi-workspace" "$work/mkosi-cache" "$mkosi_packages"
# mkosi's default Debian sources add -debug (the mirror answers 400), -updates and -security;
# the treefile builds from its repos only, so mkosi gets those.
jq -r '.repos[] | "Types: deb\nURIs: \(.mirror)\nSuites: \(.suite)\nComponents: \(.components | join(" "))\n" + (if .keyring then "Signed-By: \(.keyring)\n" else "" end)' \
  "$treefile" >"$project/sandbox/etc/apt/sources.list.d/mkosi.sources"
{
  echo '[Distribution]'
  echo 'Distribution=debian'
  echo "Release=$(jq -r .suite "$treefile")"
  echo 'Architecture=x86-64'
  echo
  echo '[Output]'
  echo 'Format=disk'
  echo 'Output=image'
  echo "OutputDirectory=$out"
  echo
  echo '[Content]'
  echo 'Bootable=yes'
  echo 'Bootloader=systemd-boot'
  # systemd-boot's EFI binary comes from the image; the rest is the treefile's package set.
  jq -r --arg a "$(jq -r .architecture "$treefile")" \
    '"Packages=" + ((([.packages[], (.["packages-" + $a] // [])[]] - (.["exclude-packages"] // [])) + ["systemd-boot-efi"]) | unique | join(","))' "$treefile"
  echo "KernelCommandLine=$(jq -r '.["kernel-args"] // [] | join(" ")' "$treefile")"
  # Without these systemd-firstboot waits for answers on the first boot.
  echo 'Locale=C.UTF-8'
  echo 'Keymap=us'
  echo 'Timezone=UTC'
  echo 'Hostname=debian-atomic'
  echo 'RootPassword=debian-atomic'
  echo
  echo '[Build]'
  echo "SandboxTrees=$project/sandbox"
  echo "WorkspaceDirectory=$work/mkosi-workspace"
  # The incremental cache (--incremental=yes needs one): per run, so the cold build is cold.
  echo "CacheDirectory=$work/mkosi-cache"
  echo "PackageCacheDirectory=$mkosi_packages"
  echo 'WithNetwork=no'
} >"$project/mkosi.conf"

# mkosi from the trixie tree: its system directories read-only, the work directory and the package
# cache bound in, the host's network and devices (mkosi sets up its own sandbox inside).
mkosi_run() {
  sandbox --root "$mkosi_tree" --read-only-root --host-devices --network --all-caps \
    --bind "$work" --bind "$mkosi_packages" --setenv SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" --chdir "$project" -- mkosi "$@"
}

if [ -z "$(find "$mkosi_packages" -name '*.deb' -print -quit)" ]; then
  # Ours starts with a warm .deb cache; give mkosi the same before timing it.
  timed mkosi_warmup mkosi_run -ff build
fi
# make runs every recipe line through stage-shell.sh, which logs its time: the stage breakdown.
ours() { make -C "$work/src" --no-print-directory SHELL="$bench_dir/stage-shell.sh" VARIANT="$variant"; }
ours_cold() {
  rm -rf "$work/src/build/$variant" "$work/src/build/repo"
  ours
}

# Rounds alternate the order (mkosi first, then ours first...) so that neither side always runs
# in the other's wake. The qcow2 conversion is timed apart (mkosi_qcow2_N).
rounds=${ROUNDS:-1}
sum_mkosi=0
sum_make=0
per_round=()
for ((i = 1; i <= rounds; i++)); do
  if ((i % 2)); then order=(mkosi make); else order=(make mkosi); fi
  for side in "${order[@]}"; do
    export BENCH_STAGE_LOG=$BENCH_LOGS/$side-$i.stages
    if [ "$side" = mkosi ]; then
      timed "mkosi_cold_$i" mkosi_run -ff --incremental=yes build
      timed "mkosi_qcow2_$i" qemu-img convert -O qcow2 "$out/image.raw" "$out/image.qcow2"
    else
      timed "make_cold_$i" ours_cold
    fi
  done
  tm="t_mkosi_cold_$i" to="t_make_cold_$i"
  sum_mkosi=$(awk -v a="$sum_mkosi" -v b="${!tm}" 'BEGIN { print a + b }')
  sum_make=$(awk -v a="$sum_make" -v b="${!to}" 'BEGIN { print a + b }')
  per_round+=("$(ratio "${!to}" "${!tm}")")
done
timed mkosi_rerun mkosi_run -f --incremental=yes build
export BENCH_STAGE_LOG=$BENCH_LOGS/make-rerun.stages
timed make_rerun ours
[ -f "$work/src/build/$variant/disk.qcow2" ] || die "no disk.qcow2 after make"

r_cold=$(ratio "$sum_make" "$sum_mkosi")
r_rerun=$(ratio "$t_make_rerun" "$t_mkosi_rerun")
r_rerun_cold=$(ratio "$t_make_rerun" "$(awk -v a="$sum_make" -v n="$rounds" 'BEGIN { print a / n }')")
{
  echo "== qemu-img info: mkosi"
  qemu-img info "$out/image.raw"
  echo "== qemu-img info: ours"
  qemu-img info "$work/src/build/$variant/disk.qcow2"
} >"$BENCH_LOGS/qemu-img-info.log"

boot=skipped
if [ "${BOOT:-0}" = 1 ]; then
  # Serial console to a file, polled for the login prompt; then the VM is stopped (it would
  # idle at the prompt until the timeout).
  boot_mkosi() {
    local serial=$BENCH_LOGS/mkosi-boot-serial.log qemu waited=0
    cp /usr/share/OVMF/OVMF_VARS.fd "$work/vars.fd"
    qemu-system-x86_64 -machine q35 -m 1024 -nographic -no-reboot -monitor none -serial "file:$serial" \
      -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd \
      -drive if=pflash,format=raw,file="$work/vars.fd" \
      -drive if=virtio,format=qcow2,file="$out/image.qcow2" </dev/null >/dev/null 2>&1 &
    qemu=$!
    until grep -aq 'login:' "$serial" 2>/dev/null; do
      if ! kill -0 "$qemu" 2>/dev/null || [ "$waited" -ge 900 ]; then
        kill "$qemu" 2>/dev/null
        return 1
      fi
      sleep 2
      waited=$((waited + 2))
    done
    kill "$qemu"
    wait "$qemu" 2>/dev/null || true
  }
  boot_load=$(loadavg)
  boot_start=$(date +%s)
  if boot_mkosi; then
    boot="login prompt after $(($(date +%s) - boot_start)) s (TCG, load $boot_load)"
  else
    boot="FAILED: no login prompt (serial log: $BENCH_LOGS/mkosi-boot-serial.log)"
  fi
fi

echo "== bench/mkosi.sh: make VARIANT=$variant vs mkosi $(mkosi_run --version 2>/dev/null | awk '{print $2}') ($(date -u +%FT%TZ), $(nproc) cores)"
for ((i = 1; i <= rounds; i++)); do
  tm="t_mkosi_cold_$i" lm="load_mkosi_cold_$i" tq="t_mkosi_qcow2_$i" to="t_make_cold_$i" lo="load_make_cold_$i"
  result "round $i mkosi (cold)" "${!tm} s  (load ${!lm})  + qemu-img convert ${!tq} s"
  result "round $i make (cold)" "${!to} s  (load ${!lo})  ours/mkosi ${per_round[$((i - 1))]} x"
done
result "ratio cold ours/mkosi" "$r_cold x  goal < 1.00: $(verdict "$r_cold" 0.99)"
result "mkosi (incremental rerun)" "$t_mkosi_rerun s  (load $load_mkosi_rerun)"
result "make (no-change rerun)" "$t_make_rerun s  (load $load_make_rerun)  goal <= 10 s: $(verdict "$t_make_rerun" 10)"
result "ratio rerun ours/mkosi" "$r_rerun x"
result "ratio rerun/cold (ours)" "$r_rerun_cold x"
result "images" "mkosi $(qemu-img info --output=json "$out/image.qcow2" | jq -r '"(as qcow2 " + (."actual-size" / 1048576 | floor | tostring) + " MiB) "')$(qemu-img info --output=json "$out/image.raw" | jq -r '.format + " " + (."virtual-size" / 1048576 | floor | tostring) + " MiB virtual, " + (."actual-size" / 1048576 | floor | tostring) + " MiB on disk"'); ours $(qemu-img info --output=json "$work/src/build/$variant/disk.qcow2" | jq -r '.format + " " + (."virtual-size" / 1048576 | floor | tostring) + " MiB virtual, " + (."actual-size" / 1048576 | floor | tostring) + " MiB on disk"')"
result "mkosi image boot" "$boot"
echo "  make recipe lines, round $rounds:"
sort -rn "$BENCH_LOGS/make-$rounds.stages" | awk '$1 >= 0.5' | head -n 6 | sed 's/^ */    /'
