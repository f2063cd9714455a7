/**
 * planUsrUnify: everything that must change for a Debian rootfs to become a tree
 * ostree can commit and deploy, computed before anything moves. A plan with
 * conflicts is never applied. Layout follows rpm-ostree's composepost
 * (TOPLEVEL_LINKS) and bootc's expectations.
 */
import { readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import {
  DPKG_DB,
  parseGroup,
  parsePasswd,
  rehome,
  SYSUSERS_CONF,
  sysusersConf,
  TMPFILES_CONF,
  useraddDefaults,
  VAR_DROP,
} from '@debian-atomic/lib';
import { linkTargetWithin, listDir, lstatOrNull, readTreeText, sameContent, walk, type Entry } from './tree.js';

export type Check =
  | 'devices'
  | 'symlinks'
  | 'initramfs'
  | 'usr-merge'
  | 'kernel'
  | 'boot'
  | 'accounts'
  | 'dpkg-db'
  | 'var'
  | 'toplevel'
  | 'etc'
  | 'api-dirs';

export type Action =
  | { op: 'move'; check: Check; from: string; to: string }
  | { op: 'remove'; check: Check; path: string }
  | { op: 'symlink'; check: Check; path: string; target: string }
  | { op: 'mkdir'; check: Check; path: string; mode: number }
  | { op: 'write'; check: Check; path: string; content: string; mode: number }
  | { op: 'dracut'; check: Check; kver: string; args: string[]; output: string };

export interface Conflict {
  check: Check;
  path: string;
  message: string;
}

export interface Plan {
  kernel: string | null;
  actions: Action[];
  conflicts: Conflict[];
  warnings: string[];
  tmpfiles: string[];
}

export interface PlanOptions {
  /** Extra dracut arguments (the treefile's initramfs-args). */
  initramfsArgs?: string[];
  /** Rebuild the initramfs even when /usr/lib/modules/$KVER/initramfs.img exists. */
  rebuildInitramfs?: boolean;
}

const USR_MERGE_DIRS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];
/** rpm-ostree composepost TOPLEVEL_LINKS, plus /usr/local as bootc does. */
export const TOPLEVEL_LINKS: ReadonlyArray<[string, string]> = [
  ['home', 'var/home'],
  ['root', 'var/roothome'],
  ['opt', 'var/opt'],
  ['srv', 'var/srv'],
  ['mnt', 'var/mnt'],
  ['media', 'run/media'],
  ['ostree', 'sysroot/ostree'],
  ['usr/local', 'var/usrlocal'],
];
export { DPKG_DB, SYSUSERS_CONF, TMPFILES_CONF };
/**
 * systemd-sysusers runs only when /usr is newer than /etc/.updated (ConditionNeedsUpdate=/etc),
 * and ostree gives every deployment's /usr the mtime 0: after the first boot it never ran again,
 * so a system user that an upgrade or a switch brings (the server image's _chrony) was never
 * created and its service failed. sysusers only adds what is missing: run it on every boot.
 */
export const SYSUSERS_DROPIN = 'usr/lib/systemd/system/systemd-sysusers.service.d/50-debian-atomic.conf';
export const SYSUSERS_DROPIN_CONTENT = [
  '# Debian Atomic (usr-unify): ostree gives /usr the mtime 0, so ConditionNeedsUpdate=/etc never',
  '# fires after the first boot; run on every boot so the system users a new deployment brings exist.',
  "# An empty assignment resets the unit's conditions.",
  '[Unit]',
  'ConditionNeedsUpdate=',
  '',
].join('\n');

class Planner {
  readonly plan: Plan = { kernel: null, actions: [], conflicts: [], warnings: [], tmpfiles: [] };
  constructor(
    readonly root: string,
    readonly opts: PlanOptions,
  ) {}

  abs(rel: string): string {
    return posix.join(this.root, rel);
  }
  act(a: Action): void {
    this.plan.actions.push(a);
  }
  conflict(check: Check, path: string, message: string): void {
    this.plan.conflicts.push({ check, path: `/${path}`, message });
  }
  stat(rel: string) {
    return lstatOrNull(this.abs(rel));
  }
  /** A text file of the tree: bounded, regular, never read through a symlink out of the tree. */
  read(rel: string): Promise<string> {
    return readTreeText(this.root, rel);
  }

  /** One walk of the original tree: special files to drop, symlinks escaping the root. */
  async scan(): Promise<void> {
    for await (const e of walk(this.root)) {
      if (e.st.isSymbolicLink()) {
        const target = await readlink(this.abs(e.rel));
        if (linkTargetWithin(e.rel, target) === null)
          this.conflict('symlinks', e.rel, `symlink to ${target} points outside the tree`);
      } else if (e.st.isCharacterDevice() || e.st.isBlockDevice() || e.st.isFIFO() || e.st.isSocket()) {
        // ostree cannot store device nodes, fifos or sockets; /dev is a devtmpfs at boot.
        this.act({ op: 'remove', check: 'devices', path: e.rel });
      }
    }
  }

