/**
 * The layer cache: one OCI image layout at <sysroot>/var/lib/atomic/images, one tag per image
 * reference. skopeo copies into it, and containers/image's oci destination does not download a
 * blob whose file is already there: what makes an update fetch only the layers that changed.
 * It also trusts such a file without reading it, so a blob found corrupt here is removed and
 * fetched again (see removeCorruptBlobs).
 *
 * Only atomic writes this layout; a lock file serialises the atomic processes that do.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile, readBoundedFile, ToolError } from '@debian-atomic/lib';
import { CACHE_DIR, DIGEST_ANNOTATION, ociSchema } from '@debian-atomic/oci-wrap';

export { CACHE_DIR, DIGEST_ANNOTATION, IMAGE_ANNOTATION, cacheTag } from '@debian-atomic/oci-wrap';
export const REF_NAME = 'org.opencontainers.image.ref.name';

const SHA256 = /^sha256:[0-9a-f]{64}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export type Descriptor = ociSchema.Descriptor;
export type ImageIndex = ociSchema.ImageIndex;

export function cacheDir(sysroot: string): string {
  return join(sysroot, CACHE_DIR);
}

export function blobFile(cache: string, digest: string): string {
  if (!SHA256.test(digest))
    throw new ToolError(
      'bad-digest',
      `${cache}: unsupported or malformed digest ${JSON.stringify(digest.slice(0, 80))}`,
      { exitCode: 2 },
    );
  return join(cache, 'blobs', 'sha256', digest.slice(7));
}

/** Every blob file of the layout, digest → size (files that are not named by a digest are ignored). */
export async function blobSizes(cache: string): Promise<Map<string, number>> {
  const dir = join(cache, 'blobs', 'sha256');
  const out = new Map<string, number>();
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  for (const name of names) {
    if (!/^[0-9a-f]{64}$/.test(name)) continue;
    const st = await lstat(join(dir, name)).catch(() => undefined);
    if (st?.isFile()) out.set(`sha256:${name}`, st.size);
  }
  return out;
}

/** The layout's index, or an empty one when there is none yet. Malformed: an error naming the file. */
export async function readCacheIndex(cache: string): Promise<ImageIndex> {
  const file = join(cache, 'index.json');
  if (
    !(await lstat(file).then(
      () => true,
      () => false,
    ))
  )
    return { schemaVersion: 2, manifests: [] };
  const text = (await readBoundedFile(file, { what: 'OCI image index' })).toString('utf8');
  return ociSchema.parseOciJson(ociSchema.indexSchema, text, file, 'OCI image index');
}

/**
 * containers/image writes index.json in place: a power cut while it does can leave it empty
 * or truncated, and every later copy into the layout would fail on it. Such an index is
 * replaced by an empty one (the blobs stay; only which tag named what is lost).
 * Returns whether it was reset.
 */
export async function repairCacheIndex(cache: string): Promise<boolean> {
  try {
    await readCacheIndex(cache);
    return false;
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    await writeCacheIndex(cache, { schemaVersion: 2, manifests: [] });
    return true;
  }
}

