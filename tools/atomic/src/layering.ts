/**
 * Client-side package layering, as rpm-ostree install does it: a new commit = a base commit + the
 * requested packages (resolved by apt against the system's own sources) − the removed base
 * packages, built beside the running system and deployed like any other commit.
 *
 * The transaction, in order (every step can fail; then nothing is deployed and the work directory
 * goes, repository objects untouched):
 *  1. `ostree checkout` of the base into WORK_DIR on the repository's file system: hardlinks
 *     into the repository, so the checkout costs no copy and the commit needs no rehash.
 *  2. An overlayfs over it: whatever apt, dpkg and maintainer scripts change is copied up first, so
 *     a script that writes into a file in place never writes into a repository object.
 *  3. The tree made a dpkg root for the time of the transaction: /etc a link to usr/etc, /var a
 *     scratch directory with /var/lib/dpkg the link to the database in /usr.
 *  4. apt (the running system's, with the deployment's /etc/apt: sources, keys, preferences; apt's
 *     own configuration and hooks are not read, nor are its lists in /var touched but refreshed)
 *     downloads with network; its dpkg is the new tree's own, run in bubblewrap with the tree as /
 *     and no network (maintainer scripts too). A plan that would change a base package other than
 *     removing one that was asked for is refused before anything is unpacked.
 *  5. The overlay's upper layer is applied to the checkout (whiteouts and hidden entries removed,
 *     the rest renamed over the hardlinks), /var becomes tmpfiles.d lines and factory files as
 *     usr-unify and oci-wrap do it, /opt and /usr/local content moves to /usr/lib/opt and
 *     /usr/lib/usrlocal behind tmpfiles.d links (rpm-ostree's way), new system users become
 *     sysusers.d lines.
 *  6. `ostree commit --link-checkout-speedup` with the base as parent, its time and version, and
 *     a subject that names it (`layered on BASE`); the base stays referenced (BASE_REF_PREFIX).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readFile, rename, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { aptReason, bwrapArgs, onInterrupt, run, ToolError, type RunResult } from '@debian-atomic/lib';
import { finishDerivedTree } from '@debian-atomic/oci-wrap';
import { parseDpkgStatus, type Pkg } from './db.js';
import type { Requests } from './origin.js';
import { commitInfo } from './ostree-remote.js';
import { ostree, repoOf } from './sysroot.js';

/** Where transactions are built: on the repository's file system (hardlinks), never on the booted tree. */
export const WORK_DIR = 'ostree/atomic-layering';
/** The tmpfiles.d lines of the layered packages' /var; and the links to their /opt and /usr/local content. */
export const LAYERED_TMPFILES = 'usr/lib/tmpfiles.d/debian-atomic-layered.conf';
export const RELOCATED_TMPFILES = 'usr/lib/tmpfiles.d/debian-atomic-layered-opt.conf';
/** /opt and /usr/local are links into /var on the image: a package's files there move into /usr. */
export const RELOCATIONS: ReadonlyArray<[string, string]> = [
  ['var/opt', 'usr/lib/opt'],
  ['var/usrlocal', 'usr/lib/usrlocal'],
];
/** A layered commit's subject names its base. */
export const LAYERED_SUBJECT = /^layered on ([0-9a-f]{64})$/;
export const BASE_KEY = 'debian-atomic.layered.base';
/** Refs that keep the base commits of layered deployments (ostree admin cleanup prunes the rest). */
export const BASE_REF_PREFIX = 'atomic/base/';
/** The stateroot's /var keeps local .debs (`atomic install ./x.deb`) under their digest. */
export const LOCAL_DEBS = 'lib/atomic/local-debs';

export const stateVar = (sysroot: string, osname: string) => join(sysroot, 'ostree/deploy', osname, 'var');
export const localDebPath = (sysroot: string, osname: string, sha256: string) =>
  join(stateVar(sysroot, osname), LOCAL_DEBS, `${sha256}.deb`);

export interface LayerOptions {
  sysroot: string;
  osname: string;
  /** The base commit. */
  base: string;
  requests: Requests;
  /** The /etc/apt whose sources, keys and preferences apt resolves with (the merge deployment's). */
  etcApt: string;
  note?: ((m: string) => void) | undefined;
}

