/**
 * The OCI image layout (image-spec v1.1): `oci-layout`, `index.json` naming
 * manifests by tag (annotation org.opencontainers.image.ref.name), and
 * content-addressed blobs under blobs/sha256/.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  atomicWriteFile,
  inputError,
  readBoundedFile,
  READ_LIMITS,
  tempSibling,
  ToolError,
  usageError,
} from '@debian-atomic/lib';
import {
  indexSchema,
  manifestSchema,
  imageConfigSchema,
  MEDIA,
  ociLayoutSchema,
  parseOciJson,
  SHA256,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type Manifest,
} from './oci-schema.js';

export { MEDIA, type Descriptor, type ImageConfig, type ImageIndex, type Manifest } from './oci-schema.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

/** `oci:DIR[:TAG]` → dir and tag (default "latest"). */
export function parseOciRef(ref: string): { dir: string; tag: string } {
  const m = /^oci:([^:]+)(?::([A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?$/.exec(ref);
  if (!m)
    throw usageError(
      `${ref}: expected oci:DIR[:TAG] (TAG: letters, digits, _ . -, at most 128)`,
      'e.g. oci:build/base/oci:latest',
    );
  return { dir: m[1]!, tag: m[2] ?? 'latest' };
}

/** Where a blob lives; only sha256 blobs are read or written. */
export function blobPath(dir: string, digest: string): string {
  if (!SHA256.test(digest))
    throw inputError(`${dir}: unsupported or malformed digest ${JSON.stringify(digest)}`, {
      hint: 'oci-wrap reads sha256 blobs only',
    });
  return join(dir, 'blobs', 'sha256', digest.slice(7));
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Store bytes as a blob (idempotent). */
export async function writeBlob(dir: string, data: Buffer): Promise<Descriptor & { digest: string }> {
  const digest = sha256(data);
  const path = blobPath(dir, digest);
  if (
    !(await stat(path).then(
      () => true,
      () => false,
    ))
  )
    await atomicWriteFile(path, data);
  return { mediaType: '', digest, size: data.length };
}

/** Move a finished temp file into place as a blob of the given digest. */
export async function adoptBlob(dir: string, tmp: string, digest: string): Promise<void> {
  const path = blobPath(dir, digest);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  if (
    await stat(path).then(
      () => true,
      () => false,
    )
  )
    await rm(tmp, { force: true });
  else await rename(tmp, path);
}

export function blobTemp(dir: string): string {
  return tempSibling(join(dir, 'blobs', 'sha256', 'blob'), 'layer');
}

function mismatch(dir: string, d: Descriptor, what: string, why: string): ToolError {
  return new ToolError('digest-mismatch', `${dir}: ${what} blob ${d.digest} ${why}`, { exitCode: 2 });
}

/** Read a small (JSON) blob whole, bounded by its descriptor and by max, and check its size and digest. */
export async function readVerifiedBlob(
  dir: string,
  d: Descriptor,
  what = d.mediaType,
  max: number = READ_LIMITS.config,
): Promise<Buffer> {
  if (d.size > max)
    throw inputError(`${dir}: ${what} ${d.digest} claims ${d.size} bytes, more than the ${max} one may have`);
  const data = await readBoundedFile(blobPath(dir, d.digest), { maxBytes: max, what });
  if (data.length !== d.size) throw mismatch(dir, d, what, `is ${data.length} bytes, its descriptor says ${d.size}`);
  if (sha256(data) !== d.digest) throw mismatch(dir, d, what, 'does not match its digest');
  return data;
}

/** Open a blob for streaming: a regular file (never a FIFO or a device) of exactly the descriptor's size. */
export async function openBlob(dir: string, d: Descriptor, what: string): Promise<FileHandle> {
  const path = blobPath(dir, d.digest);
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw inputError(
      code === 'ENOENT'
        ? `${dir}: missing ${what} blob ${d.digest}`
        : `${path}: cannot read ${what}: ${code ?? String(err)}`,
    );
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw inputError(`${path}: ${what} blob is not a regular file`);
  }
  if (st.size !== d.size) {
    await fh.close();
    throw mismatch(dir, d, what, `is ${st.size} bytes, its descriptor says ${d.size}`);
  }
  return fh;
}

/** Stream a blob, checking its digest at the end (the consumer must not trust it before the stream ends). */
export async function* streamVerifiedBlob(dir: string, d: Descriptor, what = d.mediaType): AsyncGenerator<Buffer> {
  const fh = await openBlob(dir, d, what);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) {
      const b = chunk as Buffer;
      hash.update(b);
      size += b.length;
      yield b;
    }
  } finally {
    await fh.close();
  }
  if (size !== d.size)
    throw mismatch(dir, d, what, `changed size while it was read (${size} bytes, its descriptor says ${d.size})`);
  if (`sha256:${hash.digest('hex')}` !== d.digest) throw mismatch(dir, d, what, 'does not match its digest');
}

const LAYOUT_HINT = 'an OCI image layout is a directory with oci-layout, index.json and blobs/';

/** The image index of a layout (its oci-layout file checked first). Unreadable or malformed: exit 2. */
export async function readIndex(dir: string): Promise<ImageIndex> {
  const st = await stat(dir).catch(() => undefined);
  if (!st) throw inputError(`${dir}: no such directory, cannot read its index.json`, { hint: LAYOUT_HINT });
  if (!st.isDirectory()) throw inputError(`${dir}: not a directory, cannot read its index.json`, { hint: LAYOUT_HINT });
  const layoutFile = join(dir, 'oci-layout');
  if (
    !(await stat(layoutFile).then(
      () => true,
      () => false,
    ))
  )
    throw inputError(`${dir}: not an OCI image layout (no oci-layout file)`, { hint: LAYOUT_HINT });
  parseOciJson(
    ociLayoutSchema,
    (await readBoundedFile(layoutFile, { what: 'oci-layout file' })).toString('utf8'),
    layoutFile,
    'oci-layout file',
  );
  const indexFile = join(dir, 'index.json');
  return parseOciJson(
    indexSchema,
    (await readBoundedFile(indexFile, { what: 'OCI image index' })).toString('utf8'),
    indexFile,
    'OCI image index',
  );
}

/** The manifest for a tag (or the only manifest when the index has one and no tag matches). */
export async function readManifest(dir: string, tag: string): Promise<{ manifest: Manifest; descriptor: Descriptor }> {
  const index = await readIndex(dir);
  const named = index.manifests.filter((m) => m.annotations?.[REF_NAME] === tag);
  const d = named[0] ?? (index.manifests.length === 1 ? index.manifests[0] : undefined);
  if (!d)
    throw new ToolError('missing-tag', `${dir}: no image tagged ${tag}`, {
      hint: `tags: ${index.manifests.map((m) => m.annotations?.[REF_NAME] ?? '(none)').join(', ') || '(none)'}`,
      exitCode: 2,
    });
  if (d.mediaType !== MEDIA.manifest)
    throw inputError(`${dir}: ${tag} is ${d.mediaType}, not an OCI image manifest (${MEDIA.manifest})`);
  const manifest = parseOciJson(
    manifestSchema,
    (await readVerifiedBlob(dir, d, 'OCI image manifest')).toString('utf8'),
    `${dir}: manifest ${d.digest}`,
    'OCI image manifest',
  );
  return { manifest, descriptor: d };
}

export async function readConfig(dir: string, manifest: Manifest): Promise<ImageConfig> {
  const d = manifest.config;
  if (d.mediaType !== MEDIA.config) throw inputError(`${dir}: the image config is ${d.mediaType}, not ${MEDIA.config}`);
  return parseOciJson(
    imageConfigSchema,
    (await readVerifiedBlob(dir, d, 'OCI image config')).toString('utf8'),
    `${dir}: config ${d.digest}`,
    'OCI image config',
  );
}

/**
 * Where `--output oci:DIR` may write: a new or empty directory, or an OCI layout whose
 * index can be read (its other tags are kept). Anything else is refused before any work.
 */
export async function checkOutputLayout(dir: string): Promise<void> {
  let st;
  try {
    st = await stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw usageError(`--output ${dir}: ${code === 'ENOTDIR' ? 'a parent is not a directory' : (code ?? String(err))}`);
  }
  if (!st.isDirectory())
    throw usageError(
      `--output ${dir}: not a directory (an OCI image layout is a directory)`,
      'name a new directory, an empty one, or an existing OCI layout',
    );
  const entries = await readdir(dir);
  if (entries.length === 0) return;
  if (!entries.includes('oci-layout'))
    throw usageError(
      `--output ${dir}: not empty and not an OCI image layout (no oci-layout file); refusing to write into it`,
      'name a new directory, an empty one, or an existing OCI layout',
    );
  if (entries.includes('index.json')) await readIndex(dir);
}

/** Point TAG at a manifest in index.json, replacing that tag's previous entry. */
export async function tagManifest(dir: string, tag: string, d: Descriptor): Promise<void> {
  const existing = await stat(join(dir, 'index.json')).then(
    () => readIndex(dir),
    () => undefined,
  );
  const manifests = (existing?.manifests ?? []).filter((m) => m.annotations?.[REF_NAME] !== tag);
  manifests.push({ mediaType: MEDIA.manifest, digest: d.digest, size: d.size, annotations: { [REF_NAME]: tag } });
  await atomicWriteFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await atomicWriteFile(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests }),
  );
}
