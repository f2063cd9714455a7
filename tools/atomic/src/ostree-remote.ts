/**
 * Updates from an OSTree remote (the origin `refspec=REMOTE:REF`), as `ostree admin upgrade`
 * fetches them: `ostree pull` with a timestamp check against the deployed commit (no
 * downgrades), or only the commit object for `--check` (what rpm-ostree upgrade --check does).
 */
import { fileURLToPath } from 'node:url';
import { ToolError } from '@debian-atomic/lib';
import { REFSPEC } from './origin.js';
import { ostree, parseShowDate, repoOf } from './sysroot.js';

export interface Refspec {
  remote?: string | undefined;
  ref: string;
}

export function parseRefspec(refspec: string): Refspec {
  if (!REFSPEC.test(refspec))
    throw new ToolError('usage', `'${refspec}' is not an OSTree refspec (REMOTE:REF or REF)`, { exitCode: 2 });
  const i = refspec.indexOf(':');
  return i < 0 ? { ref: refspec } : { remote: refspec.slice(0, i), ref: refspec.slice(i + 1) };
}

export interface CommitInfo {
  commit: string;
  version?: string | undefined;
  timestamp?: number | undefined;
}

/** A remote served from a local directory (file://) must be visible to a toolbox ostree. */
async function remoteBinds(sysroot: string, remote: string): Promise<string[]> {
  const r = await ostree(
    [`--repo=${repoOf(sysroot)}`, 'remote', 'show-url', remote],
    [sysroot],
    `read the URL of the remote ${remote}`,
  ).catch((err: unknown) => {
    if (err instanceof ToolError)
      throw new ToolError(
        'no-remote',
        `the origin names the remote '${remote}', which ${repoOf(sysroot)} does not have`,
        { detail: err.detail, hint: `ostree --repo=${repoOf(sysroot)} remote list` },
      );
    throw err;
  });
  const url = r.stdout.trim();
  return url.startsWith('file://') ? [fileURLToPath(url)] : [];
}

export async function commitInfo(sysroot: string, rev: string): Promise<CommitInfo> {
  const show = await ostree([`--repo=${repoOf(sysroot)}`, 'show', rev], [sysroot], `read the commit ${rev}`);
  const commit = /^commit ([0-9a-f]{64})$/m.exec(show.stdout)?.[1];
  if (!commit)
    throw new ToolError('ostree-show', `ostree show ${rev}: no commit checksum in its output`, {
      detail: show.stdout.slice(0, 300),
    });
  const version = /^Version: (.*)$/m.exec(show.stdout)?.[1];
  return { commit, version, timestamp: parseShowDate(show.stdout) };
}

export interface PullOptions {
  /** Only the commit object (is there an update?); the ref moves to a partial commit, as rpm-ostree's check does. */
  metadataOnly?: boolean;
  /** Refuse a commit older than this one (ostree admin upgrade's downgrade protection). */
  notOlderThan?: string | undefined;
}

/** Fetch the newest commit of REMOTE:REF into the sysroot's repository (a local REF is read as it is). */
export async function pullRefspec(sysroot: string, refspec: string, o: PullOptions = {}): Promise<CommitInfo> {
  const { remote, ref } = parseRefspec(refspec);
  if (remote !== undefined) {
    const binds = [sysroot, ...(await remoteBinds(sysroot, remote))];
    const args = [
      `--repo=${repoOf(sysroot)}`,
      'pull',
      ...(o.metadataOnly ? ['--commit-metadata-only'] : []),
      ...(o.notOlderThan ? [`--timestamp-check-from-rev=${o.notOlderThan}`] : []),
      remote,
      ref,
    ];
    await ostree(args, binds, `fetch ${refspec}`, { network: true }).catch((err: unknown) => {
      if (err instanceof ToolError && /chronologically older/.test(`${err.detail ?? ''}`)) {
        throw new ToolError(
          'downgrade',
          `${refspec} now names a commit older than the deployed one: refusing to downgrade`,
          {
            detail: err.detail,
            hint: `to go back on purpose: atomic switch ${refspec} (or atomic rollback)`,
          },
        );
      }
      throw err;
    });
  }
  return commitInfo(sysroot, refspec);
}