export interface Layered {
  commit: string;
  /** Packages the commit has that the base has not (requested ones and their dependencies). */
  added: Pkg[];
  /** Base packages the commit has not. */
  removed: Pkg[];
  /** How long the transaction took. */
  seconds: number;
}

/** One line of `apt-get -s`: Inst NAME [OLD] (NEW …) or Remv NAME [OLD]. */
export interface AptPlan {
  install: { name: string; version: string; replaces?: string | undefined }[];
  remove: { name: string; version: string }[];
}

export function parseAptPlan(text: string): AptPlan {
  const plan: AptPlan = { install: [], remove: [] };
  for (const line of text.split('\n')) {
    const inst = /^Inst (\S+) (?:\[(\S+)\] )?\((\S+)/.exec(line);
    if (inst) plan.install.push({ name: inst[1]!, version: inst[3]!, ...(inst[2] ? { replaces: inst[2] } : {}) });
    const remv = /^(?:Remv|Purg) (\S+)(?: \[(\S+)\])?/.exec(line);
    if (remv) plan.remove.push({ name: remv[1]!, version: remv[2] ?? '' });
  }
  return plan;
}

const names = (xs: readonly { name: string }[]) => xs.map((x) => x.name).join(', ');

/** What a plan may do: add packages, remove exactly the base packages asked for, change nothing else. */
export function checkAptPlan(plan: AptPlan, r: Requests, asked: readonly string[]): void {
  const what = asked.length ? asked.join(', ') : 'the requests';
  const changed = plan.install.filter((p) => p.replaces !== undefined);
  if (changed.length)
    throw new ToolError(
      'base-change',
      `installing ${what} would change base packages: ${changed.map((p) => `${p.name} ${p.replaces} → ${p.version}`).join(', ')}`,
      {
        hint: 'the image carries these versions; upgrade the image first (atomic upgrade), or ask for a version that fits it',
      },
    );
  const extra = plan.remove.filter((p) => !r.remove.includes(p.name.replace(/:.*$/, '')));
  if (extra.length)
    throw new ToolError(
      'conflict',
      `${what} conflicts with the base image: apt would remove base package(s) ${names(extra)}`,
      {
        hint: r.remove.length
          ? 'a removal takes out only the packages named (atomic override remove); nothing that depends on them'
          : 'layered packages may add to the image, not take out of it',
      },
    );
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The transaction's directories: the checkout (lower), the overlay's upper and work dirs, the merged view, apt's own. */
interface Work {
  dir: string;
  lower: string;
  upper: string;
  merged: string;
  mounted: boolean;
}

async function unmount(w: Work): Promise<void> {
  if (!w.mounted) return;
  await run('umount', [w.merged], { what: 'unmount the layering overlay' });
  w.mounted = false;
}

/** This boot's id (a transaction's directory names it: a PID alone is reused after a reboot). */
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replace(/-/g, '').slice(0, 12);
  } catch {
    return 'noboot';
  }
}

