/**
 * apt-get install of packages into a tree mmdebstrap made, with the tree's own apt and dpkg run
 * inside it (bubblewrap, with the network): what mmdebstrap would have done had the packages been
 * in --include, for rootfs --incremental. The same apt options as mmdebstrapArgs, the same .deb
 * cache (linked in, what apt downloaded linked back), and the same clean-up: no .debs, package
 * lists or apt caches are left in the tree, nor the logs mmdebstrap removes for a reproducible
 * tree. Services are not started: policy-rc.d answers 101 (as mmdebstrap's), and no init runs in
 * the sandbox for deb-systemd-invoke to start anything with.
 */
import { lstat, mkdir, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aptReason, run, sandboxRun, shellQuote, ToolError } from '@debian-atomic/lib';
import type { ResolvedTreefile } from '@debian-atomic/treefile-lint';
import { linkDebs } from './mmdebstrap.js';

const POLICY_RC_D = 'usr/sbin/policy-rc.d';
/** What mmdebstrap's cleanup removes when SOURCE_DATE_EPOCH is set (rootfs always sets it). */
const LOGS = [
  'var/log/dpkg.log',
  'var/log/apt/history.log',
  'var/log/apt/term.log',
  'var/log/apt/eipp.log.xz',
  'var/log/alternatives.log',
  'var/cache/ldconfig/aux-cache',
];

/** apt's options: mmdebstrapArgs's --aptopt and --dpkgopt, as -o. */
export function aptOptions(tf: ResolvedTreefile, allowExpired: boolean): string[] {
  return [
    '-o',
    `APT::Install-Recommends=${tf.recommends ? 'true' : 'false'}`,
    '-o',
    'Acquire::Retries=3',
    ...(allowExpired ? ['-o', 'Acquire::Check-Valid-Until=false'] : []),
    '-o',
    'DPkg::Options::=--force-unsafe-io',
  ];
}

/** The files the sandbox binds from the host when it has the network (lib's bwrapArgs). */
const NETWORK_BINDS = ['etc/resolv.conf', 'etc/hosts'];

/**
 * The host's resolv.conf and hosts are bound over the tree's, and the repos' keyrings at their
 * host paths. A symlink there (systemd-resolved's resolv.conf) would be followed outside the tree,
 * and a missing file would be left behind as bwrap's empty mount point (with the directories made
 * for it): a plain file stands in for the run. Returns what puts the tree back as it was.
 */
export async function standInsForBinds(root: string, keyrings: readonly string[]): Promise<() => Promise<void>> {
  const undo: Array<() => Promise<void>> = [];
  for (const rel of NETWORK_BINDS) {
    const path = join(root, rel);
    const st = await lstat(path).catch(() => null);
    if (st && !st.isSymbolicLink()) continue;
    if (st) {
      const target = await readlink(path);
      await rm(path);
      undo.push(async () => {
        await rm(path, { force: true });
        await symlink(target, path);
      });
    } else undo.push(() => rm(path, { force: true }));
    await writeFile(path, '');
  }
  for (const keyring of keyrings) {
    // The first component missing in the tree: bwrap makes it and everything below.
    const parts = keyring.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const path = join(root, ...parts.slice(0, i));
      if (
        await lstat(path).then(
          () => false,
          () => true,
        )
      ) {
        undo.push(() => rm(path, { recursive: true, force: true }));
        break;
      }
    }
  }
  return async () => {
    for (const u of undo.reverse()) await u();
  };
}

export async function aptInstallInTree(
  root: string,
  tf: ResolvedTreefile,
  packages: readonly string[],
  opts: { cache: string; allowExpired: boolean },
): Promise<void> {
  const archives = join(root, 'var/cache/apt/archives');
  const lists = join(root, 'var/lib/apt/lists');
  await mkdir(join(archives, 'partial'), { recursive: true });
  await mkdir(join(lists, 'partial'), { recursive: true });
  const keyrings = tf.repos.flatMap((r) => (r.keyring ? [r.keyring] : []));
  const restore = await standInsForBinds(root, keyrings);
  const hadPolicy = await lstat(join(root, POLICY_RC_D)).then(
    () => true,
    () => false,
  );
  const apt = (args: string[], what: string) =>
    sandboxRun(
      {
        root,
        network: true,
        roBinds: keyrings,
        cwd: '/',
        env: {
          DEBIAN_FRONTEND: 'noninteractive',
          ...(process.env.SOURCE_DATE_EPOCH ? { SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH } : {}),
        },
      },
      'apt-get',
      [...aptOptions(tf, opts.allowExpired), ...args],
      { what },
    ).catch((err: unknown) => {
      if (err instanceof ToolError && err.code === 'command-failed')
        throw new ToolError('apt', `${what}: ${aptReason(err.output ?? '')}`, { detail: err.detail, cause: err });
      throw err;
    });
  try {
    if (!hadPolicy) await writeFile(join(root, POLICY_RC_D), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    await run('sh', ['-c', linkDebs(shellQuote(opts.cache), shellQuote(archives))], {
      what: 'link the cached .debs into the tree',
    });
    await apt(['update', '-q'], 'refresh the package lists in the cached tree');
    await apt(['install', '-y', '-q', '--no-remove', ...packages], `install ${packages.join(', ')}`);
    await run('sh', ['-c', linkDebs(shellQuote(archives), shellQuote(opts.cache), true)], {
      what: 'link the downloaded .debs back to the cache',
    });
  } finally {
    if (!hadPolicy) await rm(join(root, POLICY_RC_D), { force: true });
    await restore();
    // As mmdebstrap leaves a tree: no .debs, no package lists, no apt caches.
    for (const name of await readdir(archives).catch(() => [] as string[]))
      if (name.endsWith('.deb')) await rm(join(archives, name), { force: true });
    for (const name of await readdir(lists).catch(() => [] as string[]))
      if (name !== 'partial' && name !== 'lock') await rm(join(lists, name), { recursive: true, force: true });
    for (const name of ['pkgcache.bin', 'srcpkgcache.bin'])
      await rm(join(root, 'var/cache/apt', name), { force: true });
    for (const log of LOGS) await rm(join(root, log), { force: true });
  }
}
