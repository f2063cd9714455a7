# Sourced (not run) by every script that builds a helper tree with mmdebstrap: the toolbox
# (scripts/toolbox.sh), trixie's podman (scripts/podman.sh), the packaging test tree
# (packaging/install-test-tree.sh), bench/mkosi-tree.sh and scripts/fresh-machine-test.sh.
# One recipe: the .debs apt downloads are kept in $DEBIAN_ATOMIC_CACHE/apt between builds
# (shared with rootfs, which keeps the same cache), and a kept tree is built beside its place
# and renamed into it. Shell, not a tools/lib bin: these scripts run before any TypeScript is
# compiled (make toolbox and make podman need only make deps; a fresh machine has nothing).

: "${DEBIAN_ATOMIC_CACHE:=$HOME/.cache/debian-atomic}"
: "${MIRROR:=http://deb.debian.org/debian}"

# link_debs FROM TO [-links 1]: shell for an mmdebstrap hook, the same as linkDebs() of
# tools/rootfs/src/mmdebstrap.ts: the *.deb files directly in FROM hard-linked into TO (copied when
# TO is on another filesystem), with "-links 1" only those apt downloaded. mmdebstrap(1)'s
# sync-in/sync-out would copy the whole cache both ways, gigabytes once desktops are cached.
link_debs() {
  local each="find $1 -maxdepth 1 -type f -name '*.deb'${3:+ $3 ${4:-}} -exec"
  printf '{ %s cp -l -f -t %s -- {} + 2>/dev/null || %s cp -p --remove-destination -t %s -- {} +; }' "$each" "$2" "$each" "$2"
}

# mmdebstrap_cached SUITE TARGET [MMDEBSTRAP_OPTION...]: mmdebstrap --quiet of SUITE from $MIRROR
# into TARGET, the archive cache linked in before and what apt downloaded linked out after the
# options' own hooks, and the .debs left out of the tree.
mmdebstrap_cached() {
  local suite=$1 target=$2
  shift 2
  mkdir -p "$DEBIAN_ATOMIC_CACHE/apt"
  mmdebstrap --quiet \
    --setup-hook="mkdir -p \"\$1\"/var/cache/apt/archives && $(link_debs "'$DEBIAN_ATOMIC_CACHE/apt'" '"$1"/var/cache/apt/archives')" \
    "$@" \
    --customize-hook="$(link_debs '"$1"/var/cache/apt/archives' "'$DEBIAN_ATOMIC_CACHE/apt'" -links 1)" \
    --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
    "$suite" "$target" "$MIRROR"
}

# helper_tree DIR NAME PACKAGES [LAYOUT [MMDEBSTRAP_OPTION...]]: DIR, a trixie tree (variant apt)
# with PACKAGES (comma-separated), built again only when PACKAGES, $MIRROR or LAYOUT (bumped when
# the way the tree is built changes) differ from the key in DIR/.NAME-key. A failed or
# interrupted build leaves the previous tree as it was.
helper_tree() {
  local dir=$1 name=$2 packages=$3 layout=${4:-}
  shift 3
  [ $# -eq 0 ] || shift
  local key
  key=$(printf '%s' "$packages $MIRROR${layout:+ $layout}" | sha256sum | cut -d' ' -f1)
  if [ -f "$dir/.$name-key" ] && [ "$(cat "$dir/.$name-key")" = "$key" ]; then return 0; fi
  local tmp="$dir.new.$$"
  rm -rf "$tmp"
  # shellcheck disable=SC2064 # the path is fixed now
  trap "rm -rf '$tmp'" EXIT
  echo "$name: building a trixie tree with $packages at $dir" >&2
  mmdebstrap_cached trixie "$tmp" --variant=apt --include="$packages" "$@" >&2
  echo "$key" >"$tmp/.$name-key"
  rm -rf "$dir.old"
  [ ! -e "$dir" ] || mv "$dir" "$dir.old"
  mv "$tmp" "$dir"
  rm -rf "$dir.old"
  trap - EXIT
}