/** tx-BOOT-PID-RANDOM: the transaction's boot and process. */
export function transactionName(boot: string, pid: number): string {
  return `tx-${boot}-${pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Whether a transaction directory is another live process's: made in this boot by a process that
 * still runs. One from an earlier boot (a power cut) is stale whatever process has its PID now.
 */
export function isLiveTransaction(name: string, boot: string, alive: (pid: number) => boolean): boolean {
  const m = /^tx-([0-9a-z]+)-(\d+)-/.exec(name);
  if (!m || m[1] !== boot) return false;
  const pid = Number(m[2]);
  return pid !== process.pid && alive(pid);
}

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Work directories of transactions whose process is gone (a power cut, a kill): removed. */
async function removeStale(root: string): Promise<void> {
  const boot = bootId();
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (isLiveTransaction(name, boot, processAlive)) continue;
    await run('umount', [join(root, name, 'merged')]).catch(() => undefined);
    await rm(join(root, name), { recursive: true, force: true });
  }
}

/** The scratch layout of a dpkg root inside the merged tree; what it made, to take out afterwards. */
const SKELETON_DIRS = ['var/lib', 'var/cache', 'var/log', 'var/tmp', 'var/opt', 'var/usrlocal'];

async function prepareRoot(merged: string): Promise<void> {
  if (!(await lstat(join(merged, 'etc')).catch(() => null))) await symlink('usr/etc', join(merged, 'etc'));
  for (const d of SKELETON_DIRS) await mkdir(join(merged, d), { recursive: true });
  await chmod(join(merged, 'var/tmp'), 0o1777);
  if (!(await lstat(join(merged, 'var/lib/dpkg')).catch(() => null)))
    await symlink('../../usr/lib/sysimage/dpkg', join(merged, 'var/lib/dpkg'));
}

/** API file systems and the transaction's /etc link: never part of the commit. */
const NOT_APPLIED = new Set(['etc', 'dev', 'proc', 'sys', 'run', 'tmp']);

/** For each directory of the upper layer that the lower has: the lower's children the merged view hides (whiteouts, opaque dirs). */
async function hiddenEntries(w: Work): Promise<Map<string, string[]>> {
  const hidden = new Map<string, string[]>();
  const visit = async (rel: string): Promise<void> => {
    const lowerSt = await lstat(join(w.lower, rel)).catch(() => null);
    if (lowerSt?.isDirectory()) {
      const seen = new Set(await readdir(join(w.merged, rel)));
      const gone = (await readdir(join(w.lower, rel))).filter((c) => !seen.has(c));
      if (gone.length) hidden.set(rel, gone);
    }
    for (const c of await readdir(join(w.upper, rel))) {
      if (rel === '' && NOT_APPLIED.has(c)) continue;
      if ((await lstat(join(w.upper, rel, c))).isDirectory()) await visit(posix.join(rel, c));
    }
  };
  await visit('');
  return hidden;
}

/** The upper layer onto the checkout: changed files renamed over the hardlinks, never written through them. */
async function applyUpper(w: Work, hidden: Map<string, string[]>): Promise<void> {
  const apply = async (rel: string): Promise<void> => {
    for (const c of hidden.get(rel) ?? []) await rm(join(w.lower, rel, c), { recursive: true, force: true });
    for (const c of await readdir(join(w.upper, rel))) {
      if (rel === '' && NOT_APPLIED.has(c)) continue;
      const from = join(w.upper, rel, c);
      const to = join(w.lower, rel, c);
      const st = await lstat(from);
      const there = await lstat(to).catch(() => null);
      if (st.isCharacterDevice() && st.rdev === 0) {
        await rm(to, { recursive: true, force: true });
      } else if (st.isDirectory()) {
        if (there && !there.isDirectory()) await rm(to, { force: true });
        if (!there?.isDirectory()) await mkdir(to);
        await chown(to, st.uid, st.gid);
        await chmod(to, st.mode & 0o7777);
        await apply(posix.join(rel, c));
      } else {
        if (there?.isDirectory()) await rm(to, { recursive: true, force: true });
        await rename(from, to);
      }
    }
  };
  await apply('');
}

/** Files under /var/opt and /var/usrlocal → /usr/lib/opt and /usr/lib/usrlocal, with tmpfiles.d links where they were. */
async function relocate(root: string): Promise<string[]> {
  const lines: string[] = [];
  for (const [from, to] of RELOCATIONS) {
    const visit = async (rel: string): Promise<void> => {
      for (const c of (await readdir(join(root, from, rel)).catch(() => [] as string[])).sort()) {
        const r = posix.join(rel, c);
        const st = await lstat(join(root, from, r));
        if (st.isDirectory()) {
          await visit(r);
          continue;
        }
        await mkdir(dirname(join(root, to, r)), { recursive: true });
        await rename(join(root, from, r), join(root, to, r));
        lines.push(`L /${from}/${r} - - - - /${to}/${r}`);
      }
    };
    await visit('');
  }
  return lines;
}

/** Empty directories of the transaction's scratch /var go; what packages put there stays for finishDerivedTree. */
async function pruneSkeleton(root: string): Promise<void> {
  await rm(join(root, 'var/lib/dpkg'), { force: true });
  for (const d of [...SKELETON_DIRS].reverse()) {
    const prune = async (p: string): Promise<boolean> => {
      const st = await lstat(p).catch(() => null);
      if (!st?.isDirectory()) return false;
      let empty = true;
      for (const c of await readdir(p)) if (!(await prune(join(p, c)))) empty = false;
      if (empty) await rmdir(p);
      return empty;
    };
    await prune(join(root, d));
  }
}

async function readStatus(root: string): Promise<Pkg[]> {
  const file = join(root, 'usr/lib/sysimage/dpkg/status');
  return parseDpkgStatus(await readFile(file, 'utf8'), file);
}

/** Every package of the status file installed and configured: nothing half-done goes into a commit. */
async function checkConfigured(root: string): Promise<void> {
  const text = await readFile(join(root, 'usr/lib/sysimage/dpkg/status'), 'utf8');
  const half = [
    ...text.matchAll(
      /^Package: (\S+)\n(?:[^\n]+\n)*?Status: \S+ \S+ (half-installed|unpacked|half-configured|triggers-awaited|triggers-pending)$/gm,
    ),
  ].map((m) => `${m[1]} (${m[2]})`);
  if (half.length) throw new ToolError('dpkg', `dpkg left packages not configured: ${half.join(', ')}`);
}

/** apt's settings: the deployment's sources and keys, our state and cache, dpkg through the sandbox; no other configuration, no hooks. */
function aptConfig(o: LayerOptions, w: Work, listsDir: string): string {
  const q = (s: string) => `"${s}"`;
  return [
    `Dir::Etc ${q(o.etcApt)};`,
    `Dir::Etc::main ${q(join(w.dir, 'apt.conf-none'))};`,
    `Dir::Etc::parts ${q(join(w.dir, 'apt.conf.d'))};`,
    `Dir::State ${q(join(w.dir, 'apt-state'))};`,
    `Dir::State::lists ${q(listsDir)};`,
    `Dir::State::status ${q(join(w.merged, 'usr/lib/sysimage/dpkg/status'))};`,
    `Dir::Cache ${q(join(w.dir, 'apt-cache'))};`,
    `Dir::Log ${q(join(w.dir, 'apt-log'))};`,
    `Dir::Bin::dpkg ${q(join(w.dir, 'dpkg-sandboxed'))};`,
    'Debug::NoLocking "true";',
    'APT::Sandbox::User "root";',
    'APT::Get::Assume-Yes "true";',
    'APT::Install-Recommends "false";',
    'Acquire::Languages "none";',
    'Dpkg::Use-Pty "false";',
    'DPkg::Options { "--force-confdef"; "--force-confold"; };',
    '',
  ].join('\n');
}

/** Where dpkg in the sandbox sees apt's cache and the copied .debs. */
const SANDBOX_CACHE = '/tmp/atomic-apt-cache';
const SANDBOX_DEBS = '/tmp/atomic-debs';

/**
 * dpkg as apt calls it, run in bubblewrap with the merged tree as / and no network. apt's
 * --admindir is the same database there; .debs apt names outside its cache (file: sources, local
 * .debs) are copied into the transaction's debs/ first, which the sandbox sees.
 */
function dpkgWrapper(w: Work): string {
  const debs = join(w.dir, 'debs');
  const cache = join(w.dir, 'apt-cache');
  // Seen at fixed places in the sandbox's /tmp: the transaction's own path may go through a link
  // the new tree has but cannot follow (/ostree → sysroot/ostree on a booted system), and a mount
  // point made in the tree would be committed with it.
  const args = [
    ...bwrapArgs({ root: w.merged, env: { DEBIAN_FRONTEND: 'noninteractive', DEBCONF_NONINTERACTIVE_SEEN: 'true' } }),
    '--ro-bind',
    cache,
    SANDBOX_CACHE,
    '--ro-bind',
    debs,
    SANDBOX_DEBS,
    '--tmpfs',
    '/run',
  ];
  return [
    '#!/bin/sh',
    '# atomic: dpkg inside the layering transaction (the new tree as /, no network)',
    // apt names its database (--admindir DIR or --admindir=DIR) by its path outside: in the
    // sandbox it is dpkg's own. A value given as the next argument is dropped with its option.
    'skip=',
    'for a do',
    '  shift',
    '  if [ -n "$skip" ]; then skip=; continue; fi',
    '  case $a in',
    '    --admindir|--root|--instdir) skip=1; continue ;;',
    '    --admindir=*|--root=*|--instdir=*) continue ;;',
    `    ${shellQuote(cache)}/*) a=${SANDBOX_CACHE}/"\${a#${shellQuote(cache)}/}" ;;`,
    `    /*.deb) [ -f "$a" ] && cp "$a" ${shellQuote(debs)}/ && a=${SANDBOX_DEBS}/"\${a##*/}" ;;`,
    '  esac',
    '  set -- "$@" "$a"',
    'done',
    `exec bwrap ${args.map(shellQuote).join(' ')} -- dpkg "$@"`,
    '',
  ].join('\n');
}

