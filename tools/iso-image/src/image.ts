/**
 * The image to install, as an OCI layout on the ISO (/image): the one manifest the --oci
 * reference names, its config and layers, copied blob by blob with their digests checked, and an
 * index.json that tags it. `atomic install to-disk --source oci:/run/initramfs/live/image:TAG` reads it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ToolError } from '@debian-atomic/lib';
import { MEDIA, readImage, readManifest, type OstreeImage } from '@debian-atomic/oci-wrap';

const REF_NAME = 'org.opencontainers.image.ref.name';

export interface ImageCopy {
  image: OstreeImage;
  /** The manifest's digest (what the installed system records as its image). */
  digest: string;
  bytes: number;
}

function blob(dir: string, digest: string): string {
  return join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** Copy one blob, hashing it on the way: a corrupt layout is refused, not written to a CD. */
async function copyBlob(src: string, dest: string, digest: string, size: number): Promise<void> {
  const hash = createHash('sha256');
  let n = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      n += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(createReadStream(blob(src, digest)), tap, createWriteStream(blob(dest, digest), { flags: 'wx' }));
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== digest || n !== size)
    throw new ToolError(
      'bad-image',
      `${src}: blob ${digest.slice(0, 19)}… holds ${n} bytes with digest ${got.slice(0, 19)}…, the manifest says ${size} bytes`,
      { exitCode: 2 },
    );
}

export async function copyImage(src: string, tag: string, dest: string): Promise<ImageCopy> {
  const image = await readImage(src, tag);
  const { descriptor } = await readManifest(src, tag);
  const blobs = [descriptor, image.manifest.config, ...image.manifest.layers];
  for (const d of blobs)
    if (!d.digest.startsWith('sha256:'))
      throw new ToolError('bad-image', `${src}: blob ${d.digest.slice(0, 19)}… is not sha256`, { exitCode: 2 });
  await mkdir(join(dest, 'blobs', 'sha256'), { recursive: true });
  const seen = new Set<string>();
  let bytes = 0;
  for (const d of blobs) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    await copyBlob(src, dest, d.digest, d.size);
    bytes += d.size;
  }
  await writeFile(join(dest, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const manifests = [
    { mediaType: MEDIA.manifest, digest: descriptor.digest, size: descriptor.size, annotations: { [REF_NAME]: tag } },
  ];
  await writeFile(join(dest, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests }));
  return { image, digest: descriptor.digest, bytes };
}
