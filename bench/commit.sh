#!/usr/bin/env bash
# Issue "From treefile to OSTree commit": what do our stages cost over the bare Debian tools?
#
# In one run, on a copy of this checkout (fresh build/ and OSTree repository):
#   ours  `make commit VARIANT=...` cold: treefile-lint --resolve, rootfs (mmdebstrap + the
#         treefile applied), usr-unify (with its one dracut run), ostree-commit;
#   bare  the same work with the tools alone: mmdebstrap (same package set from the resolved
#         treefile, same apt cache hooks, the kernel's dracut hook diverted), dracut in the tree
#         (bubblewrap), `ostree init --mode=archive` (archive.zlib-level 1, as ostree-commit
#         makes a new repository) + `ostree commit` + `ostree summary -u`
#         from the toolbox;
#   noop  `make commit` again with nothing changed.
# Prints ours/bare (goal <= 1.1), the no-change rebuild (goal <= 10 s) and its ratio to the cold
# build, each with the load average at its start. Exit 0 even when a goal is missed (the numbers
# are the result); 1 when a build fails.
#
# Usage: bench/commit.sh [VARIANT]    (default base; KEEP=1 keeps the work directory;
#        ROUNDS=N repeats the cold pair N times, alternating which side runs first)
set -euo pipefail
BENCH_NAME=commit
bench_dir=$(cd "$(dirname "$0")" && pwd)
. "$bench_dir/lib.sh"
# link_debs: the .deb cache hooks, the same as ours (rootfs) and every helper tree
. "$bench_main/scripts/helper-tree.sh"

variant=${1:-base}
[ -f "$bench_main/variants/treefiles/$variant.yaml" ] || die "no variant $variant in $bench_main/variants/treefiles"
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap --mode=root, bubblewrap binds)"
bench_workdir commit
work=$BENCH_WORK
say "work directory $work, logs $BENCH_LOGS"
make_work_copy "$work/src"
make_prerequisites

# The treefile the Makefile's rootfs step builds (resolved, with the hardware policy's packages),
# made by the Makefile's own steps: the bare side builds the same package set as ours.
make -C "$work/src" --no-print-directory VARIANT="$variant" BUILD="$work/bare-build" plan >"$BENCH_LOGS/plan.log" 2>&1 || die "make plan failed (log: $BENCH_LOGS/plan.log)"
treefile=$work/bare-build/treefile.json

