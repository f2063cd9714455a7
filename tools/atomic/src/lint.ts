/**
 * `atomic container lint`: what in a derived image's tree (a Containerfile FROM one of ours, run
 * as its last RUN) would break or be lost once it is imported and booted, as bootc's lints.rs
 * checks a bootc image. Each lint reads a few files of the root; /var is walked once. Errors are
 * what breaks the deployment; warnings are what a machine will not get as the image has it.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DPKG_DB, isSystemId, parseGroup, parsePasswd, VAR_DROP } from '@debian-atomic/lib';

export type LintLevel = 'error' | 'warning';

export interface Finding {
  lint: string;
  level: LintLevel;
  message: string;
  paths: string[];
}

interface Lint {
  name: string;
  level: LintLevel;
  description: string;
  run(root: string): Promise<Omit<Finding, 'lint' | 'level'>[]>;
}

/** At most this many paths a finding (a /var of apt lists holds thousands). */
export const MAX_PATHS = 1000;

/** Where usr-unify keeps /var's files for tmpfiles.d's C lines (the image presents them in /var). */
const FACTORY = 'usr/share/factory';
const stat = (p: string) => lstat(p).catch(() => null);
const list = (p: string) => readdir(p).catch(() => [] as string[]);
const text = (p: string) => readFile(p, 'utf8').catch(() => null);

async function kernels(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const k of (await list(join(root, 'usr/lib/modules'))).sort())
    if ((await stat(join(root, 'usr/lib/modules', k, 'vmlinuz')))?.isFile()) out.push(`/usr/lib/modules/${k}/vmlinuz`);
  return out;
}

async function kernelLint(root: string) {
  const found = await kernels(root);
  if (found.length === 0)
    return [
      {
        message:
          'no kernel in /usr/lib/modules/*/vmlinuz: the deployment has nothing to boot (install a linux-image package; our kernel hook puts it there)',
        paths: [],
      },
    ];
  if (found.length > 1)
    return [
      {
        message: `${found.length} kernels in /usr/lib/modules: a deployment boots exactly one (remove all but one linux-image package)`,
        paths: found,
      },
    ];
  const initramfs = found[0]!.replace(/vmlinuz$/, 'initramfs.img');
  if (!(await stat(join(root, initramfs)))?.isFile())
    return [
      {
        message: `no ${initramfs} beside the kernel: the deployment cannot mount its root (regenerate it after installing the kernel)`,
        paths: [initramfs],
      },
    ];
  return [];
}

async function bootLint(root: string) {
  const names = (await list(join(root, 'boot'))).sort();
  if (names.length === 0) return [];
  return [
    {
      message:
        '/boot is not empty: the import drops it, and the deployed /boot is the boot partition (a kernel belongs in /usr/lib/modules/$KVER)',
      paths: names.map((n) => `/boot/${n}`),
    },
  ];
}

async function varRunLint(root: string) {
  const st = await stat(join(root, 'var/run'));
  return st && !st.isSymbolicLink()
    ? [
        {
          message: '/var/run is not a symlink to /run: it must be one (what is in it is lost at boot)',
          paths: ['/var/run'],
        },
      ]
    : [];
}

async function etcLint(root: string) {
  if ((await stat(join(root, 'etc'))) && (await stat(join(root, 'usr/etc')))) {
    return [
      {
        message:
          'both /etc and /usr/etc exist: the import moves /etc to /usr/etc, so what the image put in /usr/etc is overwritten or mixed; put configuration in /etc',
        paths: ['/usr/etc'],
      },
    ];
  }
  return [];
}

/**
 * /var's regular files: the import keeps directories and symlinks as tmpfiles.d lines, copies
 * files to /usr/share/factory/var for a `C` line (made only where the machine has none, never
 * updated) and drops regenerable ones (logs, caches, apt lists) outright.
 */
