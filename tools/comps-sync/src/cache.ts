/**
 * Downloads kept by content: <cacheDir>/comps-sync/by-sha256/<sha256>. A file is
 * trusted only if it still hashes to its name, so a damaged entry is fetched again.
 * An entry that is not a regular file (a FIFO, a symlink) is an error, never read.
 */
import { createHash } from 'node:crypto';
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile, cacheDir, inputError, readBoundedFile } from '@debian-atomic/lib';

export function sha256Of(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export class ShaCache {
  constructor(readonly dir: string = join(cacheDir(), 'comps-sync', 'by-sha256')) {}

  path(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a SHA256: ${sha256}`);
    return join(this.dir, sha256);
  }

  /** The entry, if it is there and still hashes to its name; one larger than maxBytes is damaged. */
  async get(sha256: string, maxBytes: number = 64 << 20): Promise<Buffer | undefined> {
    const file = this.path(sha256);
    const st = await lstat(file).catch(() => undefined);
    if (!st) return undefined;
    if (!st.isFile()) {
      // Not ours (we only ever rename regular files here): say so rather than read through it.
      throw inputError(
        `${file}: cannot read cached download: ${st.isFIFO() ? 'a FIFO' : st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'is a directory' : 'not a regular file'}, expected a regular file`,
        {
          hint: `remove it (rm -r ${file}); it is fetched again`,
        },
      );
    }
    const data = st.size <= maxBytes ? await readBoundedFile(file, { maxBytes, what: 'cached download' }) : undefined;
    if (data && sha256Of(data) === sha256) return data;
    await rm(file, { force: true });
    return undefined;
  }

  async put(sha256: string, data: Uint8Array): Promise<string> {
    const file = this.path(sha256);
    await atomicWriteFile(file, data);
    return file;
  }
}
