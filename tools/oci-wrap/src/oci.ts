/**
 * The OCI image layout (image-spec v1.1): `oci-layout`, `index.json` naming
 * manifests by tag (annotation org.opencontainers.image.ref.name), and
 * content-addressed blobs under blobs/sha256/.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile, tempSibling, ToolError, usageError } from '@debian-atomic/lib';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
} as const;

export const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  created?: string;
  config?: { Labels?: Record<string, string> };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created?: string; created_by?: string; comment?: string }[];
}

/** `oci:DIR[:TAG]` → dir and tag (default "latest"). */
export function parseOciRef(ref: string): { dir: string; tag: string } {
  const m = /^oci:([^:]+)(?::([A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?$/.exec(ref);
  if (!m) throw usageError(`${ref}: expected oci:DIR[:TAG]`, 'e.g. oci:build/base/oci:latest');
  return { dir: m[1]!, tag: m[2] ?? 'latest' };
}

export function blobPath(dir: string, digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new ToolError('bad-digest', `unsupported or malformed digest ${JSON.stringify(digest)}`);
  return join(dir, 'blobs', 'sha256', m[1]!);
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Store bytes as a blob (idempotent). */
export async function writeBlob(dir: string, data: Buffer): Promise<Descriptor & { digest: string }> {
  const digest = sha256(data);
  const path = blobPath(dir, digest);
  if (!(await stat(path).then(() => true, () => false))) await atomicWriteFile(path, data);
  return { mediaType: '', digest, size: data.length };
}

/** Move a finished temp file into place as a blob of the given digest. */
export async function adoptBlob(dir: string, tmp: string, digest: string): Promise<void> {
  const path = blobPath(dir, digest);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  if (await stat(path).then(() => true, () => false)) await rm(tmp, { force: true });
  else await rename(tmp, path);
}

export function blobTemp(dir: string): string {
  return tempSibling(join(dir, 'blobs', 'sha256', 'blob'), 'layer');
}

async function readJsonFile(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ToolError('bad-oci', `${path}: cannot read ${what}: ${(err as Error).message}`);
  }
}

/** Read a blob and check its digest; JSON blobs are small, so this reads them whole. */
export async function readVerifiedBlob(dir: string, d: Descriptor, max = 4 * 1024 * 1024): Promise<Buffer> {
  if (d.size > max) throw new ToolError('bad-oci', `${d.digest}: ${d.size} bytes is too large for ${d.mediaType}`);
  const data = await readFile(blobPath(dir, d.digest)).catch(() => {
    throw new ToolError('bad-oci', `${dir}: missing blob ${d.digest}`);
  });
  if (data.length !== d.size || sha256(data) !== d.digest) throw new ToolError('digest-mismatch', `${dir}: blob ${d.digest} does not match its digest or size`);
  return data;
}

/** Stream a blob, checking its digest at the end (the consumer must not trust it before the stream ends). */
export async function* streamVerifiedBlob(dir: string, d: Descriptor): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(blobPath(dir, d.digest), { highWaterMark: 1 << 20 })) {
    const b = chunk as Buffer;
    hash.update(b);
    size += b.length;
    yield b;
  }
  if (size !== d.size || `sha256:${hash.digest('hex')}` !== d.digest) throw new ToolError('digest-mismatch', `${dir}: blob ${d.digest} does not match its digest or size`);
}

export async function readIndex(dir: string): Promise<{ schemaVersion: 2; mediaType?: string; manifests: Descriptor[] }> {
  const index = (await readJsonFile(join(dir, 'index.json'), 'the image index')) as { manifests?: Descriptor[] };
  if (!Array.isArray(index.manifests)) throw new ToolError('bad-oci', `${dir}/index.json: no manifests`);
  return { schemaVersion: 2, mediaType: MEDIA.index, manifests: index.manifests };
}

/** The manifest for a tag (or the only manifest when the index has one and no tag matches). */
export async function readManifest(dir: string, tag: string): Promise<{ manifest: Manifest; descriptor: Descriptor }> {
  const index = await readIndex(dir);
  const named = index.manifests.filter((m) => m.annotations?.[REF_NAME] === tag);
  const d = named[0] ?? (index.manifests.length === 1 ? index.manifests[0] : undefined);
  if (!d) throw new ToolError('missing-tag', `${dir}: no image tagged ${tag}`, { hint: `tags: ${index.manifests.map((m) => m.annotations?.[REF_NAME] ?? '(none)').join(', ')}` });
  if (d.mediaType !== MEDIA.manifest) throw new ToolError('bad-oci', `${dir}: ${tag} is ${d.mediaType}, not an image manifest`);
  const manifest = JSON.parse((await readVerifiedBlob(dir, d)).toString('utf8')) as Manifest;
  if (manifest.schemaVersion !== 2 || !manifest.config || !Array.isArray(manifest.layers)) throw new ToolError('bad-oci', `${dir}: ${d.digest} is not an OCI image manifest`);
  return { manifest, descriptor: d };
}

export async function readConfig(dir: string, manifest: Manifest): Promise<ImageConfig> {
  return JSON.parse((await readVerifiedBlob(dir, manifest.config)).toString('utf8')) as ImageConfig;
}

/** Point TAG at a manifest in index.json, replacing that tag's previous entry. */
export async function tagManifest(dir: string, tag: string, d: Descriptor): Promise<void> {
  const existing = await stat(join(dir, 'index.json')).then(() => readIndex(dir), () => undefined);
  const manifests = (existing?.manifests ?? []).filter((m) => m.annotations?.[REF_NAME] !== tag);
  manifests.push({ mediaType: MEDIA.manifest, digest: d.digest, size: d.size, annotations: { [REF_NAME]: tag } });
  await atomicWriteFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await atomicWriteFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests }));
}
