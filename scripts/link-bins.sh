#!/usr/bin/env bash
# Link every tool's bin into node_modules/.bin once its dist/ exists. npm links workspace bins at
# `npm ci` time only when their targets exist, and dist/ is built after that, so in a fresh clone
# `npx treefile-lint` would find nothing without this.
set -eu
cd "$(dirname "$0")/.."
exec node -e '
const fs = require("fs"), path = require("path");
const binDir = "node_modules/.bin";
fs.mkdirSync(binDir, { recursive: true });
for (const tool of fs.readdirSync("tools")) {
  let pkg;
  try { pkg = JSON.parse(fs.readFileSync(path.join("tools", tool, "package.json"), "utf8")); } catch { continue; }
  const bins = typeof pkg.bin === "string" ? { [pkg.name.replace(/^@[^/]+\//, "")]: pkg.bin } : pkg.bin ?? {};
  for (const [name, rel] of Object.entries(bins)) {
    const target = path.join("tools", tool, rel);
    if (!fs.existsSync(target)) { console.error(`link-bins: ${target} missing (tsc did not build ${tool}?)`); process.exit(1); }
    fs.chmodSync(target, 0o755);
    const link = path.join(binDir, name), rel2 = path.relative(binDir, target);
    let cur = null; try { cur = fs.readlinkSync(link); } catch {}
    if (cur === rel2) continue;
    fs.rmSync(link, { force: true });
    fs.symlinkSync(rel2, link);
  }
}'
