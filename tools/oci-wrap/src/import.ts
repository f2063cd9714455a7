/**
 * importImage: an ostree container image (oci:DIR[:TAG] or docker://...) → an
 * archive-mode OSTree repository holding the very commit that was wrapped.
 *
 * Nothing from the layers is ever extracted onto the file system by its own
 * name: object entries are recognised by a strict pattern and written where we
 * compute; every other entry is only checked. Rejected outright: absolute
 * names, `..` components, entries below a symlink, hardlinks to anything not
 * earlier in the image, symlinks at real paths that climb out of the root.
 * ostree fsck then checks every object against its checksum.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createDeflateRaw, createGunzip, deflateRaw } from 'node:zlib';
import { onInterrupt, run, tempSibling, ToolError, usageError, type Progress } from '@debian-atomic/lib';
import { encodeFilezHeader, S_IFLNK, S_IFREG } from './filez.js';
import { GZIP_LAYERS, printable, TAR_LAYERS, type Descriptor, type ImageConfig, type Manifest } from './oci-schema.js';
import { openBlob, parseOciRef, readConfig, readManifest, streamVerifiedBlob } from './oci.js';
import { MAX_METADATA, readBody, readTarStream, type TarHeader, type TarStreamEntry } from './tar.js';
import { commitDetails, ostree } from './tree.js';
import { commitDerived, filterLayer } from './derived.js';
import { REF_LABEL } from './wrap.js';

const deflateRawAsync = promisify(deflateRaw);

const OBJECT =
  /^sysroot\/ostree\/repo\/objects\/([0-9a-f]{2})\/([0-9a-f]{62})\.(commit|commitmeta|dirtree|dirmeta|file|file-xattrs|file-xattrs-link)$/;
const CHECKSUM = /^[0-9a-f]{64}$/;
// ostree's ref grammar (ostree-core.c), without a remote prefix.
const OSTREE_REF = /^[\w\d][-._\w\d]*(\/[\w\d][-._\w\d]*)*$/;

/** How much an image may make the importer inflate or hold; tests pass smaller ones. */
export interface ImportLimits {
  /** A gzip layer may inflate to this many times its compressed size… */
  inflateRatio: number;
  /** …or to this many bytes, whichever is more (a small layer of tar headers compresses well). */
  inflateFloor: number;
  /** A commit, dirtree, dirmeta or xattrs object (read whole). */
  objectBytes: number;
  /** All xattrs objects of the image together (kept until their content objects come). */
  heldBytes: number;
  /** pax and GNU long-name headers before one entry. */
  metadataBytes: number;
}

export const IMPORT_LIMITS: ImportLimits = {
  // gzip cannot do better than ~1030:1; real layers (binaries, text, tar headers) stay under 20:1.
  inflateRatio: 100,
  inflateFloor: 64 << 20,
  objectBytes: 16 << 20,
  heldBytes: 64 << 20,
  metadataBytes: MAX_METADATA,
};

/** Content objects up to this size are deflated in one call; larger ones are streamed. */
const WHOLE_OBJECT = 1 << 20;

export interface ImportOptions {
  /** oci:DIR[:TAG] or docker://HOST/NAME[:TAG] */
  source: string;
  /** Archive repository to create (must not exist, or be an empty directory); made beside and renamed into place. */
  repo: string;
  /** Ref to set; default: the image's org.debian-atomic.ref label, else ostree/container/image. */
  ref?: string | undefined;
  /** For docker://: verify TLS (false for a local plain-HTTP registry). */
  tlsVerify?: boolean;
  progress?: Progress | undefined;
  limits?: Partial<ImportLimits> | undefined;
}

export interface ImportResult {
  commit: string;
  /** The image manifest's digest (what a registry names the image by). */
  digest: string;
  ref: string;
  layers: number;
  objects: number;
  ignored: number;
  /** The commit the image's ostree layers carry; `commit` is made from it and the derived layers. */
  base: string;
  derived: number;
  filtered: Record<string, number>;
}

/** An image's errors are the input's: exit 2. */
function invalid(code: string, summary: string, hint?: string): ToolError {
  return new ToolError(code, summary, { exitCode: 2, hint });
}

function rejected(name: string, why: string): ToolError {
  return invalid('unsafe-entry', `refusing layer entry ${JSON.stringify(name)}: ${why}`);
}

