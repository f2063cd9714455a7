#!/usr/bin/env bash
# make run: boot an image in QEMU (OVMF, TCG) with the serial console on this terminal, as
# `mkosi qemu` does, and log in without any password or autologin baked into the image:
#   - the guest's writes go to a throwaway qcow2 overlay: the image on disk is not changed;
#   - systemd credentials passed through SMBIOS (type 11), read only by this boot:
#     agetty.autologin=root + login.noauth=yes (the serial getty imports agetty.* and login.*,
#     systemd >= 256) and ssh.authorized_keys.root (systemd's tmpfiles.d/provision.conf);
#   - SSH forwarded from a free port on 127.0.0.1, printed at start, with a key kept in
#     build/run/ (and the invoking user's own ~/.ssh/*.pub keys).
#   - a desktop (TREEFILE's default target is graphical.target) also gets a screen: QEMU's own
#     window when this session has a display ($DISPLAY or $WAYLAND_DISPLAY) and QEMU's GTK UI is
#     installed (qemu-system-gui), else a VNC server on a free port of 127.0.0.1, printed at start.
#     RUN_DISPLAY=gtk|vnc|none overrides. It gets 4 GiB and a Nehalem CPU (x86-64-v2): under
#     TCG, -cpu max crashes llvmpipe, the greeter's software GL, and avx2=off makes libgcrypt
#     die of SIGILL.
# Ctrl-a x quits QEMU (Ctrl-a h: QEMU's console help). Usage: run-vm.sh IMAGE [qcow2|raw [TREEFILE]]
set -eu
image=${1:?usage: run-vm.sh IMAGE [qcow2|raw [TREEFILE]]}
format=${2:-qcow2}
treefile=${3:-}
say() { printf 'run: %s\n' "$*" >&2; }
[ -f "$image" ] || { say "$image: no such image (build it with make, or make VARIANT=...)"; exit 2; }
for f in /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd; do
  [ -f "$f" ] || { say "$f missing: apt-get install ovmf (make deps does)"; exit 2; }
done
command -v qemu-system-x86_64 >/dev/null || { say "qemu-system-x86_64 missing: make deps installs qemu-system-x86"; exit 2; }

keydir=${RUN_KEY_DIR:-build/run}
mkdir -p "$keydir"
[ -f "$keydir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C debian-atomic-run -f "$keydir/id_ed25519"
keys=$(cat "$keydir/id_ed25519.pub" "$HOME"/.ssh/id_*.pub 2>/dev/null | grep -E '^(ssh-|ecdsa-|sk-)' || true)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/debian-atomic-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
qemu-img create -q -f qcow2 -b "$(realpath "$image")" -F "$format" "$tmp/overlay.qcow2"
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$tmp/vars.fd"
port=${RUN_SSH_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

# No screen (-nographic: the serial console and QEMU's monitor on this terminal), or a desktop's.
screen=(-nographic)
cpu=max
memory=2048
display=none
if [ -n "$treefile" ] && [ "$(jq -r '."default-target" // empty' "$treefile" 2>/dev/null)" = graphical.target ]; then
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -e /usr/lib/x86_64-linux-gnu/qemu/ui-gtk.so ]; then display=gtk; else display=vnc; fi
  cpu=Nehalem
  memory=4096
fi
display=${RUN_DISPLAY:-$display}
case $display in
  none) ;;
  gtk) screen=(-serial mon:stdio -vga std -display gtk) ;;
  vnc)
    # The first port of VNC's range (5900 + display number) that nothing on 127.0.0.1 holds.
    vnc=$(python3 -c 'import socket
for p in range(5900, 6000):
    s = socket.socket()
    try: s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass')
    [ -n "$vnc" ] || { say "no free VNC port in 5900-5999 on 127.0.0.1"; exit 2; }
    screen=(-serial mon:stdio -vga std -display "vnc=127.0.0.1:$((vnc - 5900))")
    ;;
  *) say "RUN_DISPLAY=$display: expected gtk, vnc or none"; exit 2 ;;
esac

cred() { printf 'type=11,value=io.systemd.credential.binary:%s=%s' "$1" "$(printf '%s' "$2" | base64 -w0)"; }
say "booting $image (TCG: a minute or more to the login); the image itself is not changed"
say "serial console on this terminal, logged in as root; Ctrl-a x quits"
say "ssh -i $keydir/id_ed25519 -p $port -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1"
[ "$display" != gtk ] || say "the screen is in QEMU's window"
[ "$display" != vnc ] || say "the screen: a VNC viewer on 127.0.0.1:$vnc (vncviewer 127.0.0.1::$vnc)"
# RUN_TIMEOUT (seconds) bounds the session, for tests; interactive sessions have none.
${RUN_TIMEOUT:+timeout --foreground -k 5 "$RUN_TIMEOUT"} qemu-system-x86_64 \
  -accel tcg -cpu "${RUN_CPU:-$cpu}" -m "${RUN_MEMORY:-$memory}" -smp 2 -machine q35 "${screen[@]}" \
  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
  -drive "if=pflash,format=raw,file=$tmp/vars.fd" \
  -drive "if=virtio,format=qcow2,file=$tmp/overlay.qcow2" \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=n0 \
  -device virtio-rng-pci \
  -smbios "$(cred agetty.autologin root)" -smbios "$(cred login.noauth yes)" \
  -smbios "$(cred ssh.authorized_keys.root "$keys
")"