  async initramfs(): Promise<void> {
    const kvers: string[] = [];
    if (await this.stat('usr/lib/modules'))
      for (const k of await listDir(this.abs('usr/lib/modules')))
        if ((await this.stat(`usr/lib/modules/${k}/modules.order`)) || (await this.stat(`usr/lib/modules/${k}/kernel`)))
          kvers.push(k);
    if (kvers.length === 0) {
      this.plan.warnings.push('no kernel in /usr/lib/modules: the commit will not be bootable');
      return;
    }
    if (kvers.length > 1) {
      this.conflict(
        'kernel',
        'usr/lib/modules',
        `more than one kernel (${kvers.join(', ')}); an ostree deployment boots exactly one`,
      );
      return;
    }
    const k = kvers[0]!;
    this.plan.kernel = k;
    const output = `usr/lib/modules/${k}/initramfs.img`;
    if (this.opts.rebuildInitramfs || !(await this.stat(output))) {
      const args = [
        '--no-hostonly',
        '--no-hostonly-cmdline',
        '--reproducible',
        '--add',
        'ostree',
        '--force',
        '--kver',
        k,
        ...(this.opts.initramfsArgs ?? []),
      ];
      this.act({ op: 'dracut', check: 'initramfs', kver: k, args, output });
    }
  }

  async mergeInto(src: string, dst: string): Promise<void> {
    const s = (await this.stat(src))!;
    const d = await this.stat(dst);
    if (!d) return this.act({ op: 'move', check: 'usr-merge', from: src, to: dst });
    if (s.isDirectory() && d.isDirectory()) {
      for (const child of await listDir(this.abs(src))) await this.mergeInto(`${src}/${child}`, `${dst}/${child}`);
      return;
    }
    if (await sameContent(this.abs(src), s, this.abs(dst), d))
      return this.act({ op: 'remove', check: 'usr-merge', path: src });
    this.conflict('usr-merge', src, `/${src} and /${dst} both exist and differ`);
  }

  async usrMerge(): Promise<void> {
    for (const dir of USR_MERGE_DIRS) {
      const st = await this.stat(dir);
      const usrDir = `usr/${dir}`;
      if (!st) {
        if (['bin', 'sbin', 'lib'].includes(dir) && (await this.stat(usrDir)))
          this.act({ op: 'symlink', check: 'usr-merge', path: dir, target: usrDir });
        continue;
      }
      if (st.isSymbolicLink()) {
        const t = await readlink(this.abs(dir));
        if (t !== usrDir && t !== `/${usrDir}`)
          this.conflict('usr-merge', dir, `is a symlink to ${t}, expected ${usrDir}`);
        continue;
      }
      if (!st.isDirectory()) {
        this.conflict('usr-merge', dir, 'is neither a directory nor a symlink');
        continue;
      }
      const moveWhole = !(await this.stat(usrDir));
      await this.mergeInto(dir, usrDir);
      if (!moveWhole) this.act({ op: 'remove', check: 'usr-merge', path: dir });
      this.act({ op: 'symlink', check: 'usr-merge', path: dir, target: usrDir });
    }
  }

  /** Kernel files from /boot into /usr/lib/modules/$KVER; /boot ends empty. */
  async kernelAndBoot(): Promise<void> {
    const k = this.plan.kernel;
    const bootFiles = (await this.stat('boot')) ? await listDir(this.abs('boot')) : [];
    if (k) {
      const dir = `usr/lib/modules/${k}`;
      const want: Array<[string, string]> = [
        [`vmlinuz-${k}`, 'vmlinuz'],
        [`config-${k}`, 'config'],
        [`System.map-${k}`, 'System.map'],
      ];
      for (const [from, to] of want) {
        if ((await this.stat(`${dir}/${to}`)) || !bootFiles.includes(from)) continue;
        this.act({ op: 'move', check: 'kernel', from: `boot/${from}`, to: `${dir}/${to}` });
      }
      if (!(await this.stat(`${dir}/vmlinuz`)) && !bootFiles.includes(`vmlinuz-${k}`))
        this.conflict('kernel', dir, `no vmlinuz for kernel ${k} (looked in /${dir} and /boot)`);
    }
    // Debian's kernel postinst links /vmlinuz and /initrd.img into /boot: dangling once /boot is empty.
    for (const f of await listDir(this.root))
      if (/^(vmlinuz|initrd\.img)(\.old)?$/.test(f) && (await this.stat(f))?.isSymbolicLink())
        this.act({ op: 'remove', check: 'kernel', path: f });
    const moved = new Set(k ? [`vmlinuz-${k}`, `config-${k}`, `System.map-${k}`] : []);
    for (const f of bootFiles) if (!moved.has(f)) this.act({ op: 'remove', check: 'boot', path: `boot/${f}` });
  }