async function writeCacheIndex(cache: string, index: ImageIndex): Promise<void> {
  await atomicWriteFile(join(cache, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await atomicWriteFile(join(cache, 'index.json'), JSON.stringify(index));
}

export function tagOf(d: Descriptor): string | undefined {
  return d.annotations?.[REF_NAME];
}

/** The descriptor a tag names, if any. */
export async function taggedManifest(cache: string, tag: string): Promise<Descriptor | undefined> {
  return (await readCacheIndex(cache)).manifests.find((m) => tagOf(m) === tag);
}

/** Point `tag` at what `from` names (with our annotations) and drop `from`: one rewrite of index.json. */
export async function moveTag(
  cache: string,
  from: string,
  tag: string,
  annotations: Record<string, string>,
): Promise<Descriptor> {
  if (!TAG.test(tag)) throw new ToolError('bad-tag', `${cache}: ${JSON.stringify(tag)} is not an OCI tag`);
  const index = await readCacheIndex(cache);
  const source = index.manifests.find((m) => tagOf(m) === from);
  if (!source) throw new ToolError('missing-tag', `${cache}: no image tagged ${from}`);
  const moved: Descriptor = {
    mediaType: source.mediaType,
    digest: source.digest,
    size: source.size,
    annotations: { ...annotations, [REF_NAME]: tag },
  };
  const manifests = index.manifests.filter((m) => tagOf(m) !== from && tagOf(m) !== tag);
  manifests.push(moved);
  await writeCacheIndex(cache, { ...index, manifests });
  return moved;
}

/** Drop tags from the index (their blobs stay until gcCache). Missing tags or index: nothing to do. */
export async function removeTags(cache: string, tags: readonly string[]): Promise<void> {
  if (
    !(await stat(join(cache, 'index.json')).then(
      () => true,
      () => false,
    ))
  )
    return;
  const index = await readCacheIndex(cache);
  const manifests = index.manifests.filter((m) => !tags.includes(tagOf(m) ?? ''));
  if (manifests.length !== index.manifests.length) await writeCacheIndex(cache, { ...index, manifests });
}

/** The temporary tag of a pull in progress (removed when it ends; left behind only by a power cut). */
export const PULLING = '.pulling-';

/** Drop the temporary tags of pulls that never ended: called with the lock held, none is running. */
export async function removeStaleTags(cache: string): Promise<void> {
  const index = await readCacheIndex(cache);
  await removeTags(
    cache,
    index.manifests.map((m) => tagOf(m) ?? '').filter((tag) => tag.includes(PULLING)),
  );
}

async function sha256OfFile(file: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  } catch {
    return undefined;
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Check the blobs of one image (its manifest, config and layers, as far as the manifest can
 * be read) against their digests and sizes; remove those that fail. Returns the digests removed.
 */
export async function removeCorruptBlobs(cache: string, manifest: Descriptor): Promise<string[]> {
  const candidates: Descriptor[] = [manifest];
  const raw = await readFile(blobFile(cache, manifest.digest)).catch(() => undefined);
  if (raw && createHash('sha256').update(raw).digest('hex') === manifest.digest.slice(7)) {
    try {
      const m = ociSchema.manifestSchema.parse(JSON.parse(raw.toString('utf8')));
      candidates.push(m.config, ...m.layers);
    } catch {
      /* not a manifest we can read: only the manifest blob itself is checked */
    }
  }
  const removed: string[] = [];
  for (const d of candidates) {
    if (!SHA256.test(d.digest)) continue;
    const file = blobFile(cache, d.digest);
    const st = await lstat(file).catch(() => undefined);
    if (!st) continue;
    if (!st.isFile() || st.size !== d.size || (await sha256OfFile(file)) !== d.digest) {
      await rm(file, { force: true, recursive: true });
      removed.push(d.digest);
    }
  }
  return removed;
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take the cache's lock (a file holding our pid and the boot id); returns its release.
 * A lock left by a process that is gone, or by an earlier boot (a power cut), is taken over.
 */
export async function lockCache(cache: string): Promise<() => Promise<void>> {
  await mkdir(cache, { recursive: true });
  const file = join(cache, '.lock');
  const me = `${process.pid} ${bootId()}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o644);
      await fh.writeFile(me);
      await fh.close();
      return async () => {
        const now = await readFile(file, 'utf8').catch(() => '');
        if (now === me) await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = await readFile(file, 'utf8').catch(() => '');
    const [pid, boot] = held.trim().split(' ');
    const n = Number(pid);
    if (Number.isInteger(n) && n > 0 && boot === bootId() && alive(n) && n !== process.pid) {
      throw new ToolError('busy', `${cache}: another atomic (pid ${n}) is using the image cache`, {
        hint: 'wait for it to finish, then run the command again',
      });
    }
    await rm(file, { force: true });
  }
  throw new ToolError('busy', `${cache}: cannot take the image cache's lock (${file})`);
}

/**
 * Keep the images whose manifest digest (in the layout, or at the source as recorded when it
 * was pulled) is in `keep`; drop every other tag and every blob no kept manifest names.
 */
export async function gcCache(
  cache: string,
  keep: readonly string[],
): Promise<{ removedBytes: number; removedBlobs: number; removedTags: string[] }> {
  const index = await readCacheIndex(cache);
  const kept = index.manifests.filter(
    (m) => keep.includes(m.digest) || keep.includes(m.annotations?.[DIGEST_ANNOTATION] ?? ''),
  );
  const wanted = new Set<string>();
  for (const m of kept) {
    wanted.add(m.digest);
    const raw = await readFile(blobFile(cache, m.digest)).catch(() => undefined);
    if (!raw) continue;
    try {
      const manifest = ociSchema.manifestSchema.parse(JSON.parse(raw.toString('utf8')));
      wanted.add(manifest.config.digest);
      for (const l of manifest.layers) wanted.add(l.digest);
    } catch {
      /* unreadable: its layers are fetched again when needed */
    }
  }
  const removedTags = index.manifests.filter((m) => !kept.includes(m)).map((m) => tagOf(m) ?? m.digest);
  if (removedTags.length) await writeCacheIndex(cache, { ...index, manifests: kept });
  let removedBytes = 0;
  let removedBlobs = 0;
  for (const [digest, size] of await blobSizes(cache)) {
    if (wanted.has(digest)) continue;
    await rm(blobFile(cache, digest), { force: true });
    removedBytes += size;
    removedBlobs++;
  }
  // What an interrupted copy leaves: containers/image's temp files at the top of the layout.
  for (const name of await readdir(cache).catch(() => [] as string[])) {
    if (!name.startsWith('oci-put-blob')) continue;
    const st = await lstat(join(cache, name)).catch(() => undefined);
    if (!st?.isFile()) continue;
    await rm(join(cache, name), { force: true });
    removedBytes += st.size;
  }
  return { removedBytes, removedBlobs, removedTags };
}
