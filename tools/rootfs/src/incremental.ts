/**
 * `rootfs --incremental`: mkosi's --incremental for the package set. The tree mmdebstrap made
 * (before the treefile is applied) is kept in the cache, keyed by every input of the mmdebstrap
 * run except the package list. A later build with the same key and a package set that contains
 * the cached one starts from a copy of that tree and apt-installs only what was added
 * (tree-apt.ts); anything else is built from scratch, with one line on stderr saying why.
 *
 * Opt-in: a tree with packages added by apt is not byte-identical to a cold build of the same set
 * (apt's logs, the dpkg database's order, a newer mirror). The default build stays reproducible.
 * Only the cold tree is kept: adding A and then B installs A and B on the cold tree, and taking A
 * out again still starts from it.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, onInterrupt, run, tempSibling } from '@debian-atomic/lib';
import type { ResolvedTreefile } from '@debian-atomic/treefile-lint';
import { excludePreferences, mmdebstrapArgs } from './mmdebstrap.js';

/** Cached trees kept: the most recently used keys. A base tree is about 0.6 GB, a desktop's 4-5 GB. */
export const TREES_KEPT = 3;
const FORMAT = 1;

/** What the cached tree was made from, besides its key. */
export interface CachedTree {
  key: string;
  packages: string[];
  dir: string;
}

export type Reuse = { reuse: true; added: string[] } | { reuse: false; reason: string };

/**
 * The key of a tree: mmdebstrap's command line without --include and without this run's paths,
 * the exclusions, the keyrings' bytes, mmdebstrap's version and SOURCE_DATE_EPOCH.
 */
export function treeKey(
  tf: ResolvedTreefile,
  opts: { allowExpired: boolean; keyrings: Record<string, string>; mmdebstrap: string; epoch: string | undefined },
): string {
  const args = mmdebstrapArgs(tf, 'TARGET', 'CACHE', 'PREFS', opts.allowExpired).args.filter(
    (a) => !a.startsWith('--include='),
  );
  const inputs = {
    format: FORMAT,
    args,
    exclude: excludePreferences(tf),
    keyrings: opts.keyrings,
    mmdebstrap: opts.mmdebstrap,
    epoch: opts.epoch ?? null,
  };
  return createHash('sha256').update(canonicalJson(inputs)).digest('hex');
}

/** Whether a cached tree can be the start of a build of `wanted`, and what is to be added. */
export function reuseOf(cached: { packages: string[] } | null, wanted: readonly string[]): Reuse {
  if (!cached) return { reuse: false, reason: 'no cached tree for these inputs yet (it is kept after this build)' };
  const want = new Set(wanted);
  const gone = cached.packages.filter((p) => !want.has(p));
  if (gone.length)
    return {
      reuse: false,
      reason: `${gone.join(', ')} ${gone.length === 1 ? 'is' : 'are'} no longer in the package set of the cached tree`,
    };
  const have = new Set(cached.packages);
  return { reuse: true, added: wanted.filter((p) => !have.has(p)) };
}

/** The inputs of treeKey that are not in the treefile: read from the host. */
export async function hostInputs(
  tf: ResolvedTreefile,
): Promise<{ keyrings: Record<string, string>; mmdebstrap: string; epoch: string | undefined }> {
  const keyrings: Record<string, string> = {};
  for (const r of tf.repos)
    if (r.keyring)
      keyrings[r.keyring] = createHash('sha256')
        .update(await readFile(r.keyring))
        .digest('hex');
  const version = await run('mmdebstrap', ['--version'], { providedBy: 'mmdebstrap', what: 'mmdebstrap --version' });
  return { keyrings, mmdebstrap: version.stdout.trim(), epoch: process.env.SOURCE_DATE_EPOCH };
}

/**
 * The trees directory: `<key>` is a symlink to the snapshot `<key>-<random>/` holding `tree/` and
 * `packages.json`. A snapshot is never changed once in place: a new save makes a new snapshot and
 * swaps the link (rename(2)), so a reader that followed the link once copies a tree that matches
 * its package list, whatever builds run beside it. A snapshot no link points at is removed only
 * after ORPHAN_GRACE_MS without use, so a copy that started before the swap can finish.
 */
