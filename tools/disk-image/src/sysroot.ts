/**
 * A deployed OSTree sysroot in a plain directory, made with the real ostree:
 * init-fs, os-init, pull-local, admin deploy. ostree is told to write only BLS
 * entries (sysroot.bootloader=none: no block device for grub-mkconfig here) with /boot-prefixed
 * paths; grub.ts then writes the first GRUB menu and turns ostree's grub2 integration on.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { commitKargs as libCommitKargs, toolboxRun, ToolError } from '@debian-atomic/lib';
import { IMAGE_TREEFILE, imageTreefileProblem, imageTreefileReader } from '@debian-atomic/lib/contracts/image-treefile';

const TREEFILE = `/${IMAGE_TREEFILE}`;

/**
 * What disk-image reads of the treefile recorded in the commit: the stateroot name (a directory
 * of the sysroot), the kernel arguments (the BLS `options` line) and secure-boot, checked by the
 * treefile contract. Other keys are not its business.
 */
export const commitTreefileSchema = imageTreefileReader(['osname', 'kernel-args', 'secure-boot']);
export type CommitTreefile = z.infer<typeof commitTreefileSchema>;

/** The treefile's JSON text, checked; a problem names the commit and the file. */
export function parseCommitTreefile(text: string, where: string): CommitTreefile {
  const fail = (message: string) =>
    new ToolError('bad-treefile', `${where}:${TREEFILE}: ${message}`, {
      hint: 'the commit carries a treefile disk-image cannot use',
    });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw fail(`not JSON: ${(err as Error).message}`);
  }
  const problem = imageTreefileProblem(commitTreefileSchema, json);
  if (problem) throw fail(problem);
  return commitTreefileSchema.parse(json);
}

export interface DeployOptions {
  repo: string;
  ref: string;
  sysroot: string;
  osname: string;
  kernelArgs: string[];
  remote?: { name: string; url: string; gpgVerify: boolean; gpgKey?: string | undefined } | undefined;
  /** The OCI image the system updates from (`atomic upgrade`), with the manifest digest it was made from. */
  image?: { reference: string; digest?: string | undefined } | undefined;
  /** The commit to copy when `ref` names it only in the new sysroot (the source repository has it under another name, or none). */
  commit?: string | undefined;
}

/** A deployment origin naming an image, as tools/atomic reads it (its src/origin.ts). */
export function imageOrigin(image: { reference: string; digest?: string | undefined }): string {
  return `[origin]\ncontainer-image-reference=${image.reference}\n${image.digest ? `\n[atomic]\nimage-digest=${image.digest}\n` : ''}`;
}

export interface Deployment {
  commit: string;
  osname: string;
  /** The deployment's root, relative to the sysroot. */
  path: string;
  kernelArgs: string[];
  bootEntry: string;
}

async function ostree(args: string[], binds: string[], what: string) {
  return toolboxRun('ostree', args, { binds, providedBy: 'ostree', what });
}

/** Commit metadata and the treefile recorded in the commit (osname, kernel-args). */
export async function commitInfo(
  repo: string,
  ref: string,
): Promise<{ commit: string; treefile: CommitTreefile; version: string | null; kargsD: string[] }> {
  const commit = await ostree([`--repo=${repo}`, 'rev-parse', ref], [repo], `find ${ref}`).then(
    (r) => r.stdout.trim(),
    () => {
      throw new ToolError('missing-ref', `${repo}: no ref ${ref}`, {
        hint: `ostree --repo=${repo} refs lists what is there`,
      });
    },
  );
  const text = await ostree([`--repo=${repo}`, 'cat', commit, TREEFILE], [repo], 'read the treefile').then(
    (r) => r.stdout,
    () => null,
  );
  const tf = text === null ? {} : parseCommitTreefile(text, commit.slice(0, 12));
  const version = await ostree(
    [`--repo=${repo}`, 'show', '--print-metadata-key=version', commit],
    [repo],
    'read the version',
  ).then(
    (r) => r.stdout.trim().replace(/^'(.*)'$/, '$1'),
    () => null,
  );
  return { commit, treefile: tf, version, kargsD: await commitKargs(repo, commit) };
}