/** A tar entry name as a clean relative path, or a rejection. */
export function safeName(name: string): string {
  if (name.includes('\0')) throw rejected(name, 'NUL in name');
  if (name.startsWith('/')) throw rejected(name, 'absolute path');
  const parts = name
    .replace(/^(\.\/)+/, '')
    .split('/')
    .filter((p, i, a) => p !== '' || i === a.length - 1);
  if (parts.at(-1) === '') parts.pop();
  if (parts.some((p) => p === '..')) throw rejected(name, 'path traversal (..)');
  const clean = parts.filter((p) => p !== '.').join('/');
  if (!clean) return '';
  return clean;
}

/** State across the layers of one image: what exists, what is a symlink. */
export class EntryChecker {
  private readonly seen = new Map<string, 'file' | 'symlink' | 'directory' | 'link'>();

  check(e: { header: TarHeader }): string {
    const name = safeName(e.header.name);
    if (!name) return name;
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      if (this.seen.get(parts.slice(0, i).join('/')) === 'symlink')
        throw rejected(e.header.name, `goes through the symlink ${parts.slice(0, i).join('/')}`);
    }
    if (e.header.type === 'link') {
      const target = e.header.linkname ?? '';
      if (target.startsWith('/')) throw rejected(e.header.name, `hardlink to an absolute path ${target}`);
      let t: string;
      try {
        t = safeName(target);
      } catch (err) {
        throw rejected(
          e.header.name,
          `hardlink target ${JSON.stringify(target)}: ${(err as ToolError).summary.replace(/^.*: /, '')}`,
        );
      }
      const kind = this.seen.get(t);
      if (!t || kind === undefined || kind === 'directory')
        throw rejected(
          e.header.name,
          `hardlink to ${JSON.stringify(target)}, which is not a file earlier in the image`,
        );
      this.seen.set(name, kind === 'link' ? 'file' : kind);
      return name;
    }
    if (e.header.type === 'symlink' && !OBJECT.test(name)) {
      // A real path's symlink is resolved from its own directory; it must stay inside the root.
      const target = e.header.linkname ?? '';
      if (!target.startsWith('/') && climbsOut(posix.dirname(name), target))
        throw rejected(e.header.name, `symlink escapes the root (${target})`);
    }
    this.seen.set(name, e.header.type);
    return name;
  }

  /** A whiteout removed name (and what is below it), or an opaque whiteout emptied it (below only). */
  forget(name: string, belowOnly = false): void {
    if (!belowOnly) this.seen.delete(name);
    const prefix = name ? `${name}/` : '';
    for (const k of this.seen.keys()) if (k.startsWith(prefix)) this.seen.delete(k);
  }
}

/** Does a relative symlink target climb above the root from dir? (Lexically, step by step.) */
export function climbsOut(dir: string, target: string): boolean {
  let depth = dir === '.' || dir === '' ? 0 : dir.split('/').length;
  for (const p of target.split('/')) {
    if (p === '..') {
      depth--;
      if (depth < 0) return true;
    } else if (p !== '.' && p !== '') depth++;
  }
  return false;
}

/** How many tar bytes a layer may hold: its size as plain tar, a bounded multiple when gzip. */
function inflateBound(layer: Descriptor, limits: ImportLimits): number {
  return GZIP_LAYERS.includes(layer.mediaType)
    ? Math.max(limits.inflateFloor, layer.size * limits.inflateRatio)
    : layer.size;
}

/**
 * A layer's tar bytes, streamed: gunzipped when needed, never more than `bound` of them (a gzip
 * bomb stops there), each passed to `onTar` (the diff ID). Not gzip, truncated: an input error.
 */
async function* layerTar(
  layout: string,
  layer: Descriptor,
  what: string,
  bound: number,
  onTar: (b: Buffer) => void,
): AsyncGenerator<Buffer> {
  const source = streamVerifiedBlob(layout, layer, what);
  if (TAR_LAYERS.includes(layer.mediaType)) {
    for await (const b of source) {
      onTar(b);
      yield b;
    }
    return;
  }
  const input = Readable.from(source);
  const gunzip = createGunzip();
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  let total = 0;
  try {
    for await (const chunk of gunzip) {
      const b = chunk as Buffer;
      total += b.length;
      if (total > bound)
        throw invalid(
          'layer-too-large',
          `${what} inflates to more than ${bound} bytes from ${layer.size} (a gzip bomb?)`,
        );
      onTar(b);
      yield b;
    }
  } catch (err) {
    if (err instanceof ToolError) throw err;
    throw invalid('bad-gzip', `${what} is not a valid gzip stream: ${(err as Error).message}`);
  } finally {
    input.destroy();
    gunzip.destroy();
  }
}

