/**
 * Writing one layer: its tar entries in a fixed order, gzip-compressed into a
 * blob, with the compressed digest and the uncompressed diff ID. Runs in a
 * worker thread per CPU (see layer-worker.ts), so layers compress in parallel.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { S_IFLNK, S_IFMT } from './filez.js';
import { adoptBlob, blobTemp, MEDIA, type Descriptor } from './oci.js';
import { encodeEntry, END_OF_ARCHIVE, type TarHeader } from './tar.js';
import type { VarEntry } from './var.js';
import { readContentObjectSync, readMetaObject, type CommitTree, type TreeFile } from './tree.js';

const OSTREEDIR = 'sysroot/ostree';
const OBJECTS = `${OSTREEDIR}/repo/objects`;
const REPO_CONFIG = '[core]\nrepo_version=1\nmode=bare-split-xattrs\n';

export interface LayerContent {
  components: string[];
  objects: string[];
  paths: TreeFile[];
}

export interface LayerJob {
  repo: string;
  dir: string;
  /** The commit and its directories, and the /var a first boot makes (var.ts): only the first layer needs them. */
  tree: Pick<CommitTree, 'commit' | 'dirs'> & { var?: VarEntry[] };
  layer: LayerContent;
  first: boolean;
  level: number;
}

export type LayerResult = Descriptor & { diffId: string; bytes: number };

/** A piece of a layer's tar at least this large is written to gzip as it is, not copied into a batch. */
const DIRECT_WRITE = 64 * 1024;

export function objectName(checksum: string, ext: string): string {
  return `${OBJECTS}/${checksum.slice(0, 2)}/${checksum.slice(2)}.${ext}`;
}

/** ostree-ext presents /usr/etc as /etc in the tar stream. */
export function presentedPath(path: string): string {
  return path === 'usr/etc' || path.startsWith('usr/etc/') ? path.slice(4) : path;
}

const DIR = (name: string, mode = 0o755, uid = 0, gid = 0): TarHeader => ({
  name,
  type: 'directory',
  mode,
  uid,
  gid,
  size: 0,
  mtime: 0,
});
const DATA = (name: string, size: number): TarHeader => ({
  name,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size,
  mtime: 0,
});

