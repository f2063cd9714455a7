/**
 * Checks of the command line before any work: --output must name a file that can be
 * renamed into place (not a directory, a device or a FIFO, in an existing writable
 * directory), --ref an ostree ref, --repo a directory. Each failure is a usage error (exit 2).
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { usageError } from '@debian-atomic/lib';

// ostree's ref grammar (ostree-core.c), without a remote prefix: a leading "-" would be an option.
const OSTREE_REF = /^[\w][-._\w]*(\/[\w][-._\w]*)*$/;
const REF_MAX = 1024;

export function checkRef(ref: string): void {
  if (ref.length > REF_MAX || !OSTREE_REF.test(ref))
    throw usageError(
      `--ref ${JSON.stringify(ref.length > 80 ? `${ref.slice(0, 80)}…` : ref)}: not an ostree ref (letters, digits, "_", "-", "." in "/"-separated parts, at most ${REF_MAX} characters)`,
    );
}

function kindOf(st: {
  isFile(): boolean;
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  return 'a block device';
}

/** --output: the image is assembled beside it and renamed over it, so it must be (or become) a regular file. */
export async function checkOutput(output: string): Promise<string> {
  const hint = 'give the path of the image file, e.g. --output build/disk.qcow2';
  if (output === '' || output.endsWith('/'))
    throw usageError(`--output ${JSON.stringify(output)}: names a directory, expected an image file`, hint);
  const abs = resolve(output);
  const st = await stat(abs).catch(() => null);
  if (st && !st.isFile())
    throw usageError(`--output ${output}: is ${kindOf(st)}, expected an image file (it is replaced by a rename)`, hint);
  const parent = dirname(abs);
  const dir = await stat(parent).catch((err: NodeJS.ErrnoException) => err);
  if (dir instanceof Error)
    throw usageError(
      `--output ${output}: cannot use the directory ${parent}: ${dir.code === 'ENOENT' ? 'it does not exist' : dir.code === 'ENOTDIR' ? 'not a directory' : dir.code}`,
      hint,
    );
  if (!dir.isDirectory()) throw usageError(`--output ${output}: ${parent} is not a directory`, hint);
  try {
    await access(parent, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw usageError(
      `--output ${output}: cannot write in ${parent}: ${code === 'EROFS' ? 'a read-only file system' : code === 'EACCES' ? 'permission denied' : code}`,
      hint,
    );
  }
  return abs;
}

/** --repo: an existing directory (checked after the config, so a bad config never touches it). */
export async function checkRepo(repo: string): Promise<void> {
  const st = await stat(repo).catch(() => null);
  if (!st) throw usageError(`--repo ${repo}: no such directory`);
  if (!st.isDirectory()) throw usageError(`--repo ${repo}: is ${kindOf(st)}, expected an OSTree repository directory`);
}
