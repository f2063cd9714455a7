/**
 * The installed system's image layer cache (tools/atomic's /var/lib/atomic/images), seeded with
 * the image a disk is made from: one OCI layout, tagged and annotated as atomic tags what it pulls.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '@debian-atomic/lib';
import { indexSchema, parseOciJson } from '@debian-atomic/lib/contracts/oci';
import { cacheTag, DIGEST_ANNOTATION, IMAGE_ANNOTATION } from '@debian-atomic/oci-wrap';

/** Copy the image into a new layout DIR (digests kept as they are at the source); returns its oci: reference. */
export async function seedImageCache(
  source: string,
  dir: string,
  reference: string,
  tlsVerify: boolean,
): Promise<string> {
  const target = `oci:${dir}:${cacheTag(reference)}`;
  const tls = source.startsWith('docker://') && !tlsVerify ? ['--src-tls-verify=false'] : [];
  await run('skopeo', ['copy', '--quiet', '--preserve-digests', ...tls, source, target], {
    providedBy: 'skopeo',
    what: `pull ${source}`,
  });
  return target;
}

/** Record the reference and digest the way atomic records what it pulls (its gc keeps what deployments name). */
export async function annotateImageCache(dir: string, reference: string, digest: string | undefined): Promise<void> {
  const file = join(dir, 'index.json');
  const index = parseOciJson(indexSchema, await readFile(file, 'utf8'), file, 'image index');
  for (const m of index.manifests)
    m.annotations = {
      ...m.annotations,
      [IMAGE_ANNOTATION]: reference,
      ...(digest ? { [DIGEST_ANNOTATION]: digest } : {}),
    };
  await writeFile(file, JSON.stringify(index));
}
