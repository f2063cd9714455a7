/**
 * A deployed OSTree sysroot in a plain directory, made with the real ostree:
 * init-fs, os-init, pull-local, admin deploy. ostree is told to write only BLS
 * entries (sysroot.bootloader=none) with /boot-prefixed paths, which the GRUB on
 * the ESP reads; upgrades in the booted system swap /boot/loader atomically.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { KARGS_D, kargsFromFiles, kernelArg, toolboxRun, ToolError } from '@debian-atomic/lib';

const TREEFILE = '/usr/share/debian-atomic/treefile.json';

/**
 * What disk-image reads of the treefile recorded in the commit: the stateroot name (a directory
 * of the sysroot) and the kernel arguments (the BLS `options` line). Other keys are not its business.
 */
export const commitTreefileSchema = z.looseObject({
  osname: z.string().max(64, { error: 'longer than 64 characters' }).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'not a valid OSTree stateroot name' }).optional(),
  'kernel-args': z.array(kernelArg).max(256, { error: 'more than 256 kernel arguments' }).optional(),
});
export type CommitTreefile = z.infer<typeof commitTreefileSchema>;

/** The treefile's JSON text, checked; a problem names the commit and the file. */
export function parseCommitTreefile(text: string, where: string): CommitTreefile {
  const fail = (message: string) => new ToolError('bad-treefile', `${where}:${TREEFILE}: ${message}`, { hint: 'the commit carries a treefile disk-image cannot use' });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw fail(`not JSON: ${(err as Error).message}`);
  }
  const r = commitTreefileSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw fail(`${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
  }
  return r.data;
}

export interface DeployOptions {
  repo: string;
  ref: string;
  sysroot: string;
  osname: string;
  kernelArgs: string[];
  remote?: { name: string; url: string; gpgVerify: boolean; gpgKey?: string | undefined } | undefined;
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
export async function commitInfo(repo: string, ref: string): Promise<{ commit: string; treefile: CommitTreefile; version: string | null; kargsD: string[] }> {
  const commit = await ostree([`--repo=${repo}`, 'rev-parse', ref], [repo], `find ${ref}`).then(
    (r) => r.stdout.trim(),
    () => {
      throw new ToolError('missing-ref', `${repo}: no ref ${ref}`, { hint: `ostree --repo=${repo} refs lists what is there` });
    },
  );
  const text = await ostree([`--repo=${repo}`, 'cat', commit, TREEFILE], [repo], 'read the treefile').then(
    (r) => r.stdout,
    () => null,
  );
  const tf = text === null ? {} : parseCommitTreefile(text, commit.slice(0, 12));
  const version = await ostree([`--repo=${repo}`, 'show', '--print-metadata-key=version', commit], [repo], 'read the version').then(
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
  const dir = `/${KARGS_D}`;
  const listing = await ostree([`--repo=${repo}`, 'ls', '--nul-filenames-only', commit, dir], [repo], `list ${dir}`).catch((err: unknown) => {
    if (err instanceof ToolError && /No such file/.test(`${err.summary}\n${err.detail ?? ''}`)) return null;
    throw err;
  });
  if (!listing) return [];
  const files = new Map<string, string>();
  for (const path of listing.stdout.split('\0')) {
    if (!path.startsWith(`${dir}/`) || !path.endsWith('.toml') || path.slice(dir.length + 1).includes('/')) continue;
    const text = await ostree([`--repo=${repo}`, 'cat', commit, path], [repo], `read ${path}`);
    files.set(path.slice(dir.length + 1), text.stdout);
  }
  try {
    return kargsFromFiles(files, 'x86_64', `${commit.slice(0, 12)}:${dir}`);
  } catch (err) {
    throw new ToolError('bad-kargs', (err as Error).message, { hint: 'the commit carries a kargs.d file disk-image cannot read (expected kargs = ["..."], match-architectures = [...])' });
  }
}

export async function deploySysroot(o: DeployOptions): Promise<Deployment> {
  const s = o.sysroot;
  const binds = [s, o.repo, ...(o.remote?.gpgKey ? [o.remote.gpgKey] : [])];
  await ostree(['admin', 'init-fs', '--modern', s], binds, 'create the sysroot');
  await ostree(['admin', 'os-init', `--sysroot=${s}`, o.osname], binds, `create the stateroot ${o.osname}`);
  const repo = [`--repo=${join(s, 'ostree/repo')}`];
  await ostree([...repo, 'config', 'set', 'sysroot.bootloader', 'none'], binds, 'configure the bootloader');
  await ostree([...repo, 'config', 'set', 'sysroot.bootprefix', 'true'], binds, 'configure the bootloader');
  await ostree([...repo, 'pull-local', o.repo, o.ref], binds, `copy ${o.ref} into the sysroot`);
  let refspec = o.ref;
  if (o.remote) {
    const r = o.remote;
    await ostree([...repo, 'remote', 'add', `--set=gpg-verify=${r.gpgVerify}`, r.name, r.url, o.ref], binds, `add the remote ${r.name}`);
    if (r.gpgKey) await ostree([...repo, 'remote', 'gpg-import', r.name, '-k', r.gpgKey], binds, 'import the remote key');
    // The deployment's origin names the remote, so `ostree admin upgrade` pulls from it.
    const commit = (await ostree([...repo, 'rev-parse', o.ref], binds, 'resolve the ref')).stdout.trim();
    await ostree([...repo, 'refs', `--create=${r.name}:${o.ref}`, commit], binds, 'record the remote ref');
    await ostree([...repo, 'refs', '--delete', o.ref], binds, 'drop the local ref');
    refspec = `${r.name}:${o.ref}`;
  }
  // --karg would replace an earlier argument of the same name (console=tty0 console=ttyS0): append them all.
  const kargs = o.kernelArgs.map((k) => `--karg-append=${k}`);
  await ostree(['admin', 'deploy', `--sysroot=${s}`, `--os=${o.osname}`, ...kargs, refspec], binds, `deploy ${o.ref}`);
  const deployDir = join(s, 'ostree/deploy', o.osname, 'deploy');
  const entries = (await readdir(deployDir)).filter((d) => /^[0-9a-f]{64}\.\d+$/.test(d));
  if (entries.length !== 1) throw new ToolError('deploy-failed', `expected one deployment in ${deployDir}, found ${entries.length}`);
  const loader = join(s, 'boot/loader/entries');
  const bls = (await readdir(loader)).filter((f) => f.endsWith('.conf'));
  const bootEntry = await readFile(join(loader, bls[0]!), 'utf8');
  return { commit: entries[0]!.split('.')[0]!, osname: o.osname, path: join('ostree/deploy', o.osname, 'deploy', entries[0]!), kernelArgs: o.kernelArgs, bootEntry };
}
