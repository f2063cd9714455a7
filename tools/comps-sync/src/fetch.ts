/**
 * Live sources from a Debian mirror, verified end to end:
 *   InRelease (gpgv) → SHA256 of main/binary-<arch>/Packages.xz → SHA256 of
 *   tasksel-data's .deb from that Packages entry → debian-tasks.desc inside it.
 * Everything but InRelease is cached by checksum, so a rerun downloads ~150 kB.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onInterrupt, run, ToolError } from '@debian-atomic/lib';
import { sha256Of, type ShaCache } from './cache.js';
import { checkRelease, parseRelease, verifyInRelease, type ReleaseFile } from './release.js';

export interface HttpOptions {
  /** Per request, in ms. Mirrors can be slow: the default is generous. */
  timeoutMs?: number;
  retries?: number;
}

export class HttpError extends ToolError {
  constructor(
    readonly url: string,
    readonly status: number | undefined,
    summary: string,
    opts: { hint?: string; cause?: unknown } = {},
  ) {
    super('fetch', summary, opts);
  }
}

export async function httpGet(url: string, opts: HttpOptions = {}): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const retries = opts.retries ?? 2;
  let lastErr: unknown;
  for (let attempt = 0; attempt <= retries; attempt++) {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { 'user-agent': 'debian-atomic-comps-sync' } });
    } catch (err) {
      lastErr = err;
      continue; // network trouble: try again
    }
    if (res.ok) {
      try {
        return Buffer.from(await res.arrayBuffer());
      } catch (err) {
        lastErr = err;
        continue;
      }
    }
    if (res.status >= 500 && attempt < retries) {
      lastErr = new Error(`HTTP ${res.status}`);
      continue;
    }
    throw new HttpError(url, res.status, `cannot fetch ${url}: HTTP ${res.status} ${res.statusText}`.trimEnd());
  }
  const cause = lastErr as { name?: string; message?: string; cause?: { code?: string; message?: string } } | undefined;
  const why =
    cause?.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? String(lastErr));
  throw new HttpError(url, undefined, `cannot fetch ${url}: ${why}`, { hint: 'is the mirror reachable? (--mirror URL, or work offline with --desc and --packages)', cause: lastErr });
}

export interface Verified {
  data: Buffer;
  url: string;
  sha256: string;
  cached: boolean;
}

/** A file whose SHA256 (and size) we already trust: from the cache, or downloaded and checked. */
export async function fetchVerified(urls: readonly string[], sha256: string, size: number | undefined, cache: ShaCache, http: HttpOptions = {}): Promise<Verified> {
  const hit = await cache.get(sha256);
  if (hit) return { data: hit, url: urls[0]!, sha256, cached: true };
  let data: Buffer | undefined;
  let url = urls[0]!;
  for (const u of urls) {
    url = u;
    try {
      data = await httpGet(u, http);
      break;
    } catch (err) {
      // by-hash may lag on some mirrors: fall back to the plain path, as apt does.
      if (!(err instanceof HttpError && err.status === 404) || u === urls[urls.length - 1]) throw err;
    }
  }
  const got = sha256Of(data!);
  if (got !== sha256 || (size !== undefined && data!.length !== size)) {
    throw new ToolError('checksum', `${url}: checksum mismatch (expected SHA256 ${sha256}, ${size ?? '?'} bytes; got ${got}, ${data!.length} bytes)`, {
      hint: 'the mirror may be mid-update (try again shortly) or serving damaged files',
    });
  }
  await cache.put(sha256, data!);
  return { data: data!, url, sha256, cached: false };
}

export interface MirrorOptions {
  mirror: string;
  suite: string;
  arches: readonly string[];
  keyring: string;
  allowExpired: boolean;
  cache: ShaCache;
  now?: Date;
  http?: HttpOptions;
  /** Progress notes ("fetched X (1.2 s)"). */
  progress?: (message: string) => void;
}

export interface SuiteRelease {
  url: string;
  release: ReleaseFile;
  signers: string[];
  warnings: string[];
}

