/**
 * commitTree: one OSTree commit of a prepared tree. Parent = the ref's current
 * head; version from automatic-version-prefix; timestamp from SOURCE_DATE_EPOCH;
 * unchanged content makes no new commit. ostree moves the ref only once the
 * commit is complete, so a failed or killed run leaves the ref where it was.
 */
import { lstat, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  inputError,
  READ_LIMITS,
  readBoundedText,
  tempSibling,
  ToolError,
  usageError,
  type Progress,
} from '@debian-atomic/lib';
import { mutateOsRelease, treeDigest } from './osrelease.js';
import { Ostree } from './ostree.js';
import { kindOf, readTreefile, refProblem } from './treefile.js';
import { nextVersion } from './version.js';

export { TREEFILE_IN_TREE } from './treefile.js';

export const REPO_MODES = ['archive', 'bare-user', 'bare'] as const;
export type RepoMode = (typeof REPO_MODES)[number];

export interface CommitOptions {
  repo: string;
  tree: string;
  ref?: string | undefined;
  mode: RepoMode;
  /** zlib level of a new archive repository's objects (its archive.zlib-level); ostree's default is 6. */
  zlibLevel?: number | undefined;
  /** ed25519 secret key file (needs an ostree built with ed25519 support). */
  signKey?: string | undefined;
  /** GPG key id and home directory (Debian's ostree signs with GPG). */
  gpgSign?: string | undefined;
  gpgHomedir?: string | undefined;
  delta: boolean;
  epoch: number;
  subject?: string | undefined;
  progress?: Progress | undefined;
}

export interface CommitResult {
  repo: string;
  ref: string;
  commit: string;
  parent: string | null;
  changed: boolean;
  version: string | null;
  timestamp: number;
  mode: string;
  signed: boolean;
  delta: string | null;
}

export const DIGEST_KEY = 'debian-atomic.tree-sha256';

function metadataArgs(meta: Record<string, unknown>): string[] {
  return Object.keys(meta)
    .sort()
    .map((k) => {
      const v = meta[k];
      if (typeof v === 'string') return `--add-metadata-string=${k}=${v}`;
      if (typeof v === 'boolean') return `--add-metadata=${k}=${v}`;
      if (typeof v === 'number' && Number.isInteger(v)) return `--add-metadata=${k}=int64 ${v}`;
      return `--add-metadata-string=${k}=${JSON.stringify(v)}`;
    });
}

