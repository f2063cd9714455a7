/**
 * What a one-package update costs on the wire (bench/update-size.sh runs this): the e2e update
 * test's own steps, without a VM. v1 = the variant's commit from `make commit` (build/repo),
 * published GPG-signed; v2 = v1's tree plus trixie's `tree` .deb (installed with dpkg into the
 * image's database) committed with tools/ostree-commit --delta; then a bare-user repository
 * holding v1 pulls v2 from RepoServer, which counts the bytes it sends, with and without the
 * static delta. Prints one JSON object on stdout; progress on stderr.
 *
 * Run from a checkout where `make commit VARIANT=...` was done, with the tests' TypeScript loader:
 *   node --import=./scripts/tap/ts-import.mjs bench/update-size.ts
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RepoServer, type ServedRequest } from '../tools/e2e/src/serve.js';
import { BUILD, ROOT, commitInfo } from '../tools/e2e/test/fixtures/images.js';
import { UPDATE_DIR, cleanupUpdate, commitV2, measurePull, publishV1 } from '../tools/e2e/test/fixtures/update.js';
import { parseDirtree } from '../tools/oci-wrap/src/gvariant.js';
import { objectPath, readCommitTree } from '../tools/oci-wrap/src/tree.js';

/**
 * The least any transport of OSTree objects sends for v1 -> v2: every dirtree v2 has and v1 lacks
 * is fetched whole (a static delta too carries metadata objects whole, only compressed, and
 * builds none from v1's), and of its bytes the SHA-256 checksums of its entries do not compress:
 * 32 bytes for each distinct one (a repeated checksum, such as the common dirmeta, counted once).
 */
async function dirtreeFloor(repo: string, from: string, to: string) {
  const trees = async (commit: string) => new Set((await readCommitTree(repo, commit)).dirs.map((d) => d.tree));
  const old = await trees(from);
  const changed = [...(await trees(to))]
    .filter((sum) => !old.has(sum))
    .map((sum) => readFileSync(objectPath(repo, sum, 'dirtree')));
  const distinct = new Set<string>();
  for (const data of changed) {
    const t = parseDirtree(data);
    for (const f of t.files) distinct.add(f.checksum);
    for (const d of t.dirs) distinct.add(d.tree).add(d.meta);
  }
  return {
    dirtrees: changed.length,
    bytes: changed.reduce((n, d) => n + d.length, 0),
    checksumBytes: 32 * distinct.size,
  };
}

/** What a request fetched: an object type, a delta's superblock or part, or a repository file. */
function kind(path: string): string {
  const object = /^\/objects\/[0-9a-f]{2}\/[0-9a-f]{62}\.(\w+)$/.exec(path);
  if (object) return object[1]!;
  const delta = /^\/deltas\/.+\/(superblock|\d+)$/.exec(path);
  if (delta) return delta[1] === 'superblock' ? 'delta superblock' : 'delta part';
  if (path.startsWith('/delta-indexes/')) return 'delta index';
  return path.replace(/^\//, '');
}

/** Bytes and requests per kind, largest first. */
function breakdown(requests: ServedRequest[]): { kind: string; requests: number; bytes: number }[] {
  const by = new Map<string, { kind: string; requests: number; bytes: number }>();
  for (const r of requests) {
    const k = r.status === 200 ? kind(r.path) : `${r.status}`;
    const e = by.get(k) ?? { kind: k, requests: 0, bytes: 0 };
    e.requests++;
    e.bytes += r.bytes;
    by.set(k, e);
  }
  return [...by.values()].sort((a, b) => b.bytes - a.bytes || b.requests - a.requests);
}

const say = (s: string) => process.stderr.write(`update-size: ${s}\n`);
const { ref, commit: v1, timestamp } = commitInfo() as ReturnType<typeof commitInfo> & { timestamp: number };
const v1Repo = join(ROOT, 'build/repo');
say(`publishing v1 ${v1.slice(0, 12)} (${ref})`);
const rel = await publishV1({ v1Repo, ref, v1 });
const server = new RepoServer(rel.repo);
try {
  // v2 one hour after v1, as the update test makes it.
  process.env.SOURCE_DATE_EPOCH = String(timestamp + 3600);
  say('committing v2 (v1 + tree) with --delta');
  const up = await commitV2(rel, join(BUILD, 'rootfs'));
  if (!up.delta) throw new Error('v2 has no static delta from v1');
  const url = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}/`;
  const pull = async (noDelta: boolean) => {
    server.reset();
    say(`pulling v2 into a bare-user repository holding v1 (${noDelta ? 'no static delta' : 'static delta'})`);
    const bytes = await measurePull({ v1Repo, v1, ref, url, noDelta, served: () => server.bytes });
    return { bytes, requests: server.requests.length, by: breakdown(server.requests) };
  };
  const delta = await pull(false);
  const objects = await pull(true);
  const floor = await dirtreeFloor(rel.repo, v1, up.v2);
  process.stdout.write(
    `${JSON.stringify({ ref, v1, v2: up.v2, deb: up.deb, debBytes: up.debBytes, delta, objects, floor }, null, 2)}\n`,
  );
} finally {
  await server.close();
  cleanupUpdate(rel);
  // The published repository is a full copy of v1's objects: not kept.
  rmSync(UPDATE_DIR, { recursive: true, force: true });
}
