/**
 * The treefile rootfs records in the tree (usr/share/debian-atomic/treefile.json): ostree-commit
 * reads its ref, automatic-version-prefix, mutate-os-release and add-commit-metadata. It is part
 * of the tree it is given, so it is read bounded (a regular file, not a symlink) and checked by the
 * treefile contract treefile-lint enforces (its grammar, its limits; the words here are
 * ostree-commit's): the version lands in os-release, metadata in ostree's KEY=VALUE arguments.
 * A bad file is an input error (exit 2) before the repository is touched.
 */
import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { controlCharName, inputError, READ_LIMITS, readBoundedText } from '@debian-atomic/lib';
import {
  IMAGE_TREEFILE,
  imageTreefileProblem,
  imageTreefileReader,
  type ImageTreefile,
} from '@debian-atomic/lib/contracts/image-treefile';
import { LIMITS, METADATA_KEY, OSTREE_REF, VERSION_PREFIX } from '@debian-atomic/lib/contracts/treefile';

export const TREEFILE_IN_TREE = IMAGE_TREEFILE;

const reader = imageTreefileReader(['ref', 'mutate-os-release', 'automatic-version-prefix', 'add-commit-metadata']);
export type TreefileBits = Pick<
  ImageTreefile,
  'ref' | 'mutate-os-release' | 'automatic-version-prefix' | 'add-commit-metadata'
>;

export { OSTREE_REF };
export const MAX_REF = LIMITS.name;
const MAX_METADATA_KEYS = LIMITS.metadataKeys;
/** One KEY=VALUE argument must stay well under Linux's 128 KiB limit on a single argument. */
const MAX_METADATA_VALUE = LIMITS.metadataValue;
/** JSON.stringify recurses: deeper values overflow the stack before they could be committed. */
const MAX_DEPTH = 64;

/** The problem of a ref (from the treefile or --ref), or null. */
export function refProblem(ref: string): string | null {
  if (ref.length > MAX_REF) return `a ref is at most ${MAX_REF} characters`;
  return OSTREE_REF.test(ref) ? null : 'not a valid OSTree ref (like "debian/13/x86_64/base")';
}

/** Whether JSON text nests deeper than `max` arrays/objects. Linear, no parse. */
export function jsonTooDeep(text: string, max: number = MAX_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** What is wrong with the bits ostree-commit uses, as "key: problem", or null. */
export function treefileProblem(data: unknown): string | null {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return 'expected a JSON object';
  const tf = data as Record<string, unknown>;
  const ref = tf.ref;
  if (ref !== undefined) {
    const p = typeof ref === 'string' ? refProblem(ref) : 'expected a string';
    if (p) return `ref: ${p}`;
  }
  const prefix = tf['automatic-version-prefix'];
  if (
    prefix !== undefined &&
    (typeof prefix !== 'string' || prefix.length > LIMITS.versionPrefix || !VERSION_PREFIX.test(prefix))
  )
    return 'automatic-version-prefix: expected at most 64 letters, digits, ".", "_", "~", "+", "-" (it lands in os-release)';
  const mutate = tf['mutate-os-release'];
  if (mutate !== undefined) {
    if (typeof mutate !== 'string' || mutate === '' || mutate.length > LIMITS.name)
      return 'mutate-os-release: expected a string of 1 to 256 characters';
    const c = controlCharName(mutate);
    if (c) return `mutate-os-release: must be one line: it contains ${c}`;
  }
  const meta = tf['add-commit-metadata'];
  if (meta !== undefined) {
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
      return 'add-commit-metadata: expected an object';
    const keys = Object.keys(meta);
    if (keys.length > MAX_METADATA_KEYS) return `add-commit-metadata: more than ${MAX_METADATA_KEYS} keys`;
    for (const k of keys) {
      if (!METADATA_KEY.test(k))
        return `add-commit-metadata: ${JSON.stringify(k.slice(0, 40))}: not a valid metadata key (no "=", white space or control characters; at most 256)`;
      if (JSON.stringify((meta as Record<string, unknown>)[k]).length > MAX_METADATA_VALUE)
        return `add-commit-metadata.${k}: larger than ${MAX_METADATA_VALUE} characters as JSON`;
    }
  }
  // The words above are ostree-commit's; the contract has the last say on what is accepted.
  return imageTreefileProblem(reader, data);
}

export function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'is a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The treefile of the tree, or {} when it has none. */
export async function readTreefile(tree: string): Promise<TreefileBits> {
  const file = join(tree, TREEFILE_IN_TREE);
  const st = await lstat(file).catch(() => null);
  if (!st) return {};
  // rootfs writes a regular file: a link could lead out of the tree, a FIFO would hang the read.
  if (!st.isFile()) throw inputError(`${file}: cannot read: ${kindOf(st)}, expected a regular file`);
  const text = await readBoundedText(file, { maxBytes: READ_LIMITS.config, what: 'treefile' });
  if (jsonTooDeep(text)) throw inputError(`${file}: JSON nested deeper than ${MAX_DEPTH} levels, refusing to read it`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw inputError(`${file}: not valid JSON`, { hint: 'rootfs writes this file; was the tree built by it?' });
  }
  const problem = treefileProblem(data);
  if (problem) throw inputError(`${file}: ${problem}`);
  return reader.parse(data);
}
