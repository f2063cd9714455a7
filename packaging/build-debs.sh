#!/usr/bin/env bash
# One Debian binary package per tool, debian-atomic-<tool> (Architecture: all), with dpkg-deb:
#   /usr/bin/<tool>                                   the esbuild bundle (packaging/bundle.mjs), #!/usr/bin/node
#   /usr/share/man/man1/<tool>.1da.gz                 help2man, from the tool's --help (+ subcommands)
#   /usr/share/bash-completion/completions/<tool>     from --help (packaging/docs.mjs)
#   /usr/share/doc/debian-atomic-<tool>/{copyright,changelog.gz}
#   /usr/lib/systemd/system/hwdetect.service          hwdetect only: its boot-time check, not enabled
#   /usr/libexec/hwdetect/capture-sysfs              hwdetect only: the sysfs capture script of its test fixtures
#   /usr/lib/systemd/system/atomic-automatic-update.{timer,service}, /etc/atomic/atomic.conf
#                                                     atomic only: automatic updates (the timer is on; the
#                                                     policy in atomic.conf says what it does: none by default)
# Depends: nodejs (>= 20) and the Debian tools it runs (packaging/tools.mjs). Then lintian on each
# (needs lintian and help2man: apt-get install lintian help2man).
# Package names carry the project prefix: the commands (rootfs, hwdetect...) are generic words,
# the prefix keeps them from claiming a name Debian may give another package.
# Usage: packaging/build-debs.sh [OUT_DIR]   (default debs/; needs the bundles in build/packaging/bundle)
set -eu
cd "$(dirname "$0")/.."
out=${1:-debs}
bundle=build/packaging/bundle
stage=build/packaging/deb
version=$(node -p 'require("./package.json").version')
maintainer=${DEBIAN_ATOMIC_MAINTAINER:-"Debian Atomic maintainers <debian-atomic@lists.debian.net>"}
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$epoch
tools=$(node -e 'import("./packaging/tools.mjs").then((m) => console.log(m.TOOL_NAMES.join(" ")))')
rm -rf "$stage"
mkdir -p "$stage" "$out"
for tool in $tools; do
  pkg=debian-atomic-$tool
  root=$stage/$pkg
  doc=$root/usr/share/doc/$pkg
  mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" "$doc" "$root/usr/share/lintian/overrides"
  install -m 0755 "$bundle/$tool.cjs" "$root/usr/bin/$tool"

  # help2man runs the program by its name; a wrapper named like the tool runs the bundle.
  wrap=$stage/.bin/$tool
  mkdir -p "${wrap%/*}"
  # yargs right-aligns "[boolean] [default: false]"; pulled back to the text, it reads well in a man page.
  printf '#!/bin/sh\nnode %q "$@" | sed -E "s/([^ ]) {2,}(\\[[a-z])/\\1 \\2/"\n' "$PWD/$bundle/$tool.cjs" >"$wrap"
  chmod +x "$wrap"
  node packaging/docs.mjs man-include "$tool" "$bundle/$tool.cjs" >"$stage/$tool.h2m"
  summary=$(node -p "require('./tools/$tool/package.json').description")
  # Section 1da (as openssl's 1ssl): ostree owns ostree-commit.1 (`ostree commit`, git-style);
  # `man TOOL` still finds every page, `man 1da ostree-commit` finds ours.
  COLUMNS=100 help2man --no-info --section=1da --version-string="$version" --source="Debian Atomic" \
    --manual="Debian Atomic" --name="$summary" --include="$stage/$tool.h2m" "$wrap" >"$stage/$tool.1da"
  gzip -9n <"$stage/$tool.1da" >"$root/usr/share/man/man1/$tool.1da.gz"
  node packaging/docs.mjs completion "$tool" "$bundle/$tool.cjs" >"$root/usr/share/bash-completion/completions/$tool"

  date=$(date -u -R -d "@$epoch")
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from the Debian Atomic sources (commit %s).\n\n -- %s  %s\n' \
    "$pkg" "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$maintainer" "$date" | gzip -9n >"$doc/changelog.gz"
  node packaging/copyright.mjs "$bundle/$tool.licenses.json" >"$doc/copyright"
  cat >"$root/usr/share/lintian/overrides/$pkg" <<OVR
# Built from the project's own sources outside the Debian archive: there is no ITP bug to close.
$pkg: initial-upload-closes-no-bugs
OVR
  if [ "$tool" = usr-unify ]; then cat >>"$root/usr/share/lintian/overrides/$pkg" <<OVR