/** A validated ostree container image: manifest, config, the commit its label names. */
export interface OstreeImage {
  layout: string;
  tag: string;
  manifest: Manifest;
  config: ImageConfig;
  labels: Record<string, string>;
  commit: string;
  /** The manifest's digest. */
  digest: string;
  /** How many layers, at the end, are derived (filesystem layers after the one ostree.final-diffid names). */
  derived: number;
}

const layerName = (layout: string, i: number, layer: Descriptor) =>
  `${layout}: layer ${i + 1} (${layer.digest.slice(0, 19)}…)`;

/** Read and check everything about an image that is not its layers' contents (cheap; before any work). */
export async function readImage(layout: string, tag: string): Promise<OstreeImage> {
  const { manifest, descriptor } = await readManifest(layout, tag);
  const config = await readConfig(layout, manifest);
  const labels = config.config?.Labels ?? {};
  const commit = labels['ostree.commit'];
  if (!commit)
    throw invalid('not-ostree-image', `${layout}:${tag} is not an ostree container image (no ostree.commit label)`);
  if (!CHECKSUM.test(commit))
    throw invalid(
      'bad-image',
      `${layout}:${tag}: label ostree.commit ${JSON.stringify(commit.slice(0, 80))} is not a commit checksum (64 hex digits)`,
    );
  const ref = labels[REF_LABEL];
  if (ref !== undefined && (ref.length > 255 || !OSTREE_REF.test(ref)))
    throw invalid(
      'bad-image',
      `${layout}:${tag}: label ${REF_LABEL} ${JSON.stringify(ref.slice(0, 80))} is not an ostree ref`,
    );
  if (config.rootfs.diff_ids.length !== manifest.layers.length)
    throw invalid(
      'bad-oci',
      `${layout}: the config lists ${config.rootfs.diff_ids.length} layers, the manifest ${manifest.layers.length}`,
    );
  for (const [i, layer] of manifest.layers.entries()) {
    if (!GZIP_LAYERS.includes(layer.mediaType) && !TAR_LAYERS.includes(layer.mediaType)) {
      throw invalid(
        'unsupported-layer',
        `${layerName(layout, i, layer)}: media type ${layer.mediaType} is not supported`,
        'skopeo copy --dest-compress-format gzip converts it',
      );
    }
    // Present, a regular file, of the size the manifest says: before anything is created.
    await (await openBlob(layout, layer, `layer ${i + 1}`)).close();
  }
  // As ostree-ext: the layers up to the one ostree.final-diffid names carry the commit; the
  // rest are derived. Without the label (an older image), every layer is an ostree layer.
  const final = labels['ostree.final-diffid'];
  const last = final === undefined ? manifest.layers.length - 1 : config.rootfs.diff_ids.indexOf(final);
  if (last === -1)
    throw invalid(
      'bad-image',
      `${layout}:${tag}: label ostree.final-diffid ${JSON.stringify(final!.slice(0, 80))} names none of the image's layers`,
    );
  return {
    layout,
    tag,
    manifest,
    config,
    labels,
    commit,
    digest: descriptor.digest,
    derived: manifest.layers.length - 1 - last,
  };
}

/** Errors about one layer's contents are prefixed with the layer they come from. */
const ENTRY_ERRORS = new Set(['bad-tar', 'unsafe-entry', 'entry-too-large']);

/** Write an object (bytes, or a stream when large); a failed write is a failure of ours (exit 1), named. */
async function writeObject(
  target: string,
  data: Buffer | { header: Buffer; body: AsyncIterable<Buffer> },
): Promise<void> {
  try {
    await mkdir(dirname(target), { recursive: true });
    if (Buffer.isBuffer(data)) await writeFile(target, data);
    else {
      // Large content: deflated as it streams, never held whole.
      await pipeline(
        data.body,
        createDeflateRaw({ level: 1 }),
        async function* (deflated: AsyncIterable<Buffer>) {
          yield data.header;
          yield* deflated;
        },
        createWriteStream(target),
      );
    }
  } catch (err) {
    if (err instanceof ToolError || !(err as NodeJS.ErrnoException).syscall) throw err;
    throw new ToolError('write-failed', `${target}: cannot write the object: ${(err as NodeJS.ErrnoException).code}`, {
      cause: err,
    });
  }
}

