/**
 * The live system: the installer commit checked out with ostree into a plain directory, made
 * bootable as a plain (non-ostree) root the way `ostree admin deploy` makes a deployment's
 * /etc (a copy of /usr/etc), then compressed into LiveOS/squashfs.img for dracut's dmsquash-live.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { toolboxRun, ToolError, usageError } from '@debian-atomic/lib';

export interface LiveTree {
  commit: string;
  /** The one kernel's version (/usr/lib/modules/KVER/vmlinuz). */
  kernel: string;
  vmlinuz: string;
  initrd: string;
}

/** --live-ref's commit; a ref the repo does not hold is a usage error (exit 2), like every input. */
export async function resolveCommit(repo: string, ref: string): Promise<string> {
  const r = await toolboxRun('ostree', ['rev-parse', `--repo=${repo}`, ref], {
    binds: [repo],
    providedBy: 'ostree',
    what: `find ${ref} in ${repo}`,
    allowExitCodes: [1],
  });
  if (r.exitCode !== 0)
    throw usageError(
      `--live-ref ${ref}: ${r.stderr.trim().replace(/^error: /, '') || 'not found'} in ${repo}`,
      'make VARIANT=installer commit builds the live system (ref debian/13/x86_64/installer)',
    );
  return r.stdout.trim();
}

/** The kernel of a tree: exactly one /usr/lib/modules/KVER with vmlinuz and initramfs.img. */
export async function findKernel(
  root: string,
  what: string,
): Promise<{ kernel: string; vmlinuz: string; initrd: string }> {
  const modules = join(root, 'usr/lib/modules');
  const found: string[] = [];
  for (const k of (await readdir(modules).catch(() => [] as string[])).sort())
    if ((await stat(join(modules, k, 'vmlinuz')).catch(() => null))?.isFile()) found.push(k);
  if (found.length !== 1)
    throw new ToolError(
      'kernel',
      `${what}: ${found.length ? `${found.length} kernels (${found.join(', ')})` : 'no kernel'} in /usr/lib/modules, expected exactly one`,
      {
        hint: 'the live commit boots one kernel: its treefile installs linux-image-amd64 once (variants/treefiles/installer.yaml)',
      },
    );
  const kernel = found[0]!;
  const initrd = join(modules, kernel, 'initramfs.img');
  if (!(await stat(initrd).catch(() => null))?.isFile())
    throw new ToolError('kernel', `${what}: no /usr/lib/modules/${kernel}/initramfs.img`, {
      hint: 'usr-unify builds it with dracut: was the commit made by the pipeline (make VARIANT=installer commit)?',
    });
  return { kernel, vmlinuz: join(modules, kernel, 'vmlinuz'), initrd };
}

/** Check the commit out into `dir` (which must not exist) and give it the /etc a deployment gets. */
export async function checkoutLive(repo: string, commit: string, dir: string): Promise<LiveTree> {
  await toolboxRun('ostree', ['checkout', `--repo=${repo}`, commit, dir], {
    binds: [repo, join(dir, '..')],
    providedBy: 'ostree',
    what: `check out ${commit.slice(0, 12)}`,
  });
  if (!(await stat(join(dir, 'usr/etc')).catch(() => null))?.isDirectory())
    throw new ToolError('not-usr-unified', `${commit.slice(0, 12)}: no /usr/etc in the commit`, {
      hint: 'the live commit comes from the pipeline (usr-unify moves /etc to /usr/etc)',
    });
  const etc = await readdir(join(dir, 'etc')).catch(() => null);
  if (etc?.length)
    throw new ToolError('not-usr-unified', `${commit.slice(0, 12)}: the commit has both /etc and /usr/etc`, {
      hint: 'ostree keeps /etc in /usr/etc; the pipeline makes such commits',
    });
  await toolboxRun('sh', ['-ec', 'rmdir "$1/etc" 2>/dev/null || :; cp -a "$1/usr/etc" "$1/etc"', 'sh', dir], {
    binds: [dir],
    what: 'copy /usr/etc to /etc',
  });
  return { commit, ...(await findKernel(dir, commit.slice(0, 12))) };
}

/**
 * mksquashfs with fixed options: the same tree and SOURCE_DATE_EPOCH give the same bytes
 * (squashfs-tools takes the file system's and every file's time from SOURCE_DATE_EPOCH, and
 * refuses -all-time or -mkfs-time beside it).
 */
export function squashfsArgs(dir: string, out: string): string[] {
  return [dir, out, '-noappend', '-comp', 'zstd', '-b', '1M', '-no-progress', '-quiet'];
}

export async function squash(dir: string, out: string, epoch: string): Promise<void> {
  await toolboxRun('mksquashfs', squashfsArgs(dir, out), {
    binds: [dir, join(out, '..')],
    env: { SOURCE_DATE_EPOCH: epoch },
    providedBy: 'squashfs-tools',
    what: 'compress the live system',
  });
}
