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
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createGunzip, deflateRaw } from 'node:zlib';
import { onInterrupt, run, ToolError, usageError, type Progress } from '@debian-atomic/lib';
import { encodeFilezHeader, S_IFLNK, S_IFREG } from './filez.js';
import { MEDIA, parseOciRef, readConfig, readManifest, streamVerifiedBlob } from './oci.js';
import { readTar, type TarEntry } from './tar.js';
import { ostree } from './tree.js';
import { REF_LABEL } from './wrap.js';

const deflateRawAsync = promisify(deflateRaw);

const OBJECT = /^sysroot\/ostree\/repo\/objects\/([0-9a-f]{2})\/([0-9a-f]{62})\.(commit|commitmeta|dirtree|dirmeta|file|file-xattrs|file-xattrs-link)$/;

export interface ImportOptions {
  /** oci:DIR[:TAG] or docker://HOST/NAME[:TAG] */
  source: string;
  /** Archive repository to create (must not exist or be empty). */
  repo: string;
  /** Ref to set; default: the image's org.debian-atomic.ref label, else ostree/container/image. */
  ref?: string | undefined;
  /** For docker://: verify TLS (false for a local plain-HTTP registry). */
  tlsVerify?: boolean;
  progress?: Progress | undefined;
}

export interface ImportResult {
  commit: string;
  ref: string;
  layers: number;
  objects: number;
  ignored: number;
}

function rejected(name: string, why: string): ToolError {
  return new ToolError('unsafe-entry', `refusing layer entry ${JSON.stringify(name)}: ${why}`);
}

/** A tar entry name as a clean relative path, or a rejection. */
export function safeName(name: string): string {
  if (name.includes('\0')) throw rejected(name, 'NUL in name');
  if (name.startsWith('/')) throw rejected(name, 'absolute path');
  const parts = name.replace(/^(\.\/)+/, '').split('/').filter((p, i, a) => p !== '' || i === a.length - 1);
  if (parts.at(-1) === '') parts.pop();
  if (parts.some((p) => p === '..')) throw rejected(name, 'path traversal (..)');
  const clean = parts.filter((p) => p !== '.').join('/');
  if (!clean) return '';
  return clean;
}

/** State across the layers of one image: what exists, what is a symlink. */
export class EntryChecker {
  private readonly seen = new Map<string, 'file' | 'symlink' | 'directory' | 'link'>();