/** The object kinds of the container format (`file` is a content object). */
export type ObjectKind = 'commit' | 'commitmeta' | 'dirtree' | 'dirmeta' | 'file';

export interface ImportLayersOptions {
  /**
   * Objects the repository the import is pulled into already has: they are checked as any
   * other entry (name, type, their xattrs object) but not written. The commit object is
   * always written: it is what the pull starts from.
   */
  have?: ((checksum: string, kind: ObjectKind) => boolean | Promise<boolean>) | undefined;
  progress?: Progress | undefined;
  /**
   * Where derived layers are merged (ostree-ext merges in the system repository): `repo`, a
   * repository on the same file system as its tmp/ (a bare one checks the base out as hardlinks:
   * no copy of the tree), after `bringBase` put the base commit there. Without it the merge is in
   * the import repository, which then needs every object (`have` is not used).
   */
  merge?: { repo: string; bringBase: (base: string) => Promise<void> } | undefined;
}

export interface LayersImported {
  commit: string;
  labels: Record<string, string>;
  layers: number;
  /** Objects written into the repository. */
  objects: number;
  /** Objects not written because `have` said the target has them. */
  skipped: number;
  ignored: number;
  /** The commit the image's ostree layers carry (`commit` when there are no derived layers). */
  base: string;
  /** Derived layers applied on top of it. */
  derived: number;
  /** Derived layers' entries dropped, by top-level directory (as ostree-ext's filtered counts). */
  filtered: Record<string, number>;
}

/**
 * Write the objects of one image's layers into an archive repository; with derived layers, the
 * commit they make on top of the base commit (see derived.ts).
 */
