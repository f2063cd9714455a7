/**
 * Downloads kept by content: <cacheDir>/comps-sync/by-sha256/<sha256>. A file is
 * trusted only if it still hashes to its name, so a damaged entry is fetched again.
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile, cacheDir } from '@debian-atomic/lib';

export function sha256Of(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export class ShaCache {
  constructor(readonly dir: string = join(cacheDir(), 'comps-sync', 'by-sha256')) {}

  path(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a SHA256: ${sha256}`);
    return join(this.dir, sha256);
  }

  async get(sha256: string): Promise<Buffer | undefined> {
    const file = this.path(sha256);
    const data = await readFile(file).catch(() => undefined);
    if (data === undefined) return undefined;
    if (sha256Of(data) === sha256) return data;
    await rm(file, { force: true });
    return undefined;
  }

  async put(sha256: string, data: Uint8Array): Promise<string> {
    const file = this.path(sha256);
    await atomicWriteFile(file, data);
    return file;
  }
}
