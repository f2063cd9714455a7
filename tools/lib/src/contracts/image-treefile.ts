/**
 * The treefile rootfs records in the image, usr/share/debian-atomic/treefile.json: the resolved
 * treefile with its host paths (add-files sources, the postprocess script, the hwdetect policy)
 * turned into content digests. usr-unify, ostree-commit and disk-image read it, each only the keys
 * it uses, checked by the resolved treefile's own schema (one grammar from treefile-lint to the
 * disk); other keys are not their business, so a tree from a newer rootfs still reads.
 */
import { z } from 'zod';
import { resolvedTreefileSchema } from './treefile.js';

/** Where the treefile is in a tree; in a commit it is this path from the root. */
export const IMAGE_TREEFILE = 'usr/share/debian-atomic/treefile.json';

export const imageTreefileSchema = resolvedTreefileSchema.partial().loose();
export type ImageTreefile = z.infer<typeof imageTreefileSchema>;
type Key = keyof typeof imageTreefileSchema.shape;

/** The schema of what one reader takes from the treefile: those keys checked, the rest kept as they are. */
export function imageTreefileReader<K extends Key>(keys: readonly K[]) {
  // (zod's pick cannot check a mask of a generic K: the cast says what it is)
  return imageTreefileSchema.pick<{ [P in K]: true }>(Object.fromEntries(keys.map((k) => [k, true])) as never).loose();
}

/** The first problem of `data` for a reader's schema, as "key.path: message", or null. */
export function imageTreefileProblem(schema: z.ZodType, data: unknown): string | null {
  const r = schema.safeParse(data);
  if (r.success) return null;
  const issue = r.error.issues[0]!;
  return `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
}