async function varLint(root: string) {
  const sameFile = async (a: string, b: string, size: number) => {
    const other = await stat(b);
    if (!other?.isFile() || other.size !== size) return false;
    return (await readFile(a)).equals(await readFile(b));
  };
  const dropped: string[] = [];
  const copied: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await list(join(root, rel))).sort()) {
      const child = `${rel}/${name}`;
      if (child === 'var/lib/dpkg' || child === 'var/run') continue;
      const st = await stat(join(root, child));
      if (!st) continue;
      if (st.isDirectory()) await walk(child);
      else if (st.isFile()) {
        if (!VAR_DROP.some((re) => re.test(child))) {
          // The base image's own /var (its factory files, presented there): nothing the build added.
          if (!(await sameFile(join(root, child), join(root, FACTORY, child), st.size))) copied.push(`/${child}`);
        } else if (st.size > 0) dropped.push(`/${child}`);
      }
    }
  };
  if ((await stat(join(root, 'var')))?.isDirectory()) await walk('var');
  const out = [];
  if (dropped.length)
    out.push({
      message: `${dropped.length} file(s) in /var are dropped by the import (logs, caches, apt lists): a machine never gets them; clean them in the RUN that makes them, or make them at boot`,
      paths: dropped,
    });
  if (copied.length)
    out.push({
      message: `${copied.length} file(s) in /var are copied to a machine only where it has none (/usr/share/factory/var and tmpfiles.d C): an update never changes them; keep such content in /usr, or make it at boot`,
      paths: copied,
    });
  return out;
}

