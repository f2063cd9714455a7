# Shared by the benches (sourced, not run). The machine is shared with other builds and VMs,
# so a bench never judges a wall-clock time on its own: it prints RATIOS between runs made
# in the same invocation, each next to the load average seen when it started.
#
# Results go to stdout as "key: value" lines; progress and the tools' own output to stderr
# (and to $BENCH_LOGS, kept after the run).

bench_main=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The bench's name (progress lines, work and log directories): its script's unless it says.
: "${BENCH_NAME:=$(basename "$0" .sh)}"
: "${DEBIAN_ATOMIC_CACHE:=$HOME/.cache/debian-atomic}"
export DEBIAN_ATOMIC_CACHE
# Same epoch for our build and the bare steps: the Makefile's default, taken from this checkout
# (the copy the benches build in has no .git).
: "${SOURCE_DATE_EPOCH:=$(git -C "$bench_main" log -1 --format=%ct 2>/dev/null || echo 0)}"
export SOURCE_DATE_EPOCH

say() { printf '%s: %s\n' "${BENCH_NAME:-bench}" "$*" >&2; }
die() { say "error: $*"; exit 1; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# timed NAME CMD...: run CMD (output to $BENCH_LOGS/NAME.log), set t_NAME (seconds), cpu_NAME
# (user + system seconds of CMD and every process it waited for) and load_NAME (load average at
# the start). A failing step stops the bench: a ratio against a half-done build would mean nothing.
timed() {
  local name=$1
  shift
  local load start end
  load=$(loadavg)
  say "$name: start (load $load)"
  start=$(date +%s.%N)
  # Not under `if`: bash would ignore set -e in everything the command runs.
  local rc
  set +e
  (
    set -e
    "$@"
    # The subshell's own CPU time and its children's: "XmY.YYYs XmY.YYYs" (user, system), two lines.
    times >"$BENCH_LOGS/$name.times"
  ) >"$BENCH_LOGS/$name.log" 2>&1
  rc=$?
  set -e
  if [ "$rc" != 0 ]; then
    tail -n 30 "$BENCH_LOGS/$name.log" >&2
    die "$name failed (exit $rc, log: $BENCH_LOGS/$name.log)"
  fi
  end=$(date +%s.%N)
  printf -v "t_$name" '%s' "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')"
  printf -v "load_$name" '%s' "$load"
  printf -v "cpu_$name" '%s' "$(awk '{ for (i = 1; i <= NF; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] } } END { printf "%.1f", s }' "$BENCH_LOGS/$name.times")"
  local t="t_$name"
  say "$name: ${!t} s"
}

# stages SIDE: the longest lines (>= 0.5 s, at most 6) of $BENCH_LOGS/SIDE-$rounds.stages, the last
# round's stage log (stage-shell.sh for make's recipe lines, substep for bare steps), indented for
# the summary block, without make's steps-log variable.
stages() { sort -rn "$BENCH_LOGS/$1-$rounds.stages" | awk '$1 >= 0.5' | head -n 6 | sed -E 's/^ */    /; s/DEBIAN_ATOMIC_STEPS=[^ ]+ //'; }

# ratio A B: A / B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# verdict RATIO GOAL: "ok" when RATIO <= GOAL.
verdict() { awk -v r="$1" -v g="$2" 'BEGIN { print (r != "n/a" && r <= g) ? "ok" : "MISSED" }'; }
# result KEY VALUE...: one line of the summary block on stdout.
result() {
  local key=$1
  shift
  printf '%-28s %s\n' "$key:" "$*"
}

# A copy of the working tree (without build/ and .git) to build in, so the bench neither
# disturbs nor reuses build/ of the checkout others work in. node_modules and tools/*/dist are
# copied as they are (never `npm install`); the TypeScript is compiled before any timing.
make_work_copy() {
  local dest=$1
  mkdir -p "$dest"
  tar -C "$bench_main" --exclude=./build --exclude=./.git -cf - . | tar -C "$dest" -xf -
  local stamp sum
  stamp=$(cat "$dest/node_modules/.deps-stamp" 2>/dev/null || true)
  sum=$(sha256sum "$dest/package-lock.json" | cut -d' ' -f1)
  # make deps would run `npm ci` in the copy when the lock moved on since the last install: not
  # part of what we measure, and never the bench's to run. The copy uses node_modules as it is.
  if [ "$stamp" != "$sum" ]; then
    say "warning: node_modules was installed for another package-lock.json; the copy uses it as it is (run 'make deps' in $bench_main to refresh it)"
    echo "$sum" >"$dest/node_modules/.deps-stamp"
  fi
  say "compiling the TypeScript in $dest (not timed)"
  make -C "$dest" --no-print-directory build/.tsc-stamp >"$BENCH_LOGS/tsc.log" 2>&1 || die "tsc failed (log: $BENCH_LOGS/tsc.log)"
  BENCH_SRC=$dest
}

# make_prerequisites: what every timed `make` needs in place before timing, as a user's machine has
# it after its first build: deps, the trixie toolbox, and this checkout's own tool .debs (make debs:
# atomic and hwdetect are installed into the image; bundling and packaging them is about a minute
# that mkosi, installing packages from the archive, has no counterpart for). make still runs their
# up-to-date checks inside the timed build, as a user's build does.
make_prerequisites() {
  make -C "$work/src" --no-print-directory toolbox debs >"$BENCH_LOGS/toolbox.log" 2>&1 ||
    die "make toolbox debs failed (log: $BENCH_LOGS/toolbox.log)"
}

# sandbox OPTION... -- CMD...: tools/lib's debian-atomic-sandbox, the bubblewrap recipe of
# tools/lib/src/sandbox.ts (--read-only-root: a tree's usr, etc and opt read-only, its top-level
# links), from the work copy once make_work_copy compiled it.
sandbox() { node "${BENCH_SRC:-$bench_main}/tools/lib/dist/sandbox-bin.js" "$@"; }

# toolbox_run [--bind DIR]... CMD...: a command from the trixie toolbox with the toolbox's
# system directories as a read-only root.
toolbox_run() {
  local args=(--root "${DEBIAN_ATOMIC_TOOLBOX:-$DEBIAN_ATOMIC_CACHE/toolbox}" --read-only-root)
  while [ "${1:-}" = --bind ]; do
    args+=(--bind "$2")
    shift 2
  done
  sandbox "${args[@]}" -- "$@"
}

# bench_start VARIANT WHY: stop unless variants/treefiles/VARIANT.yaml exists and we run as root
# (WHY says what needs root); then set variant and make the run's work directory (work, and
# BENCH_WORK and BENCH_LOGS as bench_workdir does) named after $BENCH_NAME.
bench_start() {
  variant=$1
  [ -f "$bench_main/variants/treefiles/$variant.yaml" ] || die "no variant $variant in $bench_main/variants/treefiles"
  [ "$(id -u)" = 0 ] || die "run as root ($2)"
  bench_workdir "$BENCH_NAME"
  work=$BENCH_WORK
  say "work directory $work, logs $BENCH_LOGS"
}

# An empty directory for one bench run, removed on exit unless KEEP=1.
bench_workdir() {
  BENCH_WORK=$(mktemp -d "${BENCH_TMP:-/var/tmp}/debian-atomic-bench-$1.XXXXXX")
  # Logs outlive the work directory: the last run's stay for a look.
  BENCH_LOGS=${BENCH_LOGS:-${BENCH_TMP:-/var/tmp}/debian-atomic-bench-logs/$1}
  rm -rf "$BENCH_LOGS"
  mkdir -p "$BENCH_LOGS"
  [ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$BENCH_WORK"' EXIT
}

# bench_base_commit VARIANT refresh|reuse: the variant's commit from `make commit VARIANT`, built
# (under nice: it is input, not what is timed) in a copy of this checkout kept between runs and
# shared by the benches that need a commit, at $BENCH_TMP/debian-atomic-bench-base (not removed by
# KEEP=0: the first build takes minutes, a rebuild with nothing changed seconds; a change to what
# the image carries, the treefiles or the on-target tools' code, starts again from mmdebstrap).
# refresh: the copy takes this checkout's files again and make rebuilds what changed; reuse: a
# commit already there is used as it is. Sets base_src (the copy), base_build (its build/VARIANT: rootfs, commit.json)
# and base_repo (its archive repository).
bench_base_commit() {
  local variant=$1 mode=$2
  base_src=${BENCH_TMP:-/var/tmp}/debian-atomic-bench-base
  base_build=$base_src/build/$variant
  base_repo=$base_src/build/repo
  if [ "$mode" = reuse ] && [ -f "$base_build/commit.json" ] && [ -d "$base_build/rootfs" ]; then
    say "using the commit in $base_build (built $(date -r "$base_build/commit.json" -u +%FT%TZ))"
    return
  fi
  # Everything but build/ and debs/ (make's outputs) is this checkout's again (files deleted here
  # go there too).
  if [ -d "$base_src" ]; then find "$base_src" -mindepth 1 -maxdepth 1 ! -name build ! -name debs -exec rm -rf {} +; fi
  local saved=${BENCH_SRC:-}
  make_work_copy "$base_src"
  BENCH_SRC=$saved
  say "make commit VARIANT=$variant in $base_src (nice 19, not timed; log: $BENCH_LOGS/base-commit.log)"
  nice -n 19 make -C "$base_src" --no-print-directory VARIANT="$variant" commit >"$BENCH_LOGS/base-commit.log" 2>&1 ||
    die "make commit failed (log: $BENCH_LOGS/base-commit.log)"
}

# mkosi_bench_start VARIANT: bench_start, a work copy of this checkout in $work/src with its
# toolbox, and the mkosi project of the variant (mkosi_project): the start of the benches against mkosi.
mkosi_bench_start() {
  bench_start "$1" "mmdebstrap --mode=root, mkosi, bubblewrap"
  make_work_copy "$work/src"
  make_prerequisites
  mkosi_project "$variant"
}

# mkosi_project VARIANT: the peer's side of the mkosi benches (bench/mkosi.sh, bench/boot.sh).
# mkosi 25 (trixie) runs from a trixie tree through bubblewrap (bench/mkosi-tree.sh builds it
# once; bookworm's mkosi 14 is too old). Generates, in $work/mkosi, the mkosi project of the
# equivalent image from the variant's resolved treefile (the Makefile's own `plan` steps, in the
# work copy $work/src): the same packages plus systemd-boot-efi, trixie main only, Format=disk,
# UEFI with systemd-boot, the treefile's kernel arguments. Defines mkosi_run (mkosi in the tree,
# in the project) and sets out (mkosi's output directory: image.raw) and treefile. When mkosi's
# package cache is empty an untimed warm-up build fills it: ours starts from a warm .deb cache.
mkosi_project() {
  local variant=$1
  mkosi_tree=${MKOSI_TREE:-$DEBIAN_ATOMIC_CACHE/mkosi-tree}
  mkosi_packages=$DEBIAN_ATOMIC_CACHE/mkosi-packages
  MKOSI_TREE=$mkosi_tree "$bench_main/bench/mkosi-tree.sh" || die "building the mkosi tree failed"
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
}