# usr-unify moves the dpkg database of the tree it prepares (/var/lib/dpkg to /usr/lib/sysimage/dpkg);
# it never reads or changes the database of the system it runs on.
$pkg: uses-dpkg-database-directly [usr/bin/usr-unify]
OVR
  fi

  if [ "$tool" = atomic ]; then cat >>"$root/usr/share/lintian/overrides/$pkg" <<OVR
# atomic db diff/list read the dpkg database that OSTree commits carry (ostree cat COMMIT
# /usr/lib/sysimage/dpkg/status), to compare deployments; atomic bootloader reads a deployment's
# (the versions of shim and GRUB it carries). It never writes one.
$pkg: uses-dpkg-database-directly [usr/bin/atomic]
OVR
  fi

  if [ "$tool" = hwdetect ]; then
    # The boot-time unit, run from the package. Not enabled here: `hwdetect apply` links it into
    # multi-user.target.wants for images whose policy says `enabled: true` (and it needs the policy file).
    mkdir -p "$root/usr/lib/systemd/system"
    sed 's|^ExecStart=/usr/bin/node /usr/lib/hwdetect/dist/bin.js |ExecStart=/usr/bin/hwdetect |' \
      tools/hwdetect/data/hwdetect.service >"$root/usr/lib/systemd/system/hwdetect.service"
    grep -q '^ExecStart=/usr/bin/hwdetect ' "$root/usr/lib/systemd/system/hwdetect.service" ||
      { echo "debs: tools/hwdetect/data/hwdetect.service: ExecStart changed: update packaging/build-debs.sh" >&2; exit 1; }
    # The fixture capture script (tools/hwdetect/README.md): snapshot this machine's sysfs for tests.
    install -D -m 0755 tools/hwdetect/scripts/capture-sysfs.sh "$root/usr/libexec/hwdetect/capture-sysfs"
  fi
  if [ "$tool" = atomic ]; then
    units=$root/usr/lib/systemd/system
    mkdir -p "$units/timers.target.wants" "$root/etc/atomic" "$root/DEBIAN"
    install -m 0644 tools/atomic/data/atomic-automatic-update.service tools/atomic/data/atomic-automatic-update.timer "$units/"
    # Statically wanted (no maintainer scripts, images are built without running any): the timer
    # always runs; AutomaticUpdatePolicy=none (the default) makes each run a no-op, as rpm-ostreed's.
    ln -s ../atomic-automatic-update.timer "$units/timers.target.wants/atomic-automatic-update.timer"
    install -m 0644 tools/atomic/data/atomic.conf "$root/etc/atomic/atomic.conf"
    echo /etc/atomic/atomic.conf >"$root/DEBIAN/conffiles"
  fi
  depends=$(node -e 'import("./packaging/tools.mjs").then((m) => console.log(["nodejs (>= 20)", ...m.TOOLS[process.argv[1]].depends].join(", ")))' "$tool")
  recommends=$(node -e 'import("./packaging/tools.mjs").then((m) => console.log((m.TOOLS[process.argv[1]].recommends ?? []).join(", ")))' "$tool")
  size=$(du -k -s --apparent-size "$root" | cut -f1)
  cat >"$root/DEBIAN/control" <<CTL
Package: $pkg
Version: $version
Architecture: all
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
${recommends:+Recommends: $recommends
}Section: admin
Priority: optional
Description: Debian Atomic: $tool
 $(fold -s -w 78 <<<"$summary." | sed 's/ *$//; 2,$s/^/ /')
 .
 One stage of Debian Atomic, image-based Debian on OSTree. It reads JSON, YAML
 or a directory, writes JSON on stdout and diagnostics on stderr, and exits 0
 (ok), 1 (failure or findings), 2 (usage) or 130 (interrupted).
CTL
  (cd "$root" && find usr $([ -d etc ] && echo etc) -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
  find "$root" -exec touch -h -d "@$epoch" {} +
  find "$root" -type d -exec chmod 0755 {} +
  find "$root/usr/share" -type f -exec chmod 0644 {} +
  dpkg-deb --root-owner-group -Zxz --build "$root" "$out/${pkg}_${version}_all.deb" >/dev/null
  echo "debs: $out/${pkg}_${version}_all.deb" >&2
done
# Errors and warnings fail the build; info tags are reported only. The report stays beside the
# .debs (lintian.txt) for the packaging tests to check without running lintian again.
lintian --fail-on error,warning --tag-display-limit 0 "$out"/debian-atomic-*_"$version"_all.deb 2>&1 |
  grep -v '^running with root privileges' | tee "$out/lintian.txt" >&2
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || { echo "debs: lintian found errors or warnings (above)" >&2; rm -f "$out/lintian.txt"; exit 1; }
echo "debs: lintian: $(grep -c . "$out/lintian.txt" || true) tags, none error or warning" >&2