export async function importLayers(
  layout: string | OstreeImage,
  tag: string,
  repo: string,
  limitsIn: Partial<ImportLimits> = {},
  o: ImportLayersOptions = {},
): Promise<LayersImported> {
  const image = typeof layout === 'string' ? await readImage(layout, tag) : layout;
  const { manifest, config, labels } = image;
  const limits = { ...IMPORT_LIMITS, ...limitsIn };
  const checker = new EntryChecker();
  const xattrs = new Map<string, Buffer>();
  const xattrsOf = new Map<string, string>();
  const commits: string[] = [];
  let held = 0;
  let objects = 0;
  let skipped = 0;
  let ignored = 0;
  const firstDerived = manifest.layers.length - image.derived;
  // The base is checked out from the merge repository to apply derived layers: when that is this
  // one, it needs every object.
  const have = image.derived && !o.merge ? undefined : o.have;
  const mergeRepo = o.merge?.repo ?? repo;
  const work = image.derived ? await mkdtemp(join(mergeRepo, 'tmp', 'derived-')) : undefined;
  const derivedTars: string[] = [];
  const filtered = new Map<string, number>();
  try {
    for (const [i, layer] of manifest.layers.entries()) {
      const what = layerName(image.layout, i, layer);
      const derived = i >= firstDerived;
      o.progress?.step(
        `importing ${derived ? 'derived ' : ''}layer ${i + 1} of ${manifest.layers.length} (${printable((layer.annotations?.['ostree.components'] ?? layer.digest).slice(0, 60))})`,
      );
      const bound = inflateBound(layer, limits);
      const hash = createHash('sha256');
      const tar = layerTar(image.layout, layer, what, bound, (b) => hash.update(b));
      try {
        const entries = bounded(readTarStream(tar, { metadataBytes: limits.metadataBytes }), bound);
        if (derived) {
          const file = join(work!, `layer-${i}.tar`);
          await pipeline(Readable.from(filterLayer(entries, checker, filtered, safeName)), createWriteStream(file));
          derivedTars.push(file);
        } else {
          for await (const e of entries) {
            const name = checker.check(e);
            const m = OBJECT.exec(name);
            if (!m) {
              if (
                !name.startsWith('sysroot/') &&
                e.header.type !== 'directory' &&
                e.header.type !== 'link' &&
                e.header.type !== 'symlink'
              )
                ignored++;
              continue;
            }
            const [, dir, rest, ext] = m;
            const checksum = `${dir}${rest}`;
            const target = join(repo, 'objects', dir!, `${rest}.${ext === 'file' ? 'filez' : ext}`);
            if (ext === 'file-xattrs') {
              if (e.header.type !== 'file') throw rejected(name, 'xattrs object does not match its name');
              const content = await readBody(e, limits.objectBytes, 'xattrs object');
              if (createHash('sha256').update(content).digest('hex') !== checksum)
                throw rejected(name, 'xattrs object does not match its name');
              if (!xattrs.has(name)) held += content.length;
              if (held > limits.heldBytes)
                throw rejected(name, `the image's xattrs objects take more than ${limits.heldBytes} bytes`);
              xattrs.set(name, content);
            } else if (ext === 'file-xattrs-link') {
              if (e.header.type !== 'link') throw rejected(name, 'expected a hardlink');
              xattrsOf.set(checksum, safeName(e.header.linkname!));
            } else if (ext === 'file') {
              if (e.header.type !== 'file' && e.header.type !== 'symlink')
                throw rejected(name, `a content object must be a file or symlink, not a ${e.header.type}`);
              const xname = xattrsOf.get(checksum);
              const x = xname === undefined ? Buffer.alloc(0) : xattrs.get(xname);
              if (!x) throw rejected(name, 'its xattrs object is missing');
              if (have && (await have(checksum, 'file'))) {
                skipped++;
                continue;
              }
              const symlink = e.header.type === 'symlink';
              const header = encodeFilezHeader({
                size: symlink ? 0 : e.header.size,
                uid: e.header.uid,
                gid: e.header.gid,
                mode: (symlink ? S_IFLNK : S_IFREG) | (e.header.mode & 0o7777),
                rdev: 0,
                symlinkTarget: symlink ? e.header.linkname! : '',
                xattrs: x,
              });
              if (symlink) await writeObject(target, header);
              else if (e.header.size <= WHOLE_OBJECT)
                await writeObject(
                  target,
                  Buffer.concat([
                    header,
                    await deflateRawAsync(await readBody(e, WHOLE_OBJECT, 'content object'), { level: 1 }),
                  ]),
                );
              else await writeObject(target, { header, body: e.body });
              objects++;
            } else {
              if (e.header.type !== 'file') throw rejected(name, `a ${ext} object must be a regular file`);
              if (ext === 'commit') commits.push(checksum);
              else if (have && (await have(checksum, ext as ObjectKind))) {
                skipped++;
                continue;
              }
              const content = await readBody(e, limits.objectBytes, `${ext} object`);
              await writeObject(target, content);
              objects++;
            }
          }
        }
        // Whatever follows the end-of-archive blocks is part of the layer's digest too.
        for await (const rest of tar) void rest;
      } catch (err) {
        if (err instanceof ToolError && ENTRY_ERRORS.has(err.code))
          throw new ToolError(err.code, `${what}: ${err.summary}`, {
            exitCode: err.exitCode,
            hint: err.hint,
            detail: err.detail,
            cause: err,
          });
        throw err;
      } finally {
        await tar.return(undefined);
      }
      const diffId = `sha256:${hash.digest('hex')}`;
      if (diffId !== config.rootfs.diff_ids[i])
        throw invalid(
          'digest-mismatch',
          `${what}: uncompressed digest ${diffId} does not match the config's ${config.rootfs.diff_ids[i]}`,
        );
    }
    if (commits.length !== 1)
      throw invalid('bad-image', `the image carries ${commits.length} commit objects, expected exactly 1`);
    if (commits[0] !== labels['ostree.commit'])
      throw invalid('bad-image', `the image carries commit ${commits[0]}, its label says ${labels['ostree.commit']}`);
    const base = commits[0]!;
    let commit = base;
    if (image.derived) {
      o.progress?.step(`applying ${image.derived} derived layer(s) to ${base.slice(0, 12)}`);
      await o.merge?.bringBase(base);
      commit = await commitDerived({
        repo: mergeRepo,
        base,
        layers: derivedTars,
        diffIds: config.rootfs.diff_ids.slice(firstDerived),
        work: join(work!, 'merge'),
        timestamp: await derivedTimestamp(repo, base, config.created),
        version: labels['org.opencontainers.image.version'],
        manifestDigest: image.digest,
        bindRef: labels[REF_LABEL],
      });
    }
    return {
      commit,
      base,
      labels,
      layers: manifest.layers.length,
      derived: image.derived,
      objects,
      skipped,
      ignored,
      filtered: Object.fromEntries([...filtered].sort()),
    };
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
  }
}