/** The base commit + the requests, committed; throws (nothing left behind) when they do not apply. */
export async function buildLayered(o: LayerOptions): Promise<Layered> {
  const started = Date.now();
  const note = o.note ?? (() => undefined);
  const repo = repoOf(o.sysroot);
  const root = join(o.sysroot, WORK_DIR);
  await mkdir(root, { recursive: true });
  await removeStale(root);
  const dir = join(root, transactionName(bootId(), process.pid));
  const w: Work = {
    dir,
    lower: join(dir, 'tree'),
    upper: join(dir, 'upper'),
    merged: join(dir, 'merged'),
    mounted: false,
  };
  const cleanup = async () => {
    await unmount(w).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  const unregister = onInterrupt(cleanup);
  try {
    for (const d of [
      dir,
      w.upper,
      w.merged,
      join(dir, 'ovl-work'),
      join(dir, 'apt.conf.d'),
      join(dir, 'apt-state'),
      join(dir, 'apt-cache/archives/partial'),
      join(dir, 'apt-log'),
      join(dir, 'debs'),
    ])
      await mkdir(d, { recursive: true });
    note(`checking out ${o.base.slice(0, 12)}`);
    await ostree([`--repo=${repo}`, 'checkout', o.base, w.lower], [o.sysroot], 'check out the base commit');
    const basePkgs = await readStatus(w.lower);
    const missing = o.requests.remove.filter((n) => !basePkgs.some((p) => p.name === n));
    if (missing.length)
      throw new ToolError(
        'not-in-base',
        `${missing.join(', ')}: not installed in the base image ${o.base.slice(0, 12)}, nothing to remove`,
      );
    await run(
      'mount',
      [
        '-t',
        'overlay',
        'overlay',
        '-o',
        `lowerdir=${w.lower},upperdir=${w.upper},workdir=${join(dir, 'ovl-work')}`,
        w.merged,
      ],
      { what: 'mount the layering overlay' },
    );
    w.mounted = true;
    await prepareRoot(w.merged);

    const listsDir = join(stateVar(o.sysroot, o.osname), 'lib/apt/lists');
    await mkdir(join(listsDir, 'partial'), { recursive: true });
    await writeFile(join(dir, 'apt.conf'), aptConfig(o, w, listsDir));
    await writeFile(join(dir, 'dpkg-sandboxed'), dpkgWrapper(w), { mode: 0o755 });
    const apt = (args: string[], what: string): Promise<RunResult> =>
      run('apt-get', args, {
        env: { APT_CONFIG: join(dir, 'apt.conf'), DEBIAN_FRONTEND: 'noninteractive' },
        what,
        providedBy: 'apt',
      }).catch((err: unknown) => {
        if (err instanceof ToolError && err.code === 'command-failed')
          throw new ToolError('apt', `${what}: ${aptReason(err.output ?? '')}`, { detail: err.detail, cause: err });
        throw err;
      });
    note('apt-get update');
    await apt(['update'], 'refresh the package lists');
    const asked = [...o.requests.packages, ...o.requests.local.map((l) => l.name)];
    const targets = [
      ...o.requests.packages,
      ...o.requests.local.map((l) => localDebPath(o.sysroot, o.osname, l.sha256)),
      ...o.requests.remove.map((n) => `${n}-`),
    ];
    const plan = parseAptPlan(
      (await apt(['install', '-s', '--purge', ...targets], `resolve ${asked.join(', ') || 'the removals'}`)).stdout,
    );
    checkAptPlan(plan, o.requests, asked);
    note(
      `installing ${plan.install.map((p) => `${p.name} ${p.version}`).join(', ') || 'nothing'}${plan.remove.length ? `; removing ${names(plan.remove)}` : ''}`,
    );
    // --purge: a removed base package leaves no config-files entry in the database.
    await apt(
      ['install', ...(o.requests.remove.length ? ['--purge', '--allow-remove-essential'] : []), ...targets],
      `install ${asked.join(', ') || 'nothing'}${o.requests.remove.length ? `, remove ${o.requests.remove.join(', ')}` : ''}`,
    );
    await checkConfigured(w.merged);

    const hidden = await hiddenEntries(w);
    await unmount(w);
    await applyUpper(w, hidden);
    const relocated = await relocate(w.lower);
    await pruneSkeleton(w.lower);
    await finishDerivedTree(w.lower, {
      tmpfilesConf: LAYERED_TMPFILES,
      header:
        '# Generated by atomic install: what the layered packages put in /var, recreated at boot by systemd-tmpfiles.',
    });
    if (relocated.length) {
      await mkdir(join(w.lower, dirname(RELOCATED_TMPFILES)), { recursive: true });
      await writeFile(
        join(w.lower, RELOCATED_TMPFILES),
        [
          "# Generated by atomic install: /opt and /usr/local are in /var; the layered packages' files there are kept in /usr.",
          ...relocated,
        ].join('\n') + '\n',
      );
    }
    const after = await readStatus(w.lower);
    const key = (p: Pkg) => `${p.name}:${p.architecture}`;
    const added = after.filter((p) => !basePkgs.some((b) => key(b) === key(p)));
    const removed = basePkgs.filter((b) => !after.some((p) => key(b) === key(p)));

    const info = await commitInfo(o.sysroot, o.base);
    const kernel = (await readdir(join(w.lower, 'usr/lib/modules')).catch(() => [] as string[])).some((k) =>
      existsSync(join(w.lower, 'usr/lib/modules', k, 'vmlinuz')),
    );
    const body = [
      ...added.map((p) => `+${p.name} ${p.version}`),
      ...removed.map((p) => `-${p.name} ${p.version}`),
    ].join('\n');
    note('committing');
    const commit = (
      await ostree(
        [
          `--repo=${repo}`,
          'commit',
          '--orphan',
          `--tree=dir=${w.lower}`,
          '--link-checkout-speedup',
          `--parent=${o.base}`,
          ...(info.timestamp !== undefined ? [`--timestamp=@${info.timestamp}`] : []),
          ...(kernel ? ['--bootable'] : []),
          `--subject=layered on ${o.base}`,
          ...(body ? [`--body=${body}`] : []),
          ...(info.version ? [`--add-metadata-string=version=${info.version}`] : []),
          `--add-metadata-string=${BASE_KEY}=${o.base}`,
        ],
        [o.sysroot],
        'commit the layered tree',
      )
    ).stdout.trim();
    return { commit, added, removed, seconds: (Date.now() - started) / 1000 };
  } finally {
    unregister();
    await cleanup();
  }
}

/** Refs for the base commits of the layered deployments, none for others: the bases stay while a deployment needs them. */
export async function syncBaseRefs(sysroot: string, bases: readonly string[]): Promise<void> {
  const repo = repoOf(sysroot);
  const refs = (await ostree([`--repo=${repo}`, 'refs'], [sysroot], 'list the refs')).stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(BASE_REF_PREFIX));
  const want = new Set(bases.map((b) => `${BASE_REF_PREFIX}${b}`));
  for (const r of refs)
    if (!want.has(r)) await ostree([`--repo=${repo}`, 'refs', `--delete`, r], [sysroot], 'drop a base ref');
  for (const r of want)
    if (!refs.includes(r))
      await ostree(
        [`--repo=${repo}`, 'refs', `--create=${r}`, r.slice(BASE_REF_PREFIX.length)],
        [sysroot],
        'keep the base commit',
      );
}
