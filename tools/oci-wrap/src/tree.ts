/**
 * What a commit holds, read from an archive-mode repository: the tree (from
 * `ostree ls -R -C`, with the dirtree/dirmeta checksums) and the objects'
 * bytes (directly from objects/, which needs no ostree call per file).
 */
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { constants as zlibConstants, inflateRaw, inflateRawSync } from 'node:zlib';
import { readBoundedText, READ_LIMITS, toolboxRun, ToolError } from '@debian-atomic/lib';
import { decodeFilezHeader, type FileHeader } from './filez.js';

const inflateRawAsync = promisify(inflateRaw);
/** The largest content readContentObjectSync inflates into a buffer of the header's size. */
const INFLATE_WHOLE = 64 * 1024 * 1024;

export interface TreeDir {
  /** Relative path, '' for the root. */
  path: string;
  mode: number;
  uid: number;
  gid: number;
  tree: string;
  meta: string;
}

export interface TreeFile {
  path: string;
  symlink: boolean;
  size: number;
  checksum: string;
}

export interface CommitTree {
  commit: string;
  dirs: TreeDir[];
  files: TreeFile[];
}

export async function ostree(repo: string, args: string[], what: string): Promise<string> {
  return (await toolboxRun('ostree', [`--repo=${repo}`, ...args], { binds: [repo], what, providedBy: 'ostree' }))
    .stdout;
}

const LINE = /^([dl-])([0-7]{5}) +(\d+) +(\d+) +(\d+) +([0-9a-f]{64})(?: ([0-9a-f]{64}))? (\/.*)$/;

/** Parse `ostree ls -R -C` output. Symlink lines end in ` -> target`, which is cut. */
export function parseLs(text: string): { dirs: TreeDir[]; files: TreeFile[] } {
  const dirs: TreeDir[] = [];
  const files: TreeFile[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = LINE.exec(line);
    if (!m) throw new ToolError('ostree-ls', `cannot parse ostree ls output: ${line}`);
    const [, kind, mode, uid, gid, size, c1, c2, rawPath] = m;
    let path = rawPath!.slice(1);
    if (kind === 'l') path = path.slice(0, path.lastIndexOf(' -> '));
    if (kind === 'd')
      dirs.push({ path, mode: parseInt(mode!, 8), uid: Number(uid), gid: Number(gid), tree: c1!, meta: c2! });
    else files.push({ path, symlink: kind === 'l', size: Number(size), checksum: c1! });
  }
  return { dirs, files };
}

export async function repoMode(repo: string): Promise<string> {
  const file = join(repo, 'config');
  if (
    !(await stat(file).then(
      () => true,
      () => false,
    ))
  )
    throw new ToolError('not-a-repo', `${repo}: not an OSTree repository (no config)`);
  // A regular file of a few lines: a FIFO or a device there is refused, not read.
  const config = await readBoundedText(file, { maxBytes: READ_LIMITS.attribute, what: 'repository config' });
  return /^mode=(.*)$/m.exec(config)?.[1]?.trim() ?? 'bare';
}

export async function requireArchiveRepo(repo: string, ref: string): Promise<void> {
  const mode = await repoMode(repo);
  if (mode !== 'archive' && mode !== 'archive-z2') {
    throw new ToolError('repo-mode', `${repo}: repository mode is ${mode}; oci-wrap reads archive repositories`, {
      hint: `ostree --repo=ARCHIVE init --mode=archive && ostree --repo=ARCHIVE pull-local ${repo} ${ref}`,
    });
  }
}

export async function readCommitTree(repo: string, ref: string): Promise<CommitTree> {
  await requireArchiveRepo(repo, ref);
  const commit = await resolveRef(repo, ref);
  const { dirs, files } = parseLs(await ostree(repo, ['ls', '-R', '-C', commit], 'list the commit'));
  return { commit, dirs, files };
}