async function dpkgLint(root: string) {
  const link = await stat(join(root, 'var/lib/dpkg'));
  if (link && !link.isSymbolicLink()) {
    return [
      {
        message: `/var/lib/dpkg is a directory, not the link to /${DPKG_DB}: dpkg wrote there, and the database the image boots with would mix it with the one in /usr; restore the link (ln -sfn ../../${DPKG_DB} /var/lib/dpkg) and redo the installs`,
        paths: ['/var/lib/dpkg'],
      },
    ];
  }
  if (link && (await readlink(join(root, 'var/lib/dpkg'))).replace(/^(\.\.\/)+|^\//, '') !== DPKG_DB) {
    return [{ message: `/var/lib/dpkg does not point to /${DPKG_DB}`, paths: ['/var/lib/dpkg'] }];
  }
  const status = await text(join(root, DPKG_DB, 'status'));
  if (status === null)
    return [
      {
        message: `no dpkg database in /${DPKG_DB}: atomic db and the next apt run in a derived image cannot tell what is installed`,
        paths: [`/${DPKG_DB}/status`],
      },
    ];
  const lists = new Set(await list(join(root, DPKG_DB, 'info')));
  const missing: string[] = [];
  const broken: string[] = [];
  for (const stanza of status.split(/\n\n+/)) {
    const pkg = /^Package: (.+)$/m.exec(stanza)?.[1]?.trim();
    const state = /^Status: .+ (\S+)$/m.exec(stanza)?.[1];
    if (!pkg || !state || state === 'not-installed' || state === 'config-files') continue;
    const arch = /^Architecture: (.+)$/m.exec(stanza)?.[1]?.trim();
    if (state !== 'installed') broken.push(`${pkg} (${state})`);
    else if (!lists.has(`${pkg}.list`) && !lists.has(`${pkg}:${arch}.list`))
      missing.push(`/${DPKG_DB}/info/${pkg}.list`);
  }
  const out = [];
  if (broken.length)
    out.push({
      message: `${broken.length} package(s) not fully installed: finish them (dpkg --configure -a) before the image is committed`,
      paths: broken,
    });
  if (missing.length)
    out.push({
      message: `${missing.length} installed package(s) have no file list: the database disagrees with the files (was /var/lib/dpkg or ${DPKG_DB}/info cleaned?)`,
      paths: missing,
    });
  return out;
}

/** `u`/`g` names of the tree's sysusers.d files (a `u` line makes a group of its name too). */
async function sysusersNames(root: string): Promise<{ users: Set<string>; groups: Set<string> }> {
  const users = new Set<string>();
  const groups = new Set<string>();
  for (const dir of ['usr/lib/sysusers.d', 'etc/sysusers.d']) {
    for (const f of await list(join(root, dir))) {
      if (!f.endsWith('.conf')) continue;
      for (const line of ((await text(join(root, dir, f))) ?? '').split('\n')) {
        const [type, name] = line.trim().split(/\s+/);
        if (!name || type?.startsWith('#')) continue;
        if (type === 'u' || type === 'u!') {
          users.add(name);
          groups.add(name);
        } else if (type === 'g') groups.add(name);
      }
    }
  }
  return { users, groups };
}

async function sysusersLint(root: string) {
  const passwd = await text(join(root, 'etc/passwd'));
  const group = await text(join(root, 'etc/group'));
  if (passwd === null && group === null) return [];
  const known = await sysusersNames(root);
  const users = parsePasswd(passwd ?? '')
    .filter((u) => isSystemId(u.uid) && u.uid !== 0 && !known.users.has(u.name))
    .map((u) => `user ${u.name} (${u.uid})`);
  const groups = parseGroup(group ?? '')
    .filter((g) => isSystemId(g.gid) && g.gid !== 0 && !known.groups.has(g.name))
    .map((g) => `group ${g.name} (${g.gid})`);
  if (!users.length && !groups.length) return [];
  return [
    {
      message: `${users.length + groups.length} system user(s)/group(s) of /etc/passwd and /etc/group have no sysusers.d entry: a machine keeps its own /etc/passwd, so they exist there only if systemd-sysusers makes them (the import into a commit writes entries for them; an image deployed another way needs its own in /usr/lib/sysusers.d)`,
      paths: [...users, ...groups],
    },
  ];
}

export const LINTS: readonly Lint[] = [
  {
    name: 'kernel',
    level: 'error',
    description: 'Exactly one kernel, /usr/lib/modules/$KVER/vmlinuz, with its initramfs.img',
    run: kernelLint,
  },
  {
    name: 'nonempty-boot',
    level: 'warning',
    description: '/boot is empty: the import drops it, a kernel belongs in /usr/lib/modules',
    run: bootLint,
  },
  { name: 'var-run', level: 'error', description: '/var/run is a symlink to /run', run: varRunLint },
  {
    name: 'etc-usretc',
    level: 'error',
    description: 'Not both /etc and /usr/etc (the import makes /usr/etc of /etc)',
    run: etcLint,
  },
  {
    name: 'var-tmpfiles',
    level: 'warning',
    description: 'Files in /var: dropped (logs, caches, apt lists) or copied only where a machine has none',
    run: varLint,
  },
  {
    name: 'dpkg-database',
    level: 'error',
    description: `The dpkg database is in /${DPKG_DB} (/var/lib/dpkg its link), every package installed and with its file list`,
    run: dpkgLint,
  },
  {
    name: 'sysusers',
    level: 'warning',
    description: 'System users and groups of /etc/passwd and /etc/group have sysusers.d entries',
    run: sysusersLint,
  },
];

/** Every lint on the tree at `root`, findings in the order of LINTS. */
export async function lintRoot(root: string, o: { skip?: readonly string[] } = {}): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const lint of LINTS) {
    if (o.skip?.includes(lint.name)) continue;
    for (const f of await lint.run(root))
      out.push({ lint: lint.name, level: lint.level, message: f.message, paths: f.paths.slice(0, MAX_PATHS) });
  }
  return out;
}

/** How many paths a finding shows in text (all of them with --no-truncate, as bootc). */
const SHOWN = 5;

export function formatFindings(findings: readonly Finding[], o: { noTruncate?: boolean } = {}): string {
  return findings
    .map((f) => {
      const paths = o.noTruncate ? f.paths : f.paths.slice(0, SHOWN);
      const more = f.paths.length - paths.length;
      return (
        [
          `${f.level}: ${f.lint}: ${f.message}`,
          ...paths.map((p) => `  ${p}`),
          ...(more > 0 ? [`  …and ${more} more`] : []),
        ].join('\n') + '\n'
      );
    })
    .join('');
}

export function formatLints(): string {
  const width = Math.max(...LINTS.map((l) => l.name.length));
  return LINTS.map((l) => `${l.name.padEnd(width)}  ${l.level.padEnd(7)}  ${l.description}\n`).join('');
}
