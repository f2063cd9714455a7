/**
 * Where hwdetect writes: `-o FILE`, the boot check's state directory, a root
 * filesystem. A path that cannot take the output (a directory, a file where a
 * directory belongs, a read-only or unwritable place) is a clear error naming
 * it, found before any work where possible; writes are atomic, so a failed run
 * leaves the previous output as it was.
 */
import { stat } from 'node:fs/promises';
import { atomicWriteFile, ToolError, usageError, type ExitCode } from '@debian-atomic/lib';

const WHY: Record<string, string> = {
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  EEXIST: 'a component of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
};

/** A file system error as one line naming the path; anything else is passed through. */
export function writeFailure(what: string, err: unknown, exitCode: ExitCode = 2): unknown {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof ToolError || typeof e?.code !== 'string' || !/^E[A-Z]+$/.test(e.code)) return err;
  const where = e.path && !what.includes(e.path) ? ` (${e.path})` : '';
  return new ToolError('write', `${what}: cannot write: ${WHY[e.code] ?? e.code}${where}`, { exitCode, cause: err });
}

/** Refuse an -o that names a directory before doing the work. */
export async function checkOutputFile(file: string | undefined): Promise<void> {
  if (!file) return;
  const st = await stat(file).catch(() => null);
  if (st?.isDirectory()) throw usageError(`-o ${file}: is a directory, expected a file name`);
}

/** Write -o FILE atomically; a failure is a usage error (exit 2) naming it. */
export async function writeOutputFile(file: string, data: string): Promise<void> {
  try {
    await atomicWriteFile(file, data);
  } catch (err) {
    throw writeFailure(`-o ${file}`, err);
  }
}

/** The boot check's --state-dir: a directory, or a path where one can be made. */
export async function checkStateDir(dir: string | undefined): Promise<void> {
  if (dir === undefined) return;
  const st = await stat(dir).catch(() => null);
  if (st && !st.isDirectory()) throw usageError(`--state-dir ${dir}: not a directory`);
}
