#!/bin/sh
# The image build's hwdetect hook, in two steps (see README.md, "In the image build"):
#
#   build-hook.sh plan  RESOLVED BUILD_DIR   after treefile-lint --resolve: plan for any hardware with
#                                            the treefile's hwdetect-policy → BUILD_DIR/hwdetect-plan.json,
#                                            and BUILD_DIR/treefile.json = RESOLVED + the plan's packages,
#                                            + its archive components on the Debian repos
#   build-hook.sh apply BUILD_DIR ROOTFS     after the rootfs (and, for an enabled policy, after the
#                                            debian-atomic-hwdetect package went into it), before its
#                                            initramfs is generated: kargs.d, modules-load.d,
#                                            dracut.conf.d, and the boot-time check enabled
#
# A treefile without hwdetect-policy plans nothing (treefile.json = RESOLVED) and applies nothing.
# Outputs are replaced only when their bytes change (make rebuilds only what changed); a changed
# plan also touches treefile.json.
# NODE overrides the node binary; needs jq.
set -eu
HWDETECT="${NODE:-node} $(cd "$(dirname "$0")/.." && pwd)/dist/bin.js"
usage() { echo "usage: $0 plan RESOLVED_TREEFILE BUILD_DIR | apply BUILD_DIR ROOTFS" >&2; exit 2; }
# Move $1.tmp to $1 unless it has the same bytes; true when $1 changed.
update() { if cmp -s "$1.tmp" "$1"; then rm -f "$1.tmp"; return 1; fi; mv -f "$1.tmp" "$1"; }
[ $# -eq 3 ] || usage
case $1 in
  plan)
    resolved=$2 out=$3
    [ -r "$resolved" ] || { echo "build-hook: $resolved: cannot read the resolved treefile" >&2; exit 2; }
    mkdir -p "$out"
    policy=$(jq -r '."hwdetect-policy" // empty' "$resolved")
    if [ -z "$policy" ]; then
      rm -f "$out/hwdetect-plan.json"
      cp "$resolved" "$out/treefile.json.tmp"
      update "$out/treefile.json" || true
      exit 0
    fi
    $HWDETECT plan --quiet --any-hardware --policy "$policy" --output "$out/hwdetect-plan.json.tmp"
    # The plan's packages after the treefile's own (no repeats); its components on the repos of the
    # Debian archive (those verified by its keyring), not on third-party ones.
    jq --slurpfile plan "$out/hwdetect-plan.json.tmp" '
      ($plan[0].packages | map(.name)) as $hw
      | ($plan[0].components) as $comp
      | .packages = ((.packages // []) + ($hw - (.packages // [])))
      | .repos = ((.repos // []) | map(if (.keyring // "" | test("debian-archive-keyring")) then .components = (.components + ($comp - .components)) else . end))
    ' "$resolved" >"$out/treefile.json.tmp"
    # A changed plan (kernel arguments, modules...) dates treefile.json too: make keys the rootfs on it.
    if update "$out/hwdetect-plan.json"; then plan_changed=yes; else plan_changed=no; fi
    update "$out/treefile.json" || true
    [ $plan_changed = no ] || touch "$out/treefile.json"
    ;;
  apply)
    plan=$2/hwdetect-plan.json root=$3
    [ -e "$plan" ] || exit 0
    $HWDETECT apply --quiet --plan "$plan" --root "$root" >/dev/null
    ;;
  *) usage ;;
esac
