/**
 * Live sources from a Debian mirror, verified end to end:
 *   InRelease (gpgv) → SHA256 of main/binary-<arch>/Packages.xz → SHA256 of
 *   tasksel-data's .deb from that Packages entry → debian-tasks.desc inside it.
 * Everything but InRelease is cached by checksum, so a rerun downloads ~150 kB.
 * Every download is bounded (by the size it was listed with, where there is one),
 * and what is decompressed is bounded again (see stream.ts, tar.ts).
 */
import { inputError, ToolError } from '@debian-atomic/lib';
import { sha256Of, type ShaCache } from './cache.js';
import { debMember } from './deb.js';
import { positionedError } from './deb822.js';
import { PACKAGES_LIMITS, PackagesIndexReader, type PackageEntry, type PackagesIndex } from './packages.js';
import { checkRelease, parseRelease, verifyInRelease, type ReleaseFile } from './release.js';
import { xzText } from './stream.js';

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

/** An InRelease is ~150 kB (sid's, with every checksum, well under 1 MB). */
export const RELEASE_MAX_BYTES = 16 << 20;
/** The most any download may be when nothing says its size. */
export const DOWNLOAD_MAX_BYTES = 64 << 20;
/**
 * How far past its listed size a download is still read (to report the checksum
 * mismatch of a mirror caught mid-update); beyond, it is refused as it streams.
 */
export const DOWNLOAD_SLACK = 64 << 10;

export interface GetOptions extends HttpOptions {
  /** Refuse a body larger than this (default DOWNLOAD_MAX_BYTES). */
  maxBytes?: number;
  /** Why that bound, for the message (" (the size its checksum was listed with)"). */
  bound?: string;
}