  async accounts(): Promise<void> {
    if (!(await this.stat('etc/passwd')) || !(await this.stat('etc/group'))) return;
    const passwd = await this.read('etc/passwd');
    const group = await this.read('etc/group');
    const rehomed = rehome(passwd);
    if (rehomed !== passwd)
      this.act({ op: 'write', check: 'accounts', path: 'etc/passwd', content: rehomed, mode: 0o644 });
    const conf = sysusersConf(parsePasswd(passwd), parseGroup(group));
    const existing = (await this.stat(SYSUSERS_CONF)) ? await this.read(SYSUSERS_CONF) : null;
    if (existing !== conf)
      this.act({ op: 'write', check: 'accounts', path: SYSUSERS_CONF, content: conf, mode: 0o644 });
    const dropin = (await this.stat(SYSUSERS_DROPIN)) ? await this.read(SYSUSERS_DROPIN) : null;
    if (dropin !== SYSUSERS_DROPIN_CONTENT)
      this.act({
        op: 'write',
        check: 'accounts',
        path: SYSUSERS_DROPIN,
        content: SYSUSERS_DROPIN_CONTENT,
        mode: 0o644,
      });
    const defaults = (await this.stat('etc/default/useradd')) ? await this.read('etc/default/useradd') : '';
    const newDefaults = useraddDefaults(defaults);
    if (newDefaults !== defaults)
      this.act({ op: 'write', check: 'accounts', path: 'etc/default/useradd', content: newDefaults, mode: 0o644 });
  }

  async dpkgDb(): Promise<void> {
    const st = await this.stat('var/lib/dpkg');
    if (!st || st.isSymbolicLink()) return;
    if (await this.stat(DPKG_DB))
      return this.conflict('dpkg-db', DPKG_DB, 'exists already while /var/lib/dpkg is a directory');
    this.act({ op: 'move', check: 'dpkg-db', from: 'var/lib/dpkg', to: DPKG_DB });
    this.plan.tmpfiles.push(`L /var/lib/dpkg - - - - ../../${DPKG_DB}`);
  }

  async declaredTmpfiles(): Promise<Set<string>> {
    const declared = new Set<string>();
    for (const dir of ['usr/lib/tmpfiles.d', 'etc/tmpfiles.d']) {
      if (!(await this.stat(dir))) continue;
      for (const f of await listDir(this.abs(dir))) {
        if (!f.endsWith('.conf') || `${dir}/${f}` === TMPFILES_CONF) continue;
        // A conf linked to /dev/null masks the package's: it declares nothing.
        const text = await this.read(`${dir}/${f}`).catch(() => '');
        for (const line of text.split('\n')) {
          const path = line.trim().split(/\s+/)[1];
          if (path && !line.trim().startsWith('#')) declared.add(path);
        }
      }
    }
    return declared;
  }

  /** /var (and top-level dirs that become links into it) → tmpfiles.d lines; files kept in /usr/share/factory. */
  async varAndToplevel(): Promise<void> {
    const ids = await this.idNames();
    const declared = await this.declaredTmpfiles();
    const sources: Array<[string, string]> = [];
    if ((await this.stat('var'))?.isDirectory()) sources.push(['var', 'var']);
    const links: Array<[string, string]> = [];
    for (const [name, target] of TOPLEVEL_LINKS) {
      const st = await this.stat(name);
      const linkTarget = posix.relative(posix.dirname(`/${name}`), `/${target}`);
      if (st?.isSymbolicLink()) {
        const t = await readlink(this.abs(name));
        if (t !== linkTarget && t !== `/${target}`)
          this.conflict('toplevel', name, `is a symlink to ${t}, expected ${linkTarget}`);
        continue;
      }
      if (st && !st.isDirectory()) {
        this.conflict('toplevel', name, `is not a directory or symlink`);
        continue;
      }
      if (st) {
        const content = await listDir(this.abs(name));
        if (target.startsWith('var/')) {
          sources.push([name, target]);
          this.plan.tmpfiles.push(
            `d /${target} ${(st.mode & 0o7777).toString(8).padStart(4, '0')} ${ids.user(st.uid)} ${ids.group(st.gid)} -`,
          );
          if (name === 'opt' && content.length)
            this.plan.warnings.push(
              `/opt has content (${content.join(', ')}): it is copied to /var/opt at first boot and not updated atomically`,
            );
        } else if (content.length)
          this.plan.warnings.push(
            `/${name} has content (${content.join(', ')}) that is dropped: it becomes a link to /${target}`,
          );
      }
      links.push([name, linkTarget]);
    }
    for (const [src, varRel] of sources) {
      for await (const e of walk(this.abs(src))) await this.varEntry(e, src, varRel, ids, declared);
    }
    for (const [src] of sources) {
      if (src === 'var')
        for (const child of await listDir(this.abs('var')))
          this.act({ op: 'remove', check: 'var', path: `var/${child}` });
      else this.act({ op: 'remove', check: 'toplevel', path: src });
    }
    for (const [name, target] of links) {
      if (await this.stat(name))
        if (!sources.some(([s]) => s === name)) this.act({ op: 'remove', check: 'toplevel', path: name });
      this.act({ op: 'symlink', check: 'toplevel', path: name, target });
    }
    if (this.plan.tmpfiles.length) {
      const content =
        [
          '# Generated by usr-unify: what the packages put in /var, recreated at boot by systemd-tmpfiles.',
          ...this.plan.tmpfiles.sort(byPath),
        ].join('\n') + '\n';
      this.act({ op: 'write', check: 'var', path: TMPFILES_CONF, content, mode: 0o644 });
    }
  }

