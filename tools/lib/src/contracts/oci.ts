/**
 * The OCI JSON documents oci-wrap, atomic and disk-image read, as zod schemas (image-spec v1.1): the
 * `oci-layout` file, the image index, the image manifest, their descriptors and
 * the image config. Only the fields we use are described, but those strictly
 * (a digest is `algorithm:hex` of the right length, a size a non-negative
 * integer of plausible magnitude, a media type `type/subtype`); unknown fields
 * are kept, as the spec requires of readers. Every JSON read from a layout or a
 * registry goes through `parseOciJson`, so a malformed document is a clear
 * input error naming its file, never a cast that fails later.
 */
import { z } from 'zod';
import { inputError } from '../errors.js';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** Layer media types the importer reads (Docker's gzip layer type is what older registries hand out). */
export const GZIP_LAYERS: readonly string[] = [MEDIA.layerGzip, 'application/vnd.docker.image.rootfs.diff.tar.gzip'];
export const TAR_LAYERS: readonly string[] = [MEDIA.layerTar, 'application/vnd.docker.image.rootfs.diff.tar'];

/** The largest blob a descriptor may claim (1 TiB): anything above is not an OS image. */
export const MAX_BLOB_SIZE = 2 ** 40;

/** The registered algorithms (image-spec descriptor.md); oci-wrap itself reads and writes sha256 only. */
export const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
export const SHA256 = /^sha256:[0-9a-f]{64}$/;

// RFC 6838 type/subtype names (restricted-name: 1–127 characters).
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export const digest = z.string().regex(DIGEST, 'expected a digest sha256:<64 lowercase hex> (or sha512:<128 hex>)');
export const sha256Digest = z.string().regex(SHA256, 'expected a digest sha256:<64 lowercase hex>');
export const mediaType = z.string().regex(MEDIA_TYPE, 'expected a media type type/subtype');
export const size = z
  .number()
  .int('expected an integer size')
  .min(0, 'expected a size of at least 0')
  .max(MAX_BLOB_SIZE, `expected a size of at most ${MAX_BLOB_SIZE} bytes`);
export const annotations = z.record(z.string(), z.string());

export const descriptorSchema = z.looseObject({
  mediaType,
  digest,
  size,
  annotations: annotations.optional(),
});

export const ociLayoutSchema = z.looseObject({
  imageLayoutVersion: z.string().regex(/^1\.\d+\.\d+$/, 'expected imageLayoutVersion 1.x.y'),
});

export const indexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MEDIA.index).optional(),
  manifests: z.array(descriptorSchema),
  annotations: annotations.optional(),
});

export const manifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MEDIA.manifest).optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  annotations: annotations.optional(),
});

export const imageConfigSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  created: z.string().optional(),
  // Docker writes "Labels": null for an image without labels.
  config: z.looseObject({ Labels: annotations.nullable().optional() }).nullable().optional(),
  rootfs: z.looseObject({ type: z.literal('layers'), diff_ids: z.array(sha256Digest) }),
  history: z
    .array(
      z.looseObject({
        created: z.string().optional(),
        created_by: z.string().optional(),
        comment: z.string().optional(),
        empty_layer: z.boolean().optional(),
      }),
    )
    .optional(),
});

export type Descriptor = z.infer<typeof descriptorSchema>;
export type OciLayout = z.infer<typeof ociLayoutSchema>;
export type ImageIndex = z.infer<typeof indexSchema>;
export type Manifest = z.infer<typeof manifestSchema>;
export type ImageConfig = z.infer<typeof imageConfigSchema>;

/** A message quoting hostile bytes, made safe for a terminal (and for a log grep reads as text). */
// eslint-disable-next-line no-control-regex
export const printable = (s: string): string =>
  s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function issuePath(path: readonly PropertyKey[]): string {
  return (
    path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(top level)'
  );
}

/**
 * Parse JSON text as one of the documents above; `source` names the file or blob for the
 * message. Errors are input errors (exit 2): not JSON, or the first few schema issues.
 */
export function parseOciJson<S extends z.ZodType>(schema: S, text: string, source: string, what: string): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw inputError(`${source}: ${what} is not JSON: ${printable((err as Error).message)}`);
  }
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues;
  const lines = issues.slice(0, 5).map((i) => printable(`${issuePath(i.path)}: ${i.message}`));
  if (issues.length > 5) lines.push(`(${issues.length - 5} more)`);
  throw inputError(
    `${source}: not a valid ${what}: ${lines[0]}`,
    lines.length > 1 ? { detail: lines.slice(1).join('\n') } : {},
  );
}
