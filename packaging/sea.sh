#!/usr/bin/env bash
# Build the single executable (Node SEA) dist/debian-atomic from the multi-call bundle
# (packaging/bundle.mjs) and this machine's node, offline: node --experimental-sea-config
# writes the blob, postject injects it into a copy of node. dist/<tool> are links to it
# (it dispatches on its name, or on its first argument: `debian-atomic treefile-lint ...`).
# Records the sizes in dist/SIZES. Usage: packaging/sea.sh [BUNDLE_DIR] [DIST_DIR]
set -eu
cd "$(dirname "$0")/.."
bundle=${1:-build/packaging/bundle}
dist=${2:-dist}
node=${NODE:-$(command -v node)}
node=$(readlink -f "$node")
# SEA needs a node built with the fuse (official and NodeSource builds; a node linked to libnode.so has none).
grep -q NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 "$node" || { echo "sea: $node has no SEA fuse: cannot build single executables with it" >&2; exit 1; }
work=build/packaging/sea
mkdir -p "$work" "$dist"
# The SEA runs the script as CommonJS without a shebang line.
sed '1{/^#!/d}' "$bundle/debian-atomic.cjs" >"$work/debian-atomic.cjs"
cat >"$work/sea-config.json" <<JSON
{ "main": "$work/debian-atomic.cjs", "output": "$work/debian-atomic.blob", "disableExperimentalSEAWarning": true }
JSON
"$node" --experimental-sea-config "$work/sea-config.json" >&2
tmp="$dist/.debian-atomic.$$"
trap 'rm -f "$tmp"' EXIT
cp "$node" "$tmp"
chmod u+w "$tmp"
# postject (LIEF) warns about every unnamed ELF note of node's; they are harmless, keep the rest.
node_modules/.bin/postject "$tmp" NODE_SEA_BLOB "$work/debian-atomic.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 2>&1 >/dev/null | { grep -v "^warning: Can't find string offset for section name" || true; } >&2
mv "$tmp" "$dist/debian-atomic"
trap - EXIT
for t in $(node -e 'import("./packaging/tools.mjs").then((m) => console.log(m.TOOL_NAMES.join(" ")))'); do
  ln -sfn debian-atomic "$dist/$t"
done
{
  echo "# Single executables built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $("$node" --version) ($node)"
  printf '%s\t%s\n' "$(stat -c %s "$dist/debian-atomic")" debian-atomic
  printf '%s\t%s\n' "$(stat -c %s "$node")" "node (the runtime inside)"
  printf '%s\t%s\n' "$(stat -c %s "$work/debian-atomic.cjs")" "script (the bundle inside)"
} >"$dist/SIZES"
cat "$dist/SIZES" >&2