/** Entries whose declared size the layer can hold. */
async function* bounded(entries: AsyncIterable<TarStreamEntry>, bound: number): AsyncGenerator<TarStreamEntry> {
  for await (const e of entries) {
    if (e.header.size > bound)
      throw invalid(
        'entry-too-large',
        `entry ${JSON.stringify(e.header.name)} declares ${e.header.size} bytes, more than the layer can hold (${bound} bytes)`,
      );
    yield e;
  }
}

/** A derived commit's date: the image config's `created` (as ostree-ext), else SOURCE_DATE_EPOCH, else the base commit's. */
async function derivedTimestamp(repo: string, base: string, created: string | undefined): Promise<number> {
  const t = created === undefined ? NaN : Date.parse(created);
  if (Number.isFinite(t) && t >= 0) return Math.floor(t / 1000);
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  if (process.env.SOURCE_DATE_EPOCH && Number.isInteger(epoch) && epoch >= 0) return epoch;
  return (await commitDetails(repo, base)).timestamp;
}

/** The import's target: new, or an empty directory (the finished repository is renamed onto it). */
async function checkNewRepo(repo: string): Promise<void> {
  const st = await stat(repo).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw usageError(`${repo}: cannot create the import repository here: ${err.code ?? String(err)}`);
  });
  if (!st) return;
  if (!st.isDirectory() || (await readdir(repo)).length > 0)
    throw usageError(`${repo}: exists and is not an empty directory; the import creates a new repository`);
}

export async function importImage(o: ImportOptions): Promise<ImportResult> {
  const repo = resolve(o.repo);
  let layout: string;
  let tag: string;
  let docker = false;
  if (o.source.startsWith('docker://')) docker = true;
  else if (o.source.startsWith('oci:')) ({ dir: layout, tag } = parseOciRef(o.source));
  else throw usageError(`${o.source}: expected oci:DIR[:TAG] or docker://REGISTRY/NAME[:TAG]`);
  await checkNewRepo(repo);
  // Built beside the target and renamed into place: a failed or interrupted import leaves nothing.
  const staging = tempSibling(repo, 'import');
  let fetched: string | undefined;
  const cleanup = onInterrupt(async () => {
    await rm(staging, { recursive: true, force: true });
    if (fetched) await rm(fetched, { recursive: true, force: true });
  });
  try {
    await mkdir(dirname(repo), { recursive: true });
    if (docker) {
      fetched = await mkdtemp(join(dirname(repo), '.oci-pull-'));
      o.progress?.step(`pulling ${o.source}`);
      await run(
        'skopeo',
        [
          'copy',
          '--quiet',
          ...(o.tlsVerify === false ? ['--src-tls-verify=false'] : []),
          o.source,
          `oci:${fetched}:pulled`,
        ],
        { providedBy: 'skopeo', what: `pull ${o.source}` },
      );
      layout = fetched;
      tag = 'pulled';
    }
    const image = await readImage(layout!, tag!);
    await mkdir(staging);
    await ostree(staging, ['init', '--mode=archive'], 'create the import repository');
    o.progress?.step('importing the layers');
    const r = await importLayers(image, tag!, staging, o.limits);
    const ref = o.ref ?? r.labels[REF_LABEL] ?? 'ostree/container/image';
    await ostree(staging, ['refs', `--create=${ref}`, r.commit], 'set the ref');
    // The derived layers' own commits were steps of the merge: only the ref's history is kept.
    if (r.derived) await ostree(staging, ['prune', '--refs-only'], "drop the derived layers' commits");
    o.progress?.step('verifying every object (ostree fsck)');
    await ostree(staging, ['fsck', '--quiet'], 'verify the imported objects');
    await rename(staging, repo);
    return {
      commit: r.commit,
      digest: image.digest,
      ref,
      layers: r.layers,
      objects: r.objects,
      ignored: r.ignored,
      base: r.base,
      derived: r.derived,
      filtered: r.filtered,
    };
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  } finally {
    if (fetched) await rm(fetched, { recursive: true, force: true });
    cleanup();
  }
}