# --- the bare steps -----------------------------------------------------------------------
bare_mmdebstrap() {
  local target=$1 packages suite recommends
  packages=$(jq -r --arg a "$(jq -r .architecture "$treefile")" \
    '([.packages[], (.["packages-" + $a] // [])[]] - (.["exclude-packages"] // [])) | unique | join(",")' "$treefile")
  suite=$(jq -r .suite "$treefile")
  recommends=$(jq -r 'if .recommends then "true" else "false" end' "$treefile")
  local sources=()
  mapfile -t sources < <(jq -r '.repos[] | "deb " + (if .keyring then "[signed-by=\(.keyring)] " else "" end) + .mirror + " " + .suite + " " + (.components | join(" "))' "$treefile")
  local hook=/etc/kernel/postinst.d/dracut
  mmdebstrap --quiet --mode=root --variant="$(jq -r '.["mmdebstrap-variant"]' "$treefile")" \
    --architectures="$(jq -r .architecture "$treefile")" --include="$packages" \
    --aptopt="APT::Install-Recommends \"$recommends\"" --aptopt='Acquire::Retries "3"' \
    --dpkgopt=force-unsafe-io --skip=essential/unlink \
    --setup-hook="mkdir -p \"\$1\"/var/cache/apt/archives && $(link_debs "'$DEBIAN_ATOMIC_CACHE/apt'" '"$1"/var/cache/apt/archives')" \
    --essential-hook="chroot \"\$1\" dpkg-divert --quiet --local --rename --divert $hook.bare --add $hook && mkdir -p \"\$1\"/etc/kernel/postinst.d && printf '#!/bin/sh\nexit 0\n' > \"\$1\"$hook && chmod 755 \"\$1\"$hook" \
    --customize-hook="$(link_debs '"$1"/var/cache/apt/archives' "'$DEBIAN_ATOMIC_CACHE/apt'" -links 1)" \
    --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/*.bin' \
    "$suite" "$target" "${sources[@]}"
}

bare_dracut() {
  local root=$1 kver
  kver=$(ls "$root/usr/lib/modules")
  [ "$(printf '%s\n' "$kver" | wc -l)" = 1 ] || die "expected one kernel in $root/usr/lib/modules, found: $kver"
  bwrap --bind "$root" / --dev /dev --proc /proc --tmpfs /tmp --ro-bind /sys /sys --die-with-parent \
    --unshare-net --unshare-ipc --unshare-uts --unshare-pid --clearenv \
    --setenv PATH /usr/sbin:/usr/bin:/sbin:/bin --setenv LC_ALL C.UTF-8 --setenv SOURCE_DATE_EPOCH "$SOURCE_DATE_EPOCH" \
    -- dracut --no-hostonly --no-hostonly-cmdline --reproducible --add ostree --force --kver "$kver" \
    "/usr/lib/modules/$kver/initramfs.img"
}

bare_ostree_commit() {
  local root=$1 repo=$2 ref
  ref=$(jq -r .ref "$treefile")
  # ostree stores no device nodes, fifos or sockets: the least any commit of a root needs.
  find "$root" -xdev \( -type b -o -type c -o -type p -o -type s \) -delete
  mkdir -p "$repo"
  toolbox_run --bind "$repo" ostree --repo="$repo" init --mode=archive
  # The compression ostree-commit gives a new repository (its --zlib-level default): the same work.
  toolbox_run --bind "$repo" ostree --repo="$repo" config set archive.zlib-level 1
  toolbox_run --bind "$repo" --bind "$root" ostree --repo="$repo" commit --branch="$ref" --tree=dir="$root" \
    --skip-if-unchanged --timestamp="@$SOURCE_DATE_EPOCH" --subject="$ref"
  toolbox_run --bind "$repo" ostree --repo="$repo" summary -u
}

# substep NAME CMD...: time one bare step into $BENCH_STAGE_LOG, as stage-shell.sh does for make.
substep() {
  local name=$1 start
  shift
  start=$(date +%s.%N)
  "$@"
  awk -v a="$start" -v b="$(date +%s.%N)" -v n="$name" 'BEGIN { printf "%7.1f s  %s\n", b - a, n }' >>"$BENCH_STAGE_LOG"
}

bare() {
  rm -rf "$work/bare-root" "$work/bare-repo"
  substep mmdebstrap bare_mmdebstrap "$work/bare-root"
  substep dracut bare_dracut "$work/bare-root"
  substep 'ostree init+commit+summary' bare_ostree_commit "$work/bare-root" "$work/bare-repo"
  rm -rf "$work/bare-root"
}

# make runs every recipe line through stage-shell.sh, which logs its time: the stage breakdown.
ours() { make -C "$work/src" --no-print-directory SHELL="$bench_dir/stage-shell.sh" commit VARIANT="$variant"; }
ours_cold() {
  rm -rf "$work/src/build/$variant" "$work/src/build/repo"
  ours
}

# Rounds alternate the order (bare first, then ours first...) so that neither side always runs
# in the other's wake (page cache, the .deb cache); both start from the warm .deb cache.
rounds=${ROUNDS:-1}
sum_bare=0
sum_cold=0
per_round=()
for ((i = 1; i <= rounds; i++)); do
  if ((i % 2)); then order=(bare cold); else order=(cold bare); fi
  for side in "${order[@]}"; do
    export BENCH_STAGE_LOG=$BENCH_LOGS/$side-$i.stages
    if [ "$side" = bare ]; then timed "bare_$i" bare; else timed "cold_$i" ours_cold; fi
  done
  tb="t_bare_$i" tc="t_cold_$i"
  sum_bare=$(awk -v a="$sum_bare" -v b="${!tb}" 'BEGIN { print a + b }')
  sum_cold=$(awk -v a="$sum_cold" -v b="${!tc}" 'BEGIN { print a + b }')
  per_round+=("$(ratio "${!tc}" "${!tb}")")
done
export BENCH_STAGE_LOG=$BENCH_LOGS/noop.stages
timed noop ours
grep -q '"changed"' "$work/src/build/$variant/commit.json" || die "no commit.json after make commit"

r_cold=$(ratio "$sum_cold" "$sum_bare")
r_noop=$(ratio "$t_noop" "$(awk -v a="$sum_cold" -v n="$rounds" 'BEGIN { print a / n }')")
echo "== bench/commit.sh: make commit VARIANT=$variant vs bare tools ($(date -u +%FT%TZ), $(nproc) cores, $rounds round(s))"
for ((i = 1; i <= rounds; i++)); do
  tb="t_bare_$i" lb="load_bare_$i" tc="t_cold_$i" lc="load_cold_$i"
  result "round $i bare tools (cold)" "${!tb} s  (load ${!lb})"
  result "round $i make commit (cold)" "${!tc} s  (load ${!lc})  ours/bare ${per_round[$((i - 1))]} x"
done
result "ratio cold ours/bare" "$r_cold x  goal <= 1.10: $(verdict "$r_cold" 1.10)"
result "make commit (no change)" "$t_noop s  (load $load_noop)  goal <= 10 s: $(verdict "$t_noop" 10)"
result "ratio no-change/cold" "$r_noop x"
echo "  bare steps, round $rounds:"
stages bare
echo "  make commit recipe lines, round $rounds:"
stages cold
