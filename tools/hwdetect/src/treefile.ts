/**
 * The image build's hwdetect step: the resolved treefile's hwdetect-policy planned for any
 * hardware, the plan's packages after the treefile's own (no repeats), its archive components
 * added to the repos of the Debian archive only (a third-party repo has no non-free-firmware).
 */
import { basename } from 'node:path';
import type { ResolvedTreefile } from '@debian-atomic/lib/contracts/treefile';
import type { Plan } from './plan.js';
import { COMPONENTS } from './policy.js';

type Repo = ResolvedTreefile['repos'][number];

/** The keyring files of Debian's debian-archive-keyring package (.pgp since trixie's 2025.1). */
export const DEBIAN_ARCHIVE_KEYRINGS: ReadonlySet<string> = new Set([
  'debian-archive-keyring.gpg',
  'debian-archive-keyring.pgp',
]);
const DEBIAN_COMPONENTS: ReadonlySet<string> = new Set(COMPONENTS);

/**
 * A repo of the Debian archive: signed by Debian's archive keyring (apt's trust anchor: the
 * mirror URL may be a proxy, a snapshot or file://, the name and suite are free), with only the
 * archive's components.
 */
export function isDebianArchive(repo: Repo): boolean {
  return (
    repo.keyring !== undefined &&
    DEBIAN_ARCHIVE_KEYRINGS.has(basename(repo.keyring)) &&
    repo.components.every((c) => DEBIAN_COMPONENTS.has(c))
  );
}

/** `list` as it is, then what `more` adds to it. */
const appendNew = <T>(list: readonly T[], more: readonly T[]): T[] => [
  ...list,
  ...[...new Set(more)].filter((x) => !list.includes(x)),
];

export function mergePlanIntoTreefile(tf: ResolvedTreefile, plan: Plan): ResolvedTreefile {
  return {
    ...tf,
    packages: appendNew(
      tf.packages,
      plan.packages.map((p) => p.name),
    ),
    repos: tf.repos.map((r) =>
      isDebianArchive(r) ? { ...r, components: appendNew(r.components, plan.components) } : r,
    ),
  };
}
