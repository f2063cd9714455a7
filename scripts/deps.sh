#!/usr/bin/env bash
# Install what the project needs on a Debian machine, idempotently:
# Debian packages (only the missing ones), npm dependencies (only when the lock changed),
# and, on a host older than trixie, the trixie toolbox tree (ostree 2025.x, GRUB...).
set -eu
cd "$(dirname "$0")/.."
# Host tools: the real Debian tools every stage calls.
pkgs=(mmdebstrap bubblewrap qemu-system-x86 qemu-utils ovmf e2fsprogs dosfstools mtools fdisk
      skopeo umoci jq xz-utils zstd uidmap ca-certificates debian-archive-keyring curl openssh-client
      python3 docker-registry lintian help2man sbsigntool
      dpkg-dev gnupg  # dpkg-scanpackages and gpg: the signed apt repositories of the layering tests
      chromium)  # headless: tools/report's test renders report.html and checks its screenshot
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]} (apt-get; about 2 minutes on a fresh machine)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # apt's and dpkg's hundreds of lines go to a log; on failure its end is shown.
  mkdir -p build
  log=build/deps-apt.log
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 25 "$log" >&2
    echo "deps: apt-get failed (full log: $log)" >&2
    exit 1
  fi
fi
# npm: reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.deps-stamp
sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "deps: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$sum" >"$stamp"
fi
