/** Never leave a half-written output: write beside the target, then rename over it. */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A temporary path in the same directory (so rename(2) is atomic), hidden and recognisable. */
export function tempSibling(target: string, tag = 'tmp'): string {
  return join(dirname(target), `.${basename(target)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

export async function atomicWriteFile(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = tempSibling(target);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * atomicWriteFile, unless the target already holds these bytes: its mtime is kept, so make
 * rebuilds what depends on it only when its content changed. True when it was written.
 */
export async function writeFileIfChanged(target: string, data: string | Uint8Array): Promise<boolean> {
  const old = await readFile(target).catch(() => null);
  if (old?.equals(typeof data === 'string' ? Buffer.from(data) : data)) return false;
  await atomicWriteFile(target, data);
  return true;
}

/**
 * Build a directory at a temp sibling with `build`, then swap it into place.
 * The previous directory, if any, is kept until the new one is complete and is
 * removed only after the rename: an interrupted build leaves the old one intact.
 */
export async function atomicReplaceDir(target: string, build: (tmpDir: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = tempSibling(target, 'new');
  const old = tempSibling(target, 'old');
  try {
    await mkdir(tmp);
    await build(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const exists = await stat(target).then(
    () => true,
    () => false,
  );
  if (exists) await rename(target, old);
  await rename(tmp, target);
  if (exists) await rm(old, { recursive: true, force: true });
}