  check(e: TarEntry): string {
    const name = safeName(e.header.name);
    if (!name) return name;
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      if (this.seen.get(parts.slice(0, i).join('/')) === 'symlink') throw rejected(e.header.name, `goes through the symlink ${parts.slice(0, i).join('/')}`);
    }
    if (e.header.type === 'link') {
      const target = e.header.linkname ?? '';
      if (target.startsWith('/')) throw rejected(e.header.name, `hardlink to an absolute path ${target}`);
      let t: string;
      try {
        t = safeName(target);
      } catch (err) {
        throw rejected(e.header.name, `hardlink target ${JSON.stringify(target)}: ${(err as ToolError).summary.replace(/^.*: /, '')}`);
      }
      const kind = this.seen.get(t);
      if (!t || kind === undefined || kind === 'directory') throw rejected(e.header.name, `hardlink to ${JSON.stringify(target)}, which is not a file earlier in the image`);
      this.seen.set(name, kind === 'link' ? 'file' : kind);
      return name;
    }
    if (e.header.type === 'symlink' && !OBJECT.test(name)) {
      // A real path's symlink is resolved from its own directory; it must stay inside the root.
      const target = e.header.linkname ?? '';
      if (!target.startsWith('/') && climbsOut(posix.dirname(name), target)) throw rejected(e.header.name, `symlink escapes the root (${target})`);
    }
    this.seen.set(name, e.header.type);
    return name;
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

async function* gunzipIfNeeded(source: AsyncIterable<Buffer>, mediaType: string, diffId: (b: Buffer) => void): AsyncGenerator<Buffer> {
  const gz = mediaType === MEDIA.layerGzip || mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  if (!gz && mediaType !== MEDIA.layerTar) {
    throw new ToolError('unsupported-layer', `layer media type ${mediaType} is not supported`, { hint: 'skopeo copy --dest-compress-format gzip converts it' });
  }
  if (!gz) {
    for await (const b of source) {
      diffId(b);
      yield b;
    }
    return;
  }
  const gunzip = createGunzip();
  const feed = (async () => {
    for await (const b of source) if (!gunzip.write(b)) await new Promise((r) => gunzip.once('drain', r));
    gunzip.end();
  })();
  feed.catch((err: unknown) => gunzip.destroy(err as Error));
  for await (const b of gunzip) {
    diffId(b as Buffer);
    yield b as Buffer;
  }
  await feed;
}

/** Write the objects of one image's layers into an archive repository. */
export async function importLayers(layout: string, tag: string, repo: string): Promise<{ commit: string; labels: Record<string, string>; layers: number; objects: number; ignored: number }> {
  const { manifest } = await readManifest(layout, tag);
  const config = await readConfig(layout, manifest);
  const labels = config.config?.Labels ?? {};
  if (!labels['ostree.commit']) throw new ToolError('not-ostree-image', `${layout}:${tag} is not an ostree container image (no ostree.commit label)`);
  if (config.rootfs?.diff_ids?.length !== manifest.layers.length) throw new ToolError('bad-oci', `${layout}: the config lists ${config.rootfs?.diff_ids?.length} layers, the manifest ${manifest.layers.length}`);
  const checker = new EntryChecker();
  const xattrs = new Map<string, Buffer>();
  const xattrsOf = new Map<string, string>();
  const commits: string[] = [];
  let objects = 0;
  let ignored = 0;
  for (const [i, layer] of manifest.layers.entries()) {
    const hash = createHash('sha256');
    const tar = gunzipIfNeeded(streamVerifiedBlob(layout, layer), layer.mediaType, (b) => hash.update(b));
    for await (const e of readTar(tar)) {
      const name = checker.check(e);
      const m = OBJECT.exec(name);
      if (!m) {
        if (!name.startsWith('sysroot/') && e.header.type !== 'directory' && e.header.type !== 'link') ignored++;
        continue;
      }
      const [, dir, rest, ext] = m;
      const checksum = `${dir}${rest}`;
      const target = join(repo, 'objects', dir!, `${rest}.${ext === 'file' ? 'filez' : ext}`);
      if (ext === 'file-xattrs') {
        if (e.header.type !== 'file' || createHash('sha256').update(e.content).digest('hex') !== checksum) throw rejected(name, 'xattrs object does not match its name');
        xattrs.set(name, e.content);
      } else if (ext === 'file-xattrs-link') {
        if (e.header.type !== 'link') throw rejected(name, 'expected a hardlink');
        xattrsOf.set(checksum, safeName(e.header.linkname!));
      } else if (ext === 'file') {
        if (e.header.type !== 'file' && e.header.type !== 'symlink') throw rejected(name, `a content object must be a file or symlink, not a ${e.header.type}`);
        const xname = xattrsOf.get(checksum);
        const x = xname === undefined ? Buffer.alloc(0) : xattrs.get(xname);
        if (!x) throw rejected(name, 'its xattrs object is missing');
        const symlink = e.header.type === 'symlink';
        const header = encodeFilezHeader({
          size: symlink ? 0 : e.content.length,
          uid: e.header.uid,
          gid: e.header.gid,
          mode: (symlink ? S_IFLNK : S_IFREG) | (e.header.mode & 0o7777),
          rdev: 0,
          symlinkTarget: symlink ? e.header.linkname! : '',
          xattrs: x,
        });
        const body = symlink ? Buffer.alloc(0) : await deflateRawAsync(e.content, { level: 1 });
        await mkdir(join(repo, 'objects', dir!), { recursive: true });
        await writeFile(target, Buffer.concat([header, body]));
        objects++;
      } else {
        if (e.header.type !== 'file') throw rejected(name, `a ${ext} object must be a regular file`);
        if (ext === 'commit') commits.push(checksum);
        await mkdir(join(repo, 'objects', dir!), { recursive: true });
        await writeFile(target, e.content);
        objects++;
      }
    }
    // Whatever follows the end-of-archive blocks is part of the layer's digest too.
    for await (const rest of tar) void rest;
    const diffId = `sha256:${hash.digest('hex')}`;
    if (diffId !== config.rootfs.diff_ids[i]) throw new ToolError('digest-mismatch', `layer ${i + 1}: uncompressed digest ${diffId} does not match the config's ${config.rootfs.diff_ids[i]}`);
  }
  if (commits.length !== 1) throw new ToolError('bad-image', `the image carries ${commits.length} commit objects, expected exactly 1`);
  if (commits[0] !== labels['ostree.commit']) throw new ToolError('bad-image', `the image carries commit ${commits[0]}, its label says ${labels['ostree.commit']}`);
  return { commit: commits[0]!, labels, layers: manifest.layers.length, objects, ignored };
}

export async function importImage(o: ImportOptions): Promise<ImportResult> {
  const repo = resolve(o.repo);
  let layout: string;
  let tag: string;
  let fetched: string | undefined;
  const cleanup = onInterrupt(() => (fetched ? rm(fetched, { recursive: true, force: true }) : undefined));
  if (o.source.startsWith('docker://')) {
    fetched = await mkdtemp(join(resolve(repo, '..'), '.oci-pull-'));
    o.progress?.step(`pulling ${o.source}`);
    await run('skopeo', ['copy', '--quiet', ...(o.tlsVerify === false ? ['--src-tls-verify=false'] : []), o.source, `oci:${fetched}:pulled`], { providedBy: 'skopeo', what: `pull ${o.source}` });
    layout = fetched;
    tag = 'pulled';
  } else if (o.source.startsWith('oci:')) {
    ({ dir: layout, tag } = parseOciRef(o.source));
  } else {
    throw usageError(`${o.source}: expected oci:DIR[:TAG] or docker://REGISTRY/NAME[:TAG]`);
  }
  try {
    await mkdir(repo, { recursive: true });
    await ostree(repo, ['init', '--mode=archive'], 'create the import repository');
    o.progress?.step('importing the layers');
    const r = await importLayers(layout, tag, repo);
    const ref = o.ref ?? r.labels[REF_LABEL] ?? 'ostree/container/image';
    await ostree(repo, ['refs', `--create=${ref}`, r.commit], 'set the ref');
    o.progress?.step('verifying every object (ostree fsck)');
    await ostree(repo, ['fsck', '--quiet'], 'verify the imported objects');
    return { commit: r.commit, ref, layers: r.layers, objects: r.objects, ignored: r.ignored };
  } finally {
    if (fetched) await rm(fetched, { recursive: true, force: true });
    cleanup();
  }
}
