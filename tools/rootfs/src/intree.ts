/**
 * Paths inside the built tree, resolved as the tree itself would see them (as if chrooted):
 * a package's absolute symlink (/etc/resolv.conf -> /run/systemd/...) or a relative one that
 * climbs past the root must never make rootfs, running as root, write or delete a host file.
 */
import { lstat, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ToolError } from '@debian-atomic/lib';

const MAX_LINKS = 40; // as the kernel's MAXSYMLINKS

/**
 * The host path of `rel` (a path in the tree, absolute or not) under `root`, every symlink of its
 * directories followed inside the tree. The last component is not followed: callers replace or
 * remove it. The result is always `root` or below it.
 */
export async function inTreePath(root: string, rel: string): Promise<string> {
  const todo = rel.split('/').filter((p) => p && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop(); // at the root, ".." is the root (as in a chroot)
      continue;
    }
    const here = join(root, ...done, part);
    if (todo.length) {
      const st = await lstat(here).catch(() => null);
      if (st?.isSymbolicLink()) {
        if (++links > MAX_LINKS)
          throw new ToolError('symlink-loop', `/${rel}: too many levels of symbolic links in the tree`);
        const target = await readlink(here);
        if (target.startsWith('/')) done.length = 0;
        todo.unshift(...target.split('/').filter((p) => p && p !== '.'));
        continue;
      }
    }
    done.push(part);
  }
  return join(root, ...done);
}

/** The host path of a file about to be written in the tree: a symlink standing there is removed first. */
export async function inTreeTarget(root: string, rel: string): Promise<string> {
  const path = await inTreePath(root, rel);
  if ((await lstat(path).catch(() => null))?.isSymbolicLink()) await rm(path);
  return path;
}
