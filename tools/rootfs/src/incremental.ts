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
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, run, tempSibling } from '@debian-atomic/lib';
import type { ResolvedTreefile } from '@debian-atomic/treefile-lint';
import { excludePreferences, mmdebstrapArgs } from './mmdebstrap.js';

/** Cached trees kept: the newest by use. A base tree is about 1 GB. */
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

/** The cached tree of a key, or null. Its use is recorded (mtime), for pruning. */
export async function findTree(trees: string, key: string): Promise<CachedTree | null> {
  const dir = join(trees, key);
  try {
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
 * Keep `tree` (a pristine mmdebstrap tree) as the cached tree of `key`: copied beside, then
 * renamed into place, so a reader never sees half a tree. Older keys beyond TREES_KEPT go.
 */
export async function saveTree(trees: string, key: string, tree: string, packages: readonly string[]): Promise<void> {
  await mkdir(trees, { recursive: true });
  const target = join(trees, key);
  const tmp = tempSibling(target, 'new');
  try {
    await mkdir(tmp);
    await copyTree(tree, join(tmp, 'tree'));
    await writeFile(join(tmp, 'packages.json'), canonicalJson({ packages: [...packages].sort() }));
    const old = tempSibling(target, 'old');
    await rename(target, old).catch(() => undefined);
    await rename(tmp, target);
    await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await pruneTrees(trees, key);
}

/** Remove all but the TREES_KEPT most recently used trees (never `keep`), and leftovers of killed runs. */
export async function pruneTrees(trees: string, keep: string): Promise<void> {
  const entries = await readdir(trees).catch(() => [] as string[]);
  const leftovers = entries.filter((e) => e.startsWith('.'));
  const kept = await Promise.all(
    entries
      .filter((e) => /^[0-9a-f]{64}$/.test(e))
      .map(async (e) => ({ e, t: (await stat(join(trees, e)).catch(() => null))?.mtimeMs ?? 0 })),
  );
  kept.sort((a, b) => b.t - a.t);
  const drop = kept.filter((k) => k.e !== keep).slice(TREES_KEPT - 1);
  // A leftover of another run still copying is at most minutes old: only stale ones go.
  const stale = (
    await Promise.all(
      leftovers.map(async (e) =>
        ((await stat(join(trees, e)).catch(() => null))?.mtimeMs ?? 0) < Date.now() - 864e5 ? e : null,
      ),
    )
  ).filter((e): e is string => e !== null);
  for (const e of [...drop.map((d) => d.e), ...stale]) await rm(join(trees, e), { recursive: true, force: true });
}
