/**
 * Install .debs built in this run (make debs) into an image's root filesystem with the tree's
 * own dpkg, run inside it (bubblewrap): its database records them and checks their Depends
 * against what the variant installed (a variant that ships hwdetect must include nodejs).
 * Our packages have no maintainer scripts, so nothing runs in the tree but dpkg. Run before
 * usr-unify, which moves the dpkg database to /usr.
 */
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { inputError, ToolError } from './errors.js';
import { sandboxRun } from './sandbox.js';

/** Where the .debs are staged in the tree, so its dpkg can read them; removed afterwards. */
export const DEB_STAGE = 'var/tmp/debian-atomic-debs';

export interface InstallDebsResult {
  root: string;
  installed: string[];
}

export async function installDebs(root: string, debs: readonly string[]): Promise<InstallDebsResult> {
  const tree = resolve(root);
  const dpkg = await stat(join(tree, 'usr/bin/dpkg')).catch(() => null);
  if (!dpkg?.isFile()) throw inputError(`${root}: no dpkg: not a Debian tree (or already usr-unified)`);
  for (const deb of debs) {
    const st = await stat(deb).catch(() => null);
    if (!st?.isFile())
      throw inputError(`${deb}: cannot read the .deb: ${st ? 'not a regular file' : 'no such file'}`, {
        hint: 'make debs builds them',
      });
  }
  const stage = join(tree, DEB_STAGE);
  await mkdir(stage, { recursive: true });
  try {
    for (const deb of debs) await copyFile(deb, join(stage, basename(deb)));
    await sandboxRun({ root: tree, env: { DEBIAN_FRONTEND: 'noninteractive' } }, 'dpkg', [
      '--install',
      ...debs.map((d) => `/${DEB_STAGE}/${basename(d)}`),
    ]).catch((err: unknown) => {
      if (!(err instanceof ToolError)) throw err;
      throw new ToolError('dpkg', `dpkg failed in ${root}`, {
        detail: err.detail,
        hint: "if a dependency is missing (nodejs...), add it to the variant's packages",
        cause: err,
      });
    });
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  return { root: tree, installed: debs.map((d) => basename(d)) };
}

/** The last lines apt and dpkg printed that say what went wrong. */
export function aptReason(output: string): string {
  const lines = output.split('\n');
  const dpkgFailed = [...output.matchAll(/^dpkg: error processing (?:package|archive) (\S+) \(([^)]*)\):\n\s*(.*)$/gm)];
  if (dpkgFailed.length) return dpkgFailed.map((m) => `${m[1]}: ${m[3]!.trim()}`).join('; ');
  const errors = lines
    .filter((l) => /^E: /.test(l) && !/Sub-process .* returned an error code/.test(l))
    .map((l) => l.slice(3));
  return (
    errors.slice(0, 3).join('; ') ||
    lines
      .filter((l) => l.trim())
      .slice(-3)
      .join(' / ')
  );
}