export async function commitTree(o: CommitOptions): Promise<CommitResult> {
  const tree = resolve(o.tree);
  const repo = resolve(o.repo);
  if (!(await stat(tree).catch(() => null))?.isDirectory()) throw usageError(`${o.tree}: not a directory`);
  if (!(await stat(join(tree, 'usr')).catch(() => null))?.isDirectory())
    throw new ToolError('not-a-tree', `${o.tree}: has no /usr: not a root filesystem`);
  if ((await stat(join(tree, 'etc')).catch(() => null))?.isDirectory())
    throw new ToolError(
      'not-unified',
      `${o.tree}: /etc is a directory: run usr-unify on the tree first (ostree deploys /usr/etc)`,
    );
  if (o.ref !== undefined) {
    const problem = refProblem(o.ref);
    if (problem) throw usageError(`--ref ${JSON.stringify(o.ref.slice(0, 80))}: ${problem}`);
  }
  const treefile = await readTreefile(tree);
  const ref = o.ref ?? treefile.ref;
  if (!ref) throw usageError('no ref: give --ref or a tree with /usr/share/debian-atomic/treefile.json naming one');

  const keyDirs = [
    o.signKey ? dirname(resolve(o.signKey)) : undefined,
    o.gpgHomedir ? resolve(o.gpgHomedir) : undefined,
  ].filter((d): d is string => Boolean(d));
  const ostree = new Ostree(repo, [tree, ...keyDirs]);
  if (o.signKey && !(await ostree.features()).includes('sign-ed25519'))
    throw new ToolError(
      'unsupported',
      'this ostree was built without ed25519 signing (Debian builds it without libsodium)',
      {
        hint: 'sign with GPG instead: --gpg-sign KEYID --gpg-homedir DIR',
      },
    );
  if (o.gpgHomedir && !o.gpgSign) throw usageError('--gpg-homedir needs --gpg-sign KEYID');
  o.progress?.step(`repository ${repo}`);
  await ostree.ensureRepo(o.mode, o.zlibLevel);
  const mode = await ostree.mode();
  const parent = await ostree.revParse(ref);
  const previousVersion = parent ? await ostree.metadataString(parent, 'version') : null;
  const prefix = treefile['automatic-version-prefix'];
  const version = prefix ? nextVersion(prefix, o.epoch, previousVersion) : null;

  // With mutate-os-release every commit's os-release differs, so ostree's own
  // --skip-if-unchanged cannot see an unchanged tree: compare a digest of the tree instead.
  const mutate = treefile['mutate-os-release'];
  let digest: string | null = null;
  let overlay: string | null = null;
  if (mutate && version) {
    o.progress?.step('digest of the tree');
    digest = await treeDigest(tree);
    if (parent && (await ostree.metadataString(parent, DIGEST_KEY)) === digest)
      return {
        repo,
        ref,
        commit: parent,
        parent: await parentOf(ostree, parent),
        changed: false,
        version: previousVersion,
        timestamp: o.epoch,
        mode,
        signed: false,
        delta: null,
      };
    const osRelease = await readOsRelease(tree);
    if (osRelease !== null) {
      overlay = tempSibling(tree, 'os-release');
      await mkdir(join(overlay, 'usr/lib'), { recursive: true });
      const st = await stat(join(tree, 'usr/lib/os-release'));
      await writeFile(join(overlay, 'usr/lib/os-release'), mutateOsRelease(osRelease, mutate, version), {
        mode: st.mode & 0o777,
      });
    }
  }

  const bootable = await hasKernel(tree);
  const args = [
    'commit',
    `--branch=${ref}`,
    `--tree=dir=${tree}`,
    ...(overlay ? [`--tree=dir=${overlay}`] : []),
    ...(bootable ? ['--bootable'] : []),
    // No --generate-sizes: ostree.sizes (about 600 KB for base) is commit metadata every pull downloads,
    // even a one-package update, and nothing here reads it. Without it the commit is also the same in
    // archive and bare-user repositories.
    '--skip-if-unchanged',
    `--timestamp=@${o.epoch}`,
    `--subject=${o.subject ?? `${ref}${version ? ` ${version}` : ''}`}`,
    ...(version ? [`--add-metadata-string=version=${version}`] : []),
    ...(digest ? [`--add-metadata-string=${DIGEST_KEY}=${digest}`] : []),
    ...metadataArgs(treefile['add-commit-metadata'] ?? {}),
    ...(o.signKey ? ['--sign-type=ed25519', `--sign-from-file=${resolve(o.signKey)}`] : []),
    ...(o.gpgSign
      ? [`--gpg-sign=${o.gpgSign}`, ...(o.gpgHomedir ? [`--gpg-homedir=${resolve(o.gpgHomedir)}`] : [])]
      : []),
  ];
  if (!bootable) o.progress?.step('no kernel in /usr/lib/modules: the commit is not marked bootable');
  o.progress?.step(`committing ${tree} to ${ref}`);
  let commit: string;
  try {
    commit = (await ostree.run(args, `commit ${tree} to ${ref}`, overlay ? [overlay] : [])).stdout.trim();
  } finally {
    if (overlay) await rm(overlay, { recursive: true, force: true });
  }
  const changed = commit !== parent;

  let delta: string | null = null;
  if (changed && o.delta && parent) {
    o.progress?.step('static delta');
    await ostree.run(['static-delta', 'generate', `--from=${parent}`, `--to=${commit}`], 'generate the static delta');
    delta = `${parent}-${commit}`;
  }
  if (changed) {
    const gpg = o.gpgSign
      ? [`--gpg-sign=${o.gpgSign}`, ...(o.gpgHomedir ? [`--gpg-homedir=${resolve(o.gpgHomedir)}`] : [])]
      : [];
    await ostree.run(['summary', '-u', ...gpg], 'update the summary');
  }
  return {
    repo,
    ref,
    commit,
    parent: changed ? parent : await parentOf(ostree, commit),
    changed,
    version: changed ? version : previousVersion,
    timestamp: o.epoch,
    mode,
    signed: Boolean(o.signKey || o.gpgSign) && changed,
    delta,
  };
}

/** The tree's usr/lib/os-release (a small regular file), or null when it has none. */
async function readOsRelease(tree: string): Promise<string | null> {
  const file = join(tree, 'usr/lib/os-release');
  const st = await lstat(file).catch(() => null);
  if (!st) return null;
  if (!st.isFile()) throw inputError(`${file}: cannot read: ${kindOf(st)}, expected a regular file`);
  return readBoundedText(file, { maxBytes: READ_LIMITS.attribute, what: 'os-release' });
}

/** ostree --bootable needs a kernel in /usr/lib/modules/$KVER/vmlinuz. */
async function hasKernel(tree: string): Promise<boolean> {
  const dirs = await readdir(join(tree, 'usr/lib/modules')).catch(() => [] as string[]);
  for (const d of dirs) if (await stat(join(tree, 'usr/lib/modules', d, 'vmlinuz')).catch(() => null)) return true;
  return false;
}

async function parentOf(ostree: Ostree, commit: string): Promise<string | null> {
  const r = await ostree.run(['rev-parse', `${commit}^`]).catch(() => null);
  return r ? r.stdout.trim() : null;
}