export const ORPHAN_GRACE_MS = 3600e3;
const KEY_RE = /^[0-9a-f]{64}$/;
const SNAPSHOT_RE = /^([0-9a-f]{64})-[0-9a-f]{8}$/;

/** The cached tree of a key, or null. Its use is recorded (the snapshot's mtime), for pruning. */
export async function findTree(trees: string, key: string): Promise<CachedTree | null> {
  try {
    const snapshot = await readlink(join(trees, key));
    if (!SNAPSHOT_RE.test(snapshot)) return null;
    const dir = join(trees, snapshot);
    const meta = JSON.parse(await readFile(join(dir, 'packages.json'), 'utf8')) as { packages?: unknown };
    if (!Array.isArray(meta.packages) || !(await stat(join(dir, 'tree'))).isDirectory()) return null;
    const now = new Date();
    await utimes(dir, now, now).catch(() => undefined);
    return { key, packages: meta.packages.map(String), dir: join(dir, 'tree') };
  } catch {
    return null;
  }
}

/** cp -a, reflinked where the filesystem can: the tree keeps owners, modes, links and xattrs. */
export async function copyTree(from: string, to: string): Promise<void> {
  await run('cp', ['-a', '--reflink=auto', '--', from, to], { what: `copy the tree ${from}`, providedBy: 'coreutils' });
}

/**
 * Keep `tree` (a pristine mmdebstrap tree) as the cached tree of `key`: copied into a new
 * snapshot, which the key's link then points at. Keys beyond TREES_KEPT go.
 */
export async function saveTree(trees: string, key: string, tree: string, packages: readonly string[]): Promise<void> {
  await mkdir(trees, { recursive: true });
  const snapshot = `${key}-${randomBytes(4).toString('hex')}`;
  const tmp = tempSibling(join(trees, snapshot), 'new');
  const link = tempSibling(join(trees, key), 'link');
  const cleanup = async () => {
    await rm(tmp, { recursive: true, force: true });
    await rm(link, { force: true });
  };
  const unregister = onInterrupt(cleanup);
  try {
    await mkdir(tmp);
    await copyTree(tree, join(tmp, 'tree'));
    await writeFile(join(tmp, 'packages.json'), canonicalJson({ packages: [...packages].sort() }));
    await rename(tmp, join(trees, snapshot));
    await symlink(snapshot, link);
    await rename(link, join(trees, key));
  } catch (err) {
    await cleanup();
    throw err;
  } finally {
    unregister();
  }
  await pruneTrees(trees, key);
}

const mtime = async (path: string) => (await stat(path).catch(() => null))?.mtimeMs ?? 0;

/**
 * Keep the TREES_KEPT most recently used keys (always `keep`); remove the snapshots no key
 * links to once unused for ORPHAN_GRACE_MS, and a day-old leftover of a killed run.
 */
export async function pruneTrees(trees: string, keep: string, now = Date.now()): Promise<void> {
  const entries = await readdir(trees).catch(() => [] as string[]);
  const keys = await Promise.all(
    entries.filter((e) => KEY_RE.test(e)).map(async (e) => ({ e, t: await mtime(join(trees, e)) })),
  );
  keys.sort((a, b) => b.t - a.t);
  for (const k of keys.filter((k) => k.e !== keep).slice(TREES_KEPT - 1)) await rm(join(trees, k.e), { force: true });
  const linked = new Set<string>();
  for (const k of keys) {
    const target = await readlink(join(trees, k.e)).catch(() => null);
    if (target !== null) linked.add(target);
  }
  for (const e of entries) {
    const path = join(trees, e);
    const orphan = SNAPSHOT_RE.test(e) && !linked.has(e) && (await mtime(path)) < now - ORPHAN_GRACE_MS;
    const leftover = e.startsWith('.') && (await mtime(path)) < now - 864e5;
    if (orphan || leftover) await rm(path, { recursive: true, force: true });
  }
}