/**
 * The kernel arguments of the commit's bootc-style /usr/lib/bootc/kargs.d/*.toml
 * (hwdetect writes them), as bootc applies them at install: files sorted by name.
 */
export async function commitKargs(repo: string, commit: string): Promise<string[]> {
  return libCommitKargs(repo, commit, { binds: [repo], arch: 'x86_64', tool: 'disk-image' });
}

export async function deploySysroot(o: DeployOptions): Promise<Deployment> {
  const s = o.sysroot;
  const binds = [s, o.repo, ...(o.remote?.gpgKey ? [o.remote.gpgKey] : [])];
  await ostree(['admin', 'init-fs', '--modern', s], binds, 'create the sysroot');
  await ostree(['admin', 'os-init', `--sysroot=${s}`, o.osname], binds, `create the stateroot ${o.osname}`);
  const repo = [`--repo=${join(s, 'ostree/repo')}`];
  await ostree([...repo, 'config', 'set', 'sysroot.bootloader', 'none'], binds, 'configure the bootloader');
  await ostree([...repo, 'config', 'set', 'sysroot.bootprefix', 'true'], binds, 'configure the bootloader');
  if (o.commit) {
    await ostree([...repo, 'pull-local', o.repo, o.commit], binds, `copy ${o.commit.slice(0, 12)} into the sysroot`);
    await ostree([...repo, 'refs', `--create=${o.ref}`, o.commit], binds, `name it ${o.ref}`);
  } else await ostree([...repo, 'pull-local', o.repo, o.ref], binds, `copy ${o.ref} into the sysroot`);
  let refspec = o.ref;
  if (o.remote) {
    const r = o.remote;
    await ostree(
      [...repo, 'remote', 'add', `--set=gpg-verify=${r.gpgVerify}`, r.name, r.url, o.ref],
      binds,
      `add the remote ${r.name}`,
    );
    if (r.gpgKey)
      await ostree([...repo, 'remote', 'gpg-import', r.name, '-k', r.gpgKey], binds, 'import the remote key');
    // The deployment's origin names the remote, so `ostree admin upgrade` pulls from it.
    const commit = (await ostree([...repo, 'rev-parse', o.ref], binds, 'resolve the ref')).stdout.trim();
    await ostree([...repo, 'refs', `--create=${r.name}:${o.ref}`, commit], binds, 'record the remote ref');
    await ostree([...repo, 'refs', '--delete', o.ref], binds, 'drop the local ref');
    refspec = `${r.name}:${o.ref}`;
  }
  // --karg would replace an earlier argument of the same name (console=tty0 console=ttyS0): append them all.
  const kargs = o.kernelArgs.map((k) => `--karg-append=${k}`);
  const origin: string[] = [];
  if (o.image) {
    // `atomic upgrade` pulls the image named here; the deployment keeps the commit, no ref needed.
    const file = join(s, '.image.origin');
    await writeFile(file, imageOrigin(o.image));
    origin.push(`--origin-file=${file}`);
  }
  await ostree(
    ['admin', 'deploy', `--sysroot=${s}`, `--os=${o.osname}`, ...origin, ...kargs, refspec],
    binds,
    `deploy ${o.ref}`,
  );
  if (o.image) {
    await rm(join(s, '.image.origin'));
    await ostree([...repo, 'refs', '--delete', o.ref], binds, 'drop the local ref');
  }
  const deployDir = join(s, 'ostree/deploy', o.osname, 'deploy');
  const entries = (await readdir(deployDir)).filter((d) => /^[0-9a-f]{64}\.\d+$/.test(d));
  if (entries.length !== 1)
    throw new ToolError('deploy-failed', `expected one deployment in ${deployDir}, found ${entries.length}`);
  const loader = join(s, 'boot/loader/entries');
  const bls = (await readdir(loader)).filter((f) => f.endsWith('.conf'));
  const bootEntry = await readFile(join(loader, bls[0]!), 'utf8');
  return {
    commit: entries[0]!.split('.')[0]!,
    osname: o.osname,
    path: join('ostree/deploy', o.osname, 'deploy', entries[0]!),
    kernelArgs: o.kernelArgs,
    bootEntry,
  };
}