  async varEntry(e: Entry, src: string, varRel: string, ids: IdNames, declared: Set<string>): Promise<void> {
    const rel = `${varRel}/${e.rel}`;
    const srcRel = `${src}/${e.rel}`;
    if (srcRel.startsWith('var/lib/dpkg/') || srcRel === 'var/lib/dpkg') return;
    const mode = (e.st.mode & 0o7777).toString(8).padStart(4, '0');
    if (e.st.isDirectory()) {
      if (!declared.has(`/${rel}`))
        this.plan.tmpfiles.push(`d /${rel} ${mode} ${ids.user(e.st.uid)} ${ids.group(e.st.gid)} -`);
    } else if (e.st.isSymbolicLink()) {
      if (!declared.has(`/${rel}`)) this.plan.tmpfiles.push(`L /${rel} - - - - ${await readlink(this.abs(srcRel))}`);
    } else if (e.st.isFile()) {
      if (VAR_DROP.some((re) => re.test(rel))) return;
      this.act({ op: 'move', check: 'var', from: srcRel, to: `usr/share/factory/${rel}` });
      this.plan.tmpfiles.push(`C /${rel} - - - -`);
    }
  }

  async idNames(): Promise<IdNames> {
    const read = async (f: string) => ((await this.stat(f)) ? this.read(f) : '');
    const users = new Map(parsePasswd(await read('etc/passwd')).map((u) => [u.uid, u.name]));
    const groups = new Map(parseGroup(await read('etc/group')).map((g) => [g.gid, g.name]));
    return { user: (id) => users.get(id) ?? String(id), group: (id) => groups.get(id) ?? String(id) };
  }

  async etc(): Promise<void> {
    const st = await this.stat('etc');
    if (!st) {
      if (!(await this.stat('usr/etc'))) this.conflict('etc', 'etc', 'neither /etc nor /usr/etc exists');
      return;
    }
    if (!st.isDirectory()) return this.conflict('etc', 'etc', 'is not a directory');
    if (await this.stat('usr/etc')) return this.conflict('etc', 'usr/etc', 'exists already while /etc is a directory');
    this.act({ op: 'move', check: 'etc', from: 'etc', to: 'usr/etc' });
  }

  /** API filesystems and mount points: empty directories ostree and systemd expect. */
  async apiDirs(): Promise<void> {
    const dirs: Array<[string, number]> = [
      ['dev', 0o755],
      ['proc', 0o555],
      ['sys', 0o555],
      ['run', 0o755],
      ['sysroot', 0o755],
      ['tmp', 0o1777],
      ['var', 0o755],
      ['boot', 0o755],
    ];
    for (const [d, mode] of dirs) {
      const st = await this.stat(d);
      if (!st) this.act({ op: 'mkdir', check: 'api-dirs', path: d, mode });
      else if (['dev', 'proc', 'sys', 'run', 'tmp', 'sysroot'].includes(d) && st.isDirectory())
        for (const c of await listDir(this.abs(d)))
          if (!this.plan.actions.some((a) => a.op === 'remove' && a.path === `${d}/${c}`))
            this.act({ op: 'remove', check: 'api-dirs', path: `${d}/${c}` });
    }
  }
}

interface IdNames {
  user(id: number): string;
  group(id: number): string;
}

function byPath(a: string, b: string): number {
  const pa = a.split(/\s+/)[1] ?? '';
  const pb = b.split(/\s+/)[1] ?? '';
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

export async function planUsrUnify(root: string, opts: PlanOptions = {}): Promise<Plan> {
  const p = new Planner(root, opts);
  await p.scan();
  await p.initramfs();
  await p.usrMerge();
  await p.kernelAndBoot();
  await p.accounts();
  await p.dpkgDb();
  await p.varAndToplevel();
  await p.etc();
  await p.apiDirs();
  return p.plan;
}
