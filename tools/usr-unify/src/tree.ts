/** Reading a rootfs without ever following a symlink out of it. */
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { posix } from 'node:path';
import { inputError, READ_LIMITS, readBoundedText } from '@debian-atomic/lib';

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

/** Whether two files, links or neither have the same content; files are compared a chunk at a time. */
export async function sameContent(a: string, sa: Stats, b: string, sb: Stats): Promise<boolean> {
  if (sa.isSymbolicLink() && sb.isSymbolicLink()) return (await readlink(a)) === (await readlink(b));
  if (sa.isFile() && sb.isFile()) {
    if (sa.size !== sb.size || (sa.mode & 0o7777) !== (sb.mode & 0o7777)) return false;
    return sameBytes(a, b);
  }
  return false;
}

/** Compare two regular files in 64 KiB chunks: never both whole in memory (a tree may hold gigabyte files). */
async function sameBytes(a: string, b: string): Promise<boolean> {
  const [fa, fb] = [await open(a, 'r'), await open(b, 'r')];
  try {
    const ba = Buffer.alloc(1 << 16);
    const bb = Buffer.alloc(1 << 16);
    for (;;) {
      const [ra, rb] = [await fa.read(ba, 0, ba.length, null), await fb.read(bb, 0, bb.length, null)];
      if (ra.bytesRead !== rb.bytesRead) return false;
      if (ra.bytesRead === 0) return true;
      if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
  } finally {
    await fa.close();
    await fb.close();
  }
}

const MAX_LINKS = 40; // as the kernel's MAXSYMLINKS

/**
 * The path of `rel` under `root` with every symlink on the way, the last one too, followed as
 * the booted system would (absolute targets are inside the tree), so a read never leaves it:
 * a tree's /etc/passwd linking to /etc/shadow reads the tree's shadow, not the host's.
 */
export async function resolveInTree(root: string, rel: string): Promise<string> {
  const todo = rel.split('/').filter((p) => p && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = posix.join(root, ...done, part);
    if ((await lstatOrNull(here))?.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw inputError(`${posix.join(root, rel)}: too many levels of symbolic links`);
      const target = await readlink(here);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter((p) => p && p !== '.'));
      continue;
    }
    done.push(part);
  }
  return posix.join(root, ...done);
}

/**
 * A text file of the tree: a regular file of at most maxBytes (never a FIFO, a device, or a file
 * outside the tree). Errors are input errors (exit 2) naming the file; the plan is not applied.
 */
export async function readTreeText(root: string, rel: string, maxBytes: number = READ_LIMITS.config): Promise<string> {
  return readBoundedText(await resolveInTree(root, rel), { maxBytes });
}