/** A ref's commit: a checksum as is, refs/heads read directly, anything else through ostree rev-parse. */
export async function resolveRef(repo: string, ref: string): Promise<string> {
  if (/^[0-9a-f]{64}$/.test(ref)) return ref;
  if (!ref.split('/').includes('..')) {
    const file = join(repo, 'refs', 'heads', ref);
    const direct = (await stat(file).then(
      () => true,
      () => false,
    ))
      ? (await readBoundedText(file, { maxBytes: 4096, what: 'ref' })).trim()
      : undefined;
    if (direct && /^[0-9a-f]{64}$/.test(direct)) return direct;
  }
  return (
    await ostree(repo, ['rev-parse', ref], `resolve ${ref}`).catch((err: unknown) => {
      throw new ToolError('missing-ref', `${repo}: no ref ${ref}`, {
        cause: err,
        hint: `ostree --repo=${repo} refs lists what is there`,
      });
    })
  ).trim();
}

export function objectPath(repo: string, checksum: string, ext: string): string {
  return join(repo, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.${ext}`);
}

/** A content object: its header and uncompressed content (empty for symlinks). */
export async function readContentObject(
  repo: string,
  checksum: string,
): Promise<{ header: FileHeader; content: Buffer }> {
  const raw = await readFile(objectPath(repo, checksum, 'filez'));
  const { header, contentOffset } = decodeFilezHeader(raw);
  const content = contentOffset < raw.length ? await inflateRawAsync(raw.subarray(contentOffset)) : Buffer.alloc(0);
  if (content.length !== header.size && (header.mode & 0o170000) === 0o100000)
    throw new ToolError(
      'corrupt-object',
      `${checksum}: content is ${content.length} bytes, header says ${header.size}`,
    );
  return { header, content };
}

/**
 * The same, synchronously: for the layer writer, where thousands of small
 * objects cost more in thread-pool round trips than in inflating them; the
 * gzip of the layer runs on the thread pool meanwhile.
 */
export function readContentObjectSync(repo: string, checksum: string): { header: FileHeader; content: Buffer } {
  const raw = readFileSync(objectPath(repo, checksum, 'filez'));
  const { header, contentOffset } = decodeFilezHeader(raw);
  // Inflated into one buffer of the size the header gives (one byte more, so that zlib does not
  // ask for another), not zlib's 16 KiB pieces joined by a copy; a header claiming more than
  // INFLATE_WHOLE gets the pieces (and the size check below).
  const chunkSize = header.size < INFLATE_WHOLE ? Math.max(header.size + 1, zlibConstants.Z_MIN_CHUNK) : undefined;
  const content =
    contentOffset < raw.length ? inflateRawSync(raw.subarray(contentOffset), { chunkSize }) : Buffer.alloc(0);
  if (content.length !== header.size && (header.mode & 0o170000) === 0o100000)
    throw new ToolError(
      'corrupt-object',
      `${checksum}: content is ${content.length} bytes, header says ${header.size}`,
    );
  return { header, content };
}

export async function readMetaObject(
  repo: string,
  checksum: string,
  ext: 'commit' | 'commitmeta' | 'dirtree' | 'dirmeta',
): Promise<Buffer | undefined> {
  const p = objectPath(repo, checksum, ext);
  if (
    ext === 'commitmeta' &&
    !(await stat(p).then(
      () => true,
      () => false,
    ))
  )
    return undefined;
  return readFile(p);
}

/** The commit's version and timestamp (seconds), from `ostree show`. */
export async function commitDetails(
  repo: string,
  commit: string,
): Promise<{ version: string | null; timestamp: number }> {
  const show = await ostree(repo, ['show', commit], 'read the commit date and version');
  const date = /^Date: +(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ([+-]\d{4})$/m.exec(show);
  const timestamp = date
    ? Date.parse(`${date[1]!.replace(' ', 'T')}${date[2]!.slice(0, 3)}:${date[2]!.slice(3)}`) / 1000
    : 0;
  return { version: /^Version: (.+)$/m.exec(show)?.[1]?.trim() ?? null, timestamp };
}