export function suiteUrl(mirror: string, suite: string, path = ''): string {
  return `${mirror.replace(/\/+$/, '')}/dists/${suite}/${path}`;
}

export async function fetchRelease(opts: MirrorOptions): Promise<SuiteRelease> {
  const url = suiteUrl(opts.mirror, opts.suite, 'InRelease');
  let signed: Buffer;
  try {
    signed = await httpGet(url, opts.http);
  } catch (err) {
    if (err instanceof HttpError && err.status === 404) {
      throw new HttpError(url, 404, `${url}: not found: is '${opts.suite}' a suite on ${opts.mirror}?`, { hint: 'suites are codenames (trixie, forky, sid) or stable/testing/unstable' });
    }
    throw err;
  }
  const verified = await verifyInRelease(signed, opts.keyring, url);
  const release = parseRelease(verified.text, url);
  const warnings = checkRelease(release, opts.suite, url, opts.now ?? new Date(), opts.allowExpired);
  for (const arch of opts.arches) {
    if (release.architectures.length && !release.architectures.includes(arch)) {
      throw new ToolError('arch', `${opts.suite} has no architecture ${arch} (it has: ${release.architectures.join(' ')})`, { exitCode: 2 });
    }
  }
  return { url, release, signers: verified.signers, warnings };
}

export interface FetchedIndex {
  arch: string;
  url: string;
  sha256: string;
  cached: boolean;
  text: string;
}

/** main/binary-<arch>/Packages.xz, pinned by the Release file, decompressed with xz. */
export async function fetchPackagesIndex(opts: MirrorOptions, rel: SuiteRelease, arch: string): Promise<FetchedIndex> {
  const path = `main/binary-${arch}/Packages.xz`;
  const sum = rel.release.sha256.get(path);
  if (!sum) throw new ToolError('release', `${rel.url}: lists no SHA256 for ${path}`);
  const plain = suiteUrl(opts.mirror, opts.suite, path);
  const byHash = suiteUrl(opts.mirror, opts.suite, `main/binary-${arch}/by-hash/SHA256/${sum.sha256}`);
  const got = await fetchVerified(rel.release.acquireByHash ? [byHash, plain] : [plain], sum.sha256, sum.size, opts.cache, opts.http);
  const text = await xzDecompress(got.data, got.url);
  return { arch, url: got.url, sha256: sum.sha256, cached: got.cached, text };
}

export async function xzDecompress(data: Uint8Array, what: string): Promise<string> {
  return (await run('xz', ['-dc'], { input: data, providedBy: 'xz-utils', what: `decompress ${what}` })).stdout;
}

export const DESC_PATH = 'usr/share/tasksel/descs/debian-tasks.desc';

/** debian-tasks.desc out of a tasksel-data .deb, unpacked by dpkg-deb. */
export async function descFromDeb(deb: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'comps-sync-'));
  const unregister = onInterrupt(() => rm(dir, { recursive: true, force: true }));
  try {
    await run('dpkg-deb', ['-x', deb, dir], { providedBy: 'dpkg', what: `unpack ${deb}` });
    try {
      return await readFile(join(dir, DESC_PATH), 'utf8');
    } catch {
      throw new ToolError('desc', `${deb}: has no /${DESC_PATH} (is it tasksel-data?)`, { exitCode: 2 });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    unregister();
  }
}

export interface FetchedDeb {
  url: string;
  sha256: string;
  cached: boolean;
  /** The cached .deb. */
  path: string;
}

/** A package's .deb, pinned by its Packages entry (Filename, SHA256, Size). */
export async function fetchDeb(opts: MirrorOptions, entry: { name: string; filename?: string | undefined; sha256?: string | undefined; size?: number | undefined }): Promise<FetchedDeb> {
  if (!entry.filename || !entry.sha256) throw new ToolError('packages', `the Packages entry of ${entry.name} has no Filename or SHA256`);
  const url = `${opts.mirror.replace(/\/+$/, '')}/${entry.filename}`;
  const got = await fetchVerified([url], entry.sha256, entry.size, opts.cache, opts.http);
  return { url, sha256: entry.sha256, cached: got.cached, path: opts.cache.path(entry.sha256) };
}