/** The entries of one layer, in a fixed order: directories, repo skeleton, metadata objects, content objects, real paths. */
async function* layerEntries(
  o: { repo: string },
  tree: LayerJob['tree'],
  l: LayerContent,
  first: boolean,
): AsyncGenerator<Buffer> {
  if (first) {
    const treeDirs = new Set<string>();
    for (const d of [...tree.dirs].sort((a, b) => (a.path < b.path ? -1 : 1))) {
      if (!d.path) continue;
      const name = presentedPath(d.path);
      treeDirs.add(name);
      yield* encodeEntry(DIR(name, d.mode & 0o7777, d.uid, d.gid));
    }
    const skeleton = [OSTREEDIR.split('/')[0]!, OSTREEDIR, `${OSTREEDIR}/repo`, OBJECTS];
    for (let i = 0; i < 256; i++) skeleton.push(`${OBJECTS}/${i.toString(16).padStart(2, '0')}`);
    for (const d of ['extensions', 'refs', 'refs/heads', 'refs/mirrors', 'refs/remotes', 'state', 'tmp', 'tmp/cache'])
      skeleton.push(`${OSTREEDIR}/repo/${d}`);
    for (const d of skeleton) if (!treeDirs.has(d)) yield* encodeEntry(DIR(d));
    for (const v of tree.var ?? []) if (!treeDirs.has(v.name)) yield* encodeEntry({ ...v, size: 0, mtime: 0 });
    const config = Buffer.from(REPO_CONFIG);
    yield* encodeEntry(DATA(`${OSTREEDIR}/repo/config`, config.length), config);
    const commit = (await readMetaObject(o.repo, tree.commit, 'commit'))!;
    yield* encodeEntry(DATA(objectName(tree.commit, 'commit'), commit.length), commit);
    const commitmeta = await readMetaObject(o.repo, tree.commit, 'commitmeta');
    if (commitmeta) yield* encodeEntry(DATA(objectName(tree.commit, 'commitmeta'), commitmeta.length), commitmeta);
    for (const [ext, sums] of [
      ['dirmeta', new Set(tree.dirs.map((d) => d.meta))],
      ['dirtree', new Set(tree.dirs.map((d) => d.tree))],
    ] as const) {
      for (const sum of [...sums].sort()) {
        const data = (await readMetaObject(o.repo, sum, ext))!;
        yield* encodeEntry(DATA(objectName(sum, ext), data.length), data);
      }
    }
  }
  const headers = new Map<string, TarHeader>();
  const xattrsWritten = new Set<string>();
  for (const checksum of l.objects) {
    const { header, content } = readContentObjectSync(o.repo, checksum);
    const xattrsName = objectName(createHash('sha256').update(header.xattrs).digest('hex'), 'file-xattrs');
    if (!xattrsWritten.has(xattrsName)) {
      xattrsWritten.add(xattrsName);
      yield* encodeEntry(DATA(xattrsName, header.xattrs.length), header.xattrs);
    }
    yield* encodeEntry({ ...DATA(objectName(checksum, 'file-xattrs-link'), 0), type: 'link', linkname: xattrsName });
    const symlink = (header.mode & S_IFMT) === S_IFLNK;
    const h: TarHeader = symlink
      ? {
          name: objectName(checksum, 'file'),
          type: 'symlink',
          linkname: header.symlinkTarget,
          mode: header.mode & 0o7777,
          uid: header.uid,
          gid: header.gid,
          size: 0,
          mtime: 0,
        }
      : {
          name: objectName(checksum, 'file'),
          type: 'file',
          mode: header.mode & 0o7777,
          uid: header.uid,
          gid: header.gid,
          size: content.length,
          mtime: 0,
        };
    headers.set(checksum, h);
    yield* encodeEntry(h, symlink ? undefined : content);
  }
  for (const f of l.paths) {
    const h = headers.get(f.checksum)!;
    yield* encodeEntry({
      ...h,
      name: presentedPath(f.path),
      type: 'link',
      size: 0,
      linkname: objectName(f.checksum, 'file'),
    });
  }
  yield END_OF_ARCHIVE;
}

export async function writeLayer(job: LayerJob): Promise<LayerResult> {
  const { tree, layer: l, first, level } = job;
  const o = job;
  const diff = createHash('sha256');
  const digest = createHash('sha256');
  let bytes = 0;
  let size = 0;
  const tmp = blobTemp(o.dir);
  const source = Readable.from(
    (async function* () {
      // Small tar headers and contents batched into large writes: one zlib call per MiB, not per
      // entry. A large content goes as it is, after the batch before it: copying it into a batch
      // cost more CPU (allocating and filling) than its own zlib call. From level 1 on, deflate's
      // output does not depend on how its input is split, so the layer's bytes are the same either
      // way; level 0's stored blocks do, so there every piece is batched.
      const direct = level > 0 ? DIRECT_WRITE : Infinity;
      let batch: Buffer[] = [];
      let batched = 0;
      const flush = () => {
        const chunk = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
        diff.update(chunk);
        bytes += chunk.length;
        batch = [];
        batched = 0;
        return chunk;
      };
      for await (const b of layerEntries(o, tree, l, first)) {
        if (b.length >= direct && batched) yield flush();
        batch.push(b);
        batched += b.length;
        if (batched >= 1 << 20 || b.length >= direct) yield flush();
      }
      if (batched) yield flush();
    })(),
  );
  // memLevel 9 (zlib's largest hash table): at level 1, 15-20 % less CPU than the default 8 for
  // 0.1 % more bytes on a base tree.
  const gzip = createGzip({ level, memLevel: 9, chunkSize: 256 * 1024 });
  gzip.on('data', (b: Buffer) => {
    digest.update(b);
    size += b.length;
  });
  try {
    await pipeline(source, gzip, createWriteStream(tmp));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const d = `sha256:${digest.digest('hex')}`;
  await adoptBlob(o.dir, tmp, d);
  return { mediaType: MEDIA.layerGzip, digest: d, size, diffId: `sha256:${diff.digest('hex')}`, bytes };
}
