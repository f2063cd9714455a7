#!/bin/sh
# Capture a QEMU guest's sysfs with capture-sysfs.sh: boot Debian's kernel with a
# busybox initramfs under TCG (no KVM needed), UEFI (OVMF), and a spread of real
# devices (std VGA, Intel HDA, NVMe, AHCI disk, virtio-blk, e1000e, virtio-net,
# virtio-rng). The initramfs loads drivers by modalias as udev would, captures,
# and sends the tarball base64-encoded over the second serial port.
#
#   capture-qemu-guest.sh OUTPUT.tar.gz [WORKDIR]
#
# Needs qemu-system-x86 and OVMF on the host; apt-get downloads Debian's
# linux-image and busybox-static .debs into WORKDIR. Takes about 30 s.
# This is how test/fixtures/qemu-q35-tcg-uefi.tar.gz was made.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 OUTPUT.tar.gz [WORKDIR]" >&2; exit 2; }
OUTPUT=$(realpath -m "$1")
WORK=${2:-${TMPDIR:-/tmp}/hwdetect-qemu}
HERE=$(cd "$(dirname "$0")" && pwd)
OVMF=${OVMF:-/usr/share/qemu/OVMF.fd}
mkdir -p "$WORK" && cd "$WORK"

if ! ls linux-image-*.deb >/dev/null 2>&1; then
  kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -n 1)
  apt-get download "$kpkg" busybox-static
fi
rm -rf k bb initrd && mkdir -p k bb
dpkg-deb -x linux-image-*.deb k
dpkg-deb -x busybox-static_*.deb bb
BB=$PWD/bb/bin/busybox
KV=$(ls k/lib/modules)
M=k/lib/modules/$KV
"$BB" depmod -b k "$KV"

mkdir -p initrd/bin initrd/proc initrd/sys initrd/dev initrd/tmp "initrd/lib/modules/$KV"
cp "$BB" initrd/bin/busybox
for a in $("$BB" --list); do [ "$a" = busybox ] || ln -s busybox "initrd/bin/$a"; done
cp "$HERE/capture-sysfs.sh" initrd/bin/capture-sysfs

# The drivers of the emulated devices and their dependencies (modules.dep closure).
want="ahci nvme virtio_blk virtio_net virtio_pci e1000e snd-hda-intel bochs sd_mod virtio_rng"
closure=
add() {
  case " $closure " in *" $1 "*) return ;; esac
  closure="$closure $1"
  for d in $(sed -n "s|^$1: *||p" "$M/modules.dep"); do add "$d"; done
}
for w in $want; do
  path=$(grep -E "/$w\.ko:" "$M/modules.dep" | cut -d: -f1 | head -n 1)
  [ -n "$path" ] || path=$(grep -E "/$(echo "$w" | tr _ -)\.ko:" "$M/modules.dep" | cut -d: -f1 | head -n 1)
  add "$path"
done
for p in $closure; do
  mkdir -p "initrd/lib/modules/$KV/$(dirname "$p")"
  cp "$M/$p" "initrd/lib/modules/$KV/$p"
done
cp "$M"/modules.dep "$M"/modules.alias "$M"/modules.builtin "$M"/modules.symbols "initrd/lib/modules/$KV/"

cat >initrd/init <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in /sys/bus/pci/devices/*/modalias; do modprobe -q "$(cat "$m")" 2>/dev/null; done
for m in /sys/bus/virtio/devices/*/modalias; do modprobe -q "$(cat "$m")" 2>/dev/null; done
modprobe -q sd_mod
sleep 3
{ echo; echo '--- BEGIN CAPTURE ---'; capture-sysfs - | base64; echo '--- END CAPTURE ---'; } >/dev/ttyS1
sync
poweroff -f
INIT
chmod +x initrd/init
(cd initrd && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1) >initrd.gz
for d in nvme sata vd; do truncate -s 64M "$d.img"; done

rm -f console.log capture.b64
timeout 300 qemu-system-x86_64 -accel tcg -machine q35 -cpu max -smp 2 -m 768M \
  -bios "$OVMF" -kernel k/boot/vmlinuz-"$KV" -initrd initrd.gz -append "console=ttyS0 quiet panic=-1" \
  -display none -vga std -no-reboot \
  -serial file:console.log -serial file:capture.b64 \
  -audiodev none,id=snd0 -device intel-hda -device hda-duplex,audiodev=snd0 \
  -drive file=nvme.img,if=none,id=nvm,format=raw -device nvme,serial=hwdetect01,drive=nvm \
  -drive file=sata.img,if=none,id=sata0,format=raw -device ide-hd,drive=sata0,bus=ide.0 \
  -drive file=vd.img,if=virtio,format=raw \
  -netdev user,id=n0,restrict=on -device e1000e,netdev=n0 \
  -netdev user,id=n1,restrict=on -device virtio-net-pci,netdev=n1 \
  -device virtio-rng-pci

# OVMF paints escape sequences on every serial port, and the tty adds CRs: keep the payload only.
tr -d '\r' <capture.b64 | sed -n '/^--- BEGIN CAPTURE ---$/,/^--- END CAPTURE ---$/p' | sed '1d;$d' | base64 -d >"$OUTPUT.tmp"
gzip -t "$OUTPUT.tmp"
mv "$OUTPUT.tmp" "$OUTPUT"
echo "captured $OUTPUT (guest console log: $WORK/console.log)" >&2
