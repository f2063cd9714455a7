/**
 * The layer cache an installed system keeps (tools/atomic reads and writes it; disk-image seeds it
 * with the image a disk was made from): one OCI image layout at <root>/var/lib/atomic/images, one
 * tag per image reference, annotated with the reference and the digest it had at its source.
 * skopeo does not download a blob whose file is already in an oci: destination, so an update
 * fetches only the layers that changed.
 */
import { createHash } from 'node:crypto';

export const CACHE_DIR = 'var/lib/atomic/images';
/** Index annotations: the reference a tag was pulled from and the manifest digest it had there. */
export const IMAGE_ANNOTATION = 'org.debian-atomic.image';
export const DIGEST_ANNOTATION = 'org.debian-atomic.image-digest';

/**
 * The layout's tag for an image reference: readable, unique through a hash of the whole
 * reference, and within containers/image's grammar for an oci: reference name (alphanumeric
 * runs joined by single separators; "_" is not one).
 */
export function cacheTag(reference: string): string {
  const readable = reference
    .replace(/^[a-z-]+:(\/\/)?/, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .slice(0, 80)
    .replace(/^-+|-+$/g, '');
  const hash = createHash('sha256').update(reference).digest('hex').slice(0, 16);
  return readable ? `${readable}-${hash}` : hash;
}
