/**
 * The treefile rootfs records in the tree (usr/share/debian-atomic/treefile.json): usr-unify reads
 * only its initramfs-args, which become dracut arguments, checked by the treefile contract (the words
 * here are usr-unify's). The file is part of the tree it is given, so it is read as any file of the
 * tree: bounded, regular, never through a symlink out of it.
 */
import { posix } from 'node:path';
import { controlCharName, inputError, READ_LIMITS } from '@debian-atomic/lib';
import { IMAGE_TREEFILE, imageTreefileProblem, imageTreefileReader } from '@debian-atomic/lib/contracts/image-treefile';
import { LIMITS } from '@debian-atomic/lib/contracts/treefile';
import { lstatOrNull, readTreeText, resolveInTree } from './tree.js';

export const TREEFILE_IN_TREE = IMAGE_TREEFILE;
/** More than any dracut command line needs; each argument one line of at most 4096 characters. */
const MAX_ARGS = LIMITS.args;
const MAX_ARG = LIMITS.text;
const reader = imageTreefileReader(['initramfs-args']);

/** The treefile's initramfs-args, or [] when the tree has no treefile. Bad input: exit 2. */
export async function initramfsArgs(root: string): Promise<string[]> {
  // Absent: no treefile. A link is followed inside the tree; if that leads nowhere, it is an error.
  if (!(await lstatOrNull(posix.join(root, TREEFILE_IN_TREE)))) return [];
  const file = await resolveInTree(root, TREEFILE_IN_TREE);
  const text = await readTreeText(root, TREEFILE_IN_TREE, READ_LIMITS.config);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw inputError(`${file}: not valid JSON`, { hint: 'rootfs writes this file; was the tree built by it?' });
  }
  const args =
    data !== null && typeof data === 'object' && !Array.isArray(data)
      ? (data as Record<string, unknown>)['initramfs-args']
      : undefined;
  if (args === undefined) return [];
  if (!Array.isArray(args) || args.length > MAX_ARGS)
    throw inputError(`${file}: initramfs-args: expected a list of at most ${MAX_ARGS} arguments`);
  args.forEach((a, i) => {
    const problem =
      typeof a !== 'string' || a === ''
        ? 'expected a non-empty string'
        : a.length > MAX_ARG
          ? `longer than ${MAX_ARG} characters`
          : controlCharName(a) && `must be one line: it contains ${controlCharName(a)}`;
    if (problem) throw inputError(`${file}: initramfs-args.${i}: ${problem}`);
  });
  // The words above are usr-unify's; the contract has the last say on what is accepted.
  const problem = imageTreefileProblem(reader, data);
  if (problem) throw inputError(`${file}: ${problem}`);
  return reader.parse(data)['initramfs-args'] ?? [];
}
