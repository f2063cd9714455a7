/**
 * Bounded reads of input files: regular files only (a FIFO, a socket or a device such as
 * /dev/zero is refused before a byte is read, so nothing can hang or stream forever), and at
 * most `maxBytes` (a file that is larger is refused, not truncated). Files in /proc and /sys
 * report size 0, so the bound is enforced on the bytes read, not on the size stat gives.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { inputError } from './errors.js';

/** Sizes that fit the formats the tools read; a caller passes its own where these do not fit. */
export const READ_LIMITS = {
  /** Treefiles, configs, policies, kargs.d files, OCI JSON: hand-written or small generated text. */
  config: 4 << 20,
  /** A single sysfs/procfs attribute or a small system file (/etc/passwd, os-release). */
  attribute: 1 << 20,
  /** /proc/cpuinfo on a machine with many cores, a dpkg status file, a Packages index. */
  large: 64 << 20,
} as const;

export interface ReadOptions {
  /** Refuse files larger than this many bytes. Default: READ_LIMITS.config. */
  maxBytes?: number;
  /** What the file is, for the message ("treefile", "OCI manifest"). */
  what?: string;
}

/** What a non-regular file is, for a message: "a FIFO", "is a directory", "a character device"... */
export function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'is a directory';
  return 'not a regular file';
}

function openError(file: string, err: unknown, what: string | undefined) {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EISDIR'
        ? 'is a directory'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'ELOOP'
            ? 'too many levels of symbolic links'
            : String(code ?? err);
  return inputError(`${file}: cannot read${what ? ` ${what}` : ''}: ${why}`);
}

function notRegular(file: string, st: Stats, what: string | undefined) {
  return inputError(`${file}: cannot read${what ? ` ${what}` : ''}: ${fileKind(st)}, expected a regular file`);
}

function tooLarge(file: string, max: number, what: string | undefined) {
  return inputError(`${file}: ${what ?? 'file'} larger than ${max} bytes, refusing to read it`, {
    hint: 'is this the file you meant?',
  });
}

// O_NONBLOCK: opening a FIFO with no writer would otherwise block before fstat can refuse it.
const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** Open a regular file for reading, for callers that stream it (O_NONBLOCK: a FIFO cannot block the open). */
export async function openRegularFile(file: string, what?: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(file, FLAGS);
  } catch (err) {
    throw openError(file, err, what);
  }
  const st = await fh.stat().catch(async (err: unknown) => {
    await fh.close();
    throw openError(file, err, what);
  });
  if (!st.isFile()) {
    await fh.close();
    throw notRegular(file, st, what);
  }
  return fh;
}

/** Read a regular file of at most maxBytes; errors are input errors (exit 2) naming the file. */
export async function readBoundedFile(file: string, opts: ReadOptions = {}): Promise<Buffer> {
  const max = opts.maxBytes ?? READ_LIMITS.config;
  const fh = await openRegularFile(file, opts.what);
  try {
    const st = await fh.stat();
    if (st.size > max) throw tooLarge(file, max, opts.what);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(max + 1 - total, 1 << 16) || 1);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > max) throw tooLarge(file, max, opts.what);
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await fh.close();
  }
}

export async function readBoundedText(file: string, opts: ReadOptions = {}): Promise<string> {
  return (await readBoundedFile(file, opts)).toString('utf8');
}

/** The synchronous twin, for code that walks /sys and /proc synchronously. */
export function readBoundedFileSync(file: string, opts: ReadOptions = {}): Buffer {
  const max = opts.maxBytes ?? READ_LIMITS.config;
  let fd: number;
  try {
    fd = openSync(file, FLAGS);
  } catch (err) {
    throw openError(file, err, opts.what);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notRegular(file, st, opts.what);
    if (st.size > max) throw tooLarge(file, max, opts.what);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(max + 1 - total, 1 << 16) || 1);
      let bytesRead: number;
      try {
        bytesRead = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        // EAGAIN cannot happen on a regular file; anything else (EIO from a sysfs attribute) is the file's.
        throw inputError(
          `${file}: cannot read${opts.what ? ` ${opts.what}` : ''}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        );
      }
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > max) throw tooLarge(file, max, opts.what);
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

export function readBoundedTextSync(file: string, opts: ReadOptions = {}): string {
  return readBoundedFileSync(file, opts).toString('utf8');
}
