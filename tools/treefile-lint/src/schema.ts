/**
 * The treefile format is a stage contract, defined in @debian-atomic/lib/contracts/treefile (rootfs,
 * comps-sync and the readers of the in-image treefile use the same schema); what is treefile-lint's
 * own is how includes merge and the JSON Schema it prints.
 */
import { z } from 'zod';
import {
  DEBIAN_ARCHES,
  treefileSchema,
  type DebianArch,
  type TreefileKey,
} from '@debian-atomic/lib/contracts/treefile';

export * from '@debian-atomic/lib/contracts/treefile';

/**
 * How a key of an included file combines with the includer's (rpm-ostree's treefile_merge):
 * scalar — the includer wins; append — included items first; packages — set union, with
 * exclude-packages applied across the include boundary; set — sorted union; map — merged,
 * the includer wins; file — per file, not merged.
 */
export type MergeRule = 'scalar' | 'append' | 'packages' | 'set' | 'map' | 'file';
const archRules = Object.fromEntries(DEBIAN_ARCHES.map((a) => [`packages-${a}`, 'packages'])) as Record<
  `packages-${DebianArch}`,
  'packages'
>;
export const MERGE_RULES: { readonly [K in TreefileKey]-?: MergeRule } = {
  ref: 'scalar',
  include: 'file',
  packages: 'packages',
  ...archRules,
  'exclude-packages': 'packages',
  recommends: 'scalar',
  repos: 'append',
  units: 'append',
  'default-target': 'scalar',
  'postprocess-script': 'scalar',
  postprocess: 'append',
  'add-files': 'append',
  'remove-files': 'append',
  'etc-group-members': 'append',
  'initramfs-args': 'append',
  'kernel-args': 'append',
  'tmp-is-dir': 'scalar',
  'machineid-compat': 'scalar',
  'mutate-os-release': 'scalar',
  'add-commit-metadata': 'map',
  'automatic-version-prefix': 'scalar',
  'container-cmd': 'scalar',
  suite: 'scalar',
  release: 'scalar',
  architecture: 'scalar',
  'mmdebstrap-variant': 'scalar',
  osname: 'scalar',
  tasks: 'set',
  'tasks-file': 'file',
  'hwdetect-policy': 'scalar',
  'secure-boot': 'scalar',
};

/** The JSON Schema of a treefile as written (for editors: yaml-language-server's `$schema`). */
export function treefileJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(treefileSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
}