export async function httpGet(url: string, opts: GetOptions = {}): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const retries = opts.retries ?? 2;
  let lastErr: unknown;
  for (let attempt = 0; attempt <= retries; attempt++) {
    let res: Response;
    try {
      res = await fetch(url, {
        signal: AbortSignal.timeout(timeoutMs),
        headers: { 'user-agent': 'debian-atomic-comps-sync' },
      });
    } catch (err) {
      lastErr = err;
      continue; // network trouble: try again
    }
    if (res.ok) {
      try {
        return await readBody(res, url, opts.maxBytes ?? DOWNLOAD_MAX_BYTES, opts.bound ?? '');
      } catch (err) {
        if (err instanceof ToolError) throw err;
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
    cause?.name === 'TimeoutError'
      ? `no answer within ${timeoutMs / 1000} s`
      : (cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? String(lastErr));
  throw new HttpError(url, undefined, `cannot fetch ${url}: ${why}`, {
    hint: 'is the mirror reachable? (--mirror URL, or work offline with --desc and --packages)',
    cause: lastErr,
  });
}

/** A response body of at most maxBytes, read as it comes: an endless answer is cut off, never buffered whole. */
async function readBody(res: Response, url: string, maxBytes: number, bound: string): Promise<Buffer> {
  const tooLarge = () =>
    new HttpError(url, res.status, `${url}: larger than ${maxBytes} bytes${bound}, refusing it`, {
      hint: 'the mirror is not serving what its index says',
    });
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    await res.body?.cancel();
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      total += chunk.length;
      if (total > maxBytes) throw tooLarge(); // leaving the loop cancels the stream
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks, total);
}

export interface Verified {
  data: Buffer;
  url: string;
  sha256: string;
  cached: boolean;
}

/** A file whose SHA256 and size we already trust: from the cache, or downloaded (no more than its size) and checked. */
export async function fetchVerified(
  urls: readonly string[],
  sha256: string,
  size: number | undefined,
  cache: ShaCache,
  http: HttpOptions = {},
): Promise<Verified> {
  const hit = await cache.get(sha256, size ?? DOWNLOAD_MAX_BYTES);
  if (hit) return { data: hit, url: urls[0]!, sha256, cached: true };
  let data: Buffer | undefined;
  let url = urls[0]!;
  for (const u of urls) {
    url = u;
    try {
      data = await httpGet(
        u,
        size === undefined
          ? http
          : { ...http, maxBytes: size + DOWNLOAD_SLACK, bound: ` (its checksum was listed with ${size})` },
      );
      break;
    } catch (err) {
      // by-hash may lag on some mirrors: fall back to the plain path, as apt does.
      if (!(err instanceof HttpError && err.status === 404) || u === urls[urls.length - 1]) throw err;
    }
  }
  const got = sha256Of(data!);
  if (got !== sha256 || (size !== undefined && data!.length !== size)) {
    throw new ToolError(
      'checksum',
      `${url}: checksum mismatch (expected SHA256 ${sha256}, ${size ?? '?'} bytes; got ${got}, ${data!.length} bytes)`,
      {
        hint: 'the mirror may be mid-update (try again shortly) or serving damaged files',
      },
    );
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
    signed = await httpGet(url, { ...opts.http, maxBytes: RELEASE_MAX_BYTES });
  } catch (err) {
    if (err instanceof HttpError && err.status === 404) {
      throw new HttpError(url, 404, `${url}: not found: is '${opts.suite}' a suite on ${opts.mirror}?`, {
        hint: 'suites are codenames (trixie, forky, sid) or stable/testing/unstable',
      });
    }
    throw err;
  }
  const verified = await verifyInRelease(signed, opts.keyring, url);
  const release = parseRelease(verified.text, url);
  const warnings = checkRelease(release, opts.suite, url, opts.now ?? new Date(), opts.allowExpired);
  for (const arch of opts.arches) {
    if (release.architectures.length && !release.architectures.includes(arch)) {
      throw new ToolError(
        'arch',
        `${opts.suite} has no architecture ${arch} (it has: ${release.architectures.join(' ')})`,
        { exitCode: 2 },
      );
    }
  }
  return { url, release, signers: verified.signers, warnings };
}

export interface FetchedIndex {
  arch: string;
  url: string;
  sha256: string;
  cached: boolean;
  index: PackagesIndex;
}

/** main/binary-<arch>/Packages.xz, pinned by the Release file, decompressed (bounded) and parsed as it streams. */
export async function fetchPackagesIndex(opts: MirrorOptions, rel: SuiteRelease, arch: string): Promise<FetchedIndex> {
  const path = `main/binary-${arch}/Packages.xz`;
  const sum = rel.release.sha256.get(path);
  if (!sum) throw new ToolError('release', `${rel.url}: lists no SHA256 for ${path}`);
  if (sum.size > PACKAGES_LIMITS.compressed) {
    throw inputError(
      `${rel.url}: lists ${path} with ${sum.size} bytes, more than the ${PACKAGES_LIMITS.compressed} a Packages.xz may have`,
    );
  }
  const plain = suiteUrl(opts.mirror, opts.suite, path);
  const byHash = suiteUrl(opts.mirror, opts.suite, `main/binary-${arch}/by-hash/SHA256/${sum.sha256}`);
  const got = await fetchVerified(
    rel.release.acquireByHash ? [byHash, plain] : [plain],
    sum.sha256,
    sum.size,
    opts.cache,
    opts.http,
  );
  const reader = new PackagesIndexReader(got.url, arch);
  await xzText({ data: got.data, name: got.url }, 'Packages index', PACKAGES_LIMITS.bytes, (text) => reader.push(text));
  return { arch, url: got.url, sha256: sum.sha256, cached: got.cached, index: reader.end() };
}

export const DESC_PATH = 'usr/share/tasksel/descs/debian-tasks.desc';

/** tasksel-data's data.tar is ~200 kB and its debian-tasks.desc ~20 kB: these bounds are generous. */
export const DESC_LIMITS = { total: 64 << 20, member: 4 << 20, memberWhat: 'a task description file' } as const;

/** debian-tasks.desc out of a tasksel-data .deb (never unpacked: see deb.ts). */
export async function descFromDeb(deb: string): Promise<string> {
  return (await debMember({ file: deb }, DESC_PATH, DESC_LIMITS)).toString('utf8');
}

export interface FetchedDeb {
  url: string;
  sha256: string;
  cached: boolean;
  /** The cached .deb. */
  path: string;
}

/**
 * A package's .deb, pinned by its Packages entry (Filename, SHA256, Size), each checked
 * before anything is fetched; `index` (the Packages file) positions the errors.
 */
export async function fetchDeb(
  opts: MirrorOptions,
  entry: Pick<PackageEntry, 'name'> & Partial<Pick<PackageEntry, 'filename' | 'sha256' | 'size' | 'line'>>,
  index?: string,
): Promise<FetchedDeb> {
  if (!entry.filename || !entry.sha256)
    throw new ToolError('packages', `the Packages entry of ${entry.name} has no Filename or SHA256`);
  const bad = (message: string) =>
    index
      ? positionedError({ file: index, line: entry.line ?? 1, col: 1, message: `${entry.name}: ${message}` })
      : inputError(`the Packages entry of ${entry.name}: ${message}`);
  if (!/^[0-9a-f]{64}$/.test(entry.sha256))
    throw bad(`SHA256 is not a SHA256 (64 hex digits): ${JSON.stringify(entry.sha256.slice(0, 80))}`);
  if (
    entry.size !== undefined &&
    !(Number.isSafeInteger(entry.size) && entry.size >= 0 && entry.size <= DOWNLOAD_MAX_BYTES)
  ) {
    throw bad(`Size is not a size of at most ${DOWNLOAD_MAX_BYTES} bytes: ${entry.size}`);
  }
  if (
    !/^[\x21-\x7e]+$/.test(entry.filename) ||
    entry.filename.split('/').some((c) => c === '..' || c === '' || c === '.')
  ) {
    throw bad(`Filename is not a path in the archive: ${JSON.stringify(entry.filename.slice(0, 80))}`);
  }
  const url = `${opts.mirror.replace(/\/+$/, '')}/${entry.filename}`;
  const got = await fetchVerified([url], entry.sha256, entry.size, opts.cache, opts.http);
  return { url, sha256: entry.sha256, cached: got.cached, path: opts.cache.path(entry.sha256) };
}
