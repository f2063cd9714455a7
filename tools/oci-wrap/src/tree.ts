/**
 * What a commit holds, read from an archive-mode repository directly from its
 * objects/: the tree (walked from the commit's dirtree/dirmeta objects, see
 * gvariant.ts) and the objects' bytes, with no ostree call per file or tree.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { constants as zlibConstants, inflateRaw, inflateRawSync } from 'node:zlib';
import { readBoundedText, READ_LIMITS, toolboxRun, ToolError } from '@debian-atomic/lib';
import { decodeFilezHeader, S_IFLNK, S_IFMT, type FileHeader } from './filez.js';
import { corrupt, parseCommit, parseDirmeta, parseDirtree } from './gvariant.js';

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

/** How deep a commit's directories nest at most: ostree's OSTREE_MAX_RECURSION. */
const MAX_DEPTH = 256;

/**
 * The commit's tree, walked from its metadata objects in `ostree ls -R`'s order (a directory, its
 * files, then each subdirectory), with each file's size and type from its content object's header.
 */
export async function readCommitTree(repo: string, ref: string): Promise<CommitTree> {
  await requireArchiveRepo(repo, ref);
  const commit = await resolveRef(repo, ref);
  const root = parseCommit(requireMetaObject(repo, commit, 'commit'), `commit ${commit}`);
  const dirs: TreeDir[] = [];
  const files: TreeFile[] = [];
  const headers = new Map<string, FileHeader>();
  // Synchronous: thousands of small reads cost more in thread-pool round trips than in reading.
  const walk = (path: string, tree: string, meta: string, depth: number): void => {
    // ostree's own bound (OSTREE_MAX_RECURSION): a deeper or self-referring tree is not a commit.
    if (depth > MAX_DEPTH) throw corrupt(`dirtree ${tree}: nested deeper than ${MAX_DEPTH}`);
    const m = parseDirmeta(requireMetaObject(repo, meta, 'dirmeta'), `dirmeta ${meta}`);
    dirs.push({ path, mode: m.mode & 0o7777, uid: m.uid, gid: m.gid, tree, meta });
    const t = parseDirtree(requireMetaObject(repo, tree, 'dirtree'), `dirtree ${tree}`);
    const prefix = path ? `${path}/` : '';
    for (const f of t.files) {
      checkName(f.name, `dirtree ${tree}`);
      let h = headers.get(f.checksum);
      if (!h) headers.set(f.checksum, (h = readContentHeaderSync(repo, f.checksum)));
      const symlink = (h.mode & S_IFMT) === S_IFLNK;
      files.push({ path: prefix + f.name, symlink, size: symlink ? 0 : h.size, checksum: f.checksum });
    }
    for (const d of t.dirs) {
      checkName(d.name, `dirtree ${tree}`);
      walk(prefix + d.name, d.tree, d.meta, depth + 1);
    }
  };
  walk('', root.tree, root.meta, 0);
  return { commit, dirs, files };
}

/** A name in a dirtree: what ostree itself accepts (not empty, no '/', not '.' or '..'). */
function checkName(name: string, what: string): void {
  if (!name || name.includes('/') || name === '.' || name === '..')
    throw corrupt(`${what}: bad name ${JSON.stringify(name)}`);
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

/** An object's file, read synchronously by `read`: one that is missing or unreadable is named. */
function readObjectSync<T>(repo: string, checksum: string, ext: string, read: (file: string) => T): T {
  try {
    return read(objectPath(repo, checksum, ext));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!code) throw err; // not the file system's: a corrupt object's own error
    throw new ToolError('missing-object', `${repo}: ${ext} object ${checksum} is missing or unreadable (${code})`, {
      hint: `ostree --repo=${repo} fsck`,
    });
  }
}

function requireMetaObject(repo: string, checksum: string, ext: 'commit' | 'dirtree' | 'dirmeta'): Buffer {
  return readObjectSync(repo, checksum, ext, (file) => readFileSync(file));
}

/** A content object's header alone: its first 4 KiB, more only when the header (xattrs) is longer. */
export function readContentHeaderSync(repo: string, checksum: string): FileHeader {
  return readObjectSync(repo, checksum, 'filez', (file) => {
    const fd = openSync(file, 'r');
    try {
      let buf = Buffer.alloc(4096);
      let n = readSync(fd, buf, 0, buf.length, 0);
      const want = n >= 4 ? 8 + buf.readUInt32BE(0) : 0;
      if (want > n && want <= READ_LIMITS.attribute) {
        buf = Buffer.alloc(want);
        n = readSync(fd, buf, 0, want, 0);
      }
      return decodeFilezHeader(buf.subarray(0, n)).header;
    } finally {
      closeSync(fd);
    }
  });
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

/** The commit's version and timestamp (seconds), from its object (the same in every repository mode). */
export async function commitDetails(
  repo: string,
  commit: string,
): Promise<{ version: string | null; timestamp: number }> {
  const c = parseCommit(requireMetaObject(repo, commit, 'commit'), `commit ${commit}`);
  return { version: c.metadata.get('version')?.trim() || null, timestamp: c.timestamp };
}
