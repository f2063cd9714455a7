/** Reading a rootfs without ever following a symlink out of it. */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { posix } from 'node:path';

export async function lstatOrNull(path: string): Promise<Stats | null> {
  return lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
    throw err;
  });
}

export async function listDir(path: string): Promise<string[]> {
  return (await readdir(path)).sort();
}

export interface Entry {
  /** Path relative to the tree root, without leading slash. */
  rel: string;
  st: Stats;
}

/** Depth-first walk (parents before children), never following symlinks. */
export async function* walk(root: string, rel = ''): AsyncGenerator<Entry> {
  const abs = rel ? posix.join(root, rel) : root;
  for (const name of await listDir(abs)) {
    const childRel = rel ? `${rel}/${name}` : name;
    const st = await lstat(posix.join(root, childRel));
    yield { rel: childRel, st };
    if (st.isDirectory()) yield* walk(root, childRel);
  }
}

/**
 * Where a symlink at `rel` (relative to the tree root) points, as a path relative
 * to the root; null when a relative target climbs above the root. Absolute
 * targets are taken as inside the tree (chroot semantics).
 */
export function linkTargetWithin(rel: string, target: string): string | null {
  const joined = target.startsWith('/') ? target : posix.join('/', posix.dirname(rel), target);
  const norm = posix.normalize(joined);
  // posix.normalize('/..') === '/' hides escapes: count depth ourselves for relative targets.
  if (!target.startsWith('/')) {
    let depth = posix.dirname(rel) === '.' ? 0 : posix.dirname(rel).split('/').length;
    for (const seg of target.split('/')) {
      if (seg === '..') depth--;
      else if (seg && seg !== '.') depth++;
      if (depth < 0) return null;
    }
  }
  return norm.replace(/^\/+/, '');
}

export async function sameContent(a: string, sa: Stats, b: string, sb: Stats): Promise<boolean> {
  if (sa.isSymbolicLink() && sb.isSymbolicLink()) return (await readlink(a)) === (await readlink(b));
  if (sa.isFile() && sb.isFile()) {
    if (sa.size !== sb.size || (sa.mode & 0o7777) !== (sb.mode & 0o7777)) return false;
    return (await readFile(a)).equals(await readFile(b));
  }
  return false;
}
