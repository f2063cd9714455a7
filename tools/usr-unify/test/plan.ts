import t from 'tap';
import { lstat, mkdir, readdir, readFile, readlink, writeFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { applyPlan } from '../src/apply.js';
import {
  DPKG_DB,
  planUsrUnify,
  SYSUSERS_CONF,
  SYSUSERS_DROPIN,
  SYSUSERS_DROPIN_CONTENT,
  TMPFILES_CONF,
} from '../src/plan.js';
import { DEBIAN_TREE, makeTree } from './fixtures/tree.js';

async function tree(t: Tap.Test, extra: Parameters<typeof makeTree>[1] = {}): Promise<string> {
  const root = join(t.testdir({}), 'tree');
  await makeTree(root, { ...DEBIAN_TREE, ...extra });
  // The initramfs is built by dracut in the e2e tier; here it already exists.
  await writeFile(join(root, 'usr/lib/modules/6.12.0-1-amd64/initramfs.img'), 'initramfs');
  return root;
}

t.test('a Debian tree becomes an ostree-ready tree', async (t) => {
  const root = await tree(t);
  const plan = await planUsrUnify(root);
  t.same(plan.conflicts, []);
  t.equal(plan.kernel, '6.12.0-1-amd64');
  t.notOk(
    plan.actions.some((a) => a.op === 'dracut'),
    'existing initramfs is kept',
  );
  await applyPlan(root, plan);

  const k = join(root, 'usr/lib/modules/6.12.0-1-amd64');
  t.equal(await readFile(join(k, 'vmlinuz'), 'utf8'), 'kernel image');
  t.equal(await readFile(join(k, 'config'), 'utf8'), 'CONFIG_EXT4=y');
  t.same(await readdir(join(root, 'boot')), [], '/boot is empty');
  await t.rejects(lstat(join(root, 'vmlinuz')), 'dangling /vmlinuz link removed');

  t.notOk(await lstat(join(root, 'etc')).catch(() => null), '/etc is gone');
  t.equal(await readlink(join(root, 'usr/etc/os-release')), '../usr/lib/os-release', 'links in /etc move untouched');
  t.match(
    await readFile(join(root, 'usr/etc/passwd'), 'utf8'),
    /debian:x:1000:1000:Debian User,,,:\/var\/home\/debian:\/bin\/bash/,
  );
  t.match(await readFile(join(root, 'usr/etc/default/useradd'), 'utf8'), /^HOME=\/var\/home$/m);
  t.match(await readFile(join(root, SYSUSERS_CONF), 'utf8'), /^u _apt 42:nogroup/m);
  t.equal(
    await readFile(join(root, SYSUSERS_DROPIN), 'utf8'),
    SYSUSERS_DROPIN_CONTENT,
    'systemd-sysusers runs on every boot (ostree: /usr has mtime 0)',
  );
  t.match(SYSUSERS_DROPIN_CONTENT, /^\[Unit\]\nConditionNeedsUpdate=\n$/m);

  t.equal(await readFile(join(root, DPKG_DB, 'status'), 'utf8'), 'Package: base-files\nStatus: install ok installed\n');
  t.same(await readdir(join(root, 'var')), [], '/var is empty');
  const tmpfiles = await readFile(join(root, TMPFILES_CONF), 'utf8');
  t.match(tmpfiles, /^L \/var\/lib\/dpkg - - - - \.\.\/\.\.\/usr\/lib\/sysimage\/dpkg$/m);
  t.match(tmpfiles, /^C \/var\/lib\/apt\/extended_states - - - -$/m);
  t.equal(
    await readFile(join(root, 'usr/share/factory/var/lib/apt/extended_states'), 'utf8'),
    'Package: x\nAuto-Installed: 1\n',
  );
  t.match(tmpfiles, /^d \/var\/spool\/cron 1730 root root -$/m, 'modes are kept');
  t.match(tmpfiles, /^d \/var\/mail 2775 root root -$/m);
  t.match(tmpfiles, /^d \/var\/roothome 0700 root root -$/m);
  t.match(tmpfiles, /^C \/var\/roothome\/\.bashrc - - - -$/m);
  t.match(tmpfiles, /^d \/var\/usrlocal\/bin 0755 root root -$/m);
  t.notMatch(tmpfiles, /dpkg\.log|InRelease/, 'logs and apt lists are not copied back');
  t.notMatch(tmpfiles, /^L \/var\/lock /m, 'paths systemd already declares are skipped');
  t.notMatch(tmpfiles, /^d \/var\/log /m);

  const links: Record<string, string> = {
    home: 'var/home',
    root: 'var/roothome',
    opt: 'var/opt',
    srv: 'var/srv',
    mnt: 'var/mnt',
    media: 'run/media',
    ostree: 'sysroot/ostree',
    'usr/local': '../var/usrlocal',
  };
  for (const [name, target] of Object.entries(links))
    t.equal(await readlink(join(root, name)), target, `/${name} -> ${target}`);
  t.ok((await lstat(join(root, 'sysroot'))).isDirectory());
  t.equal((await lstat(join(root, 'tmp'))).mode & 0o7777, 0o1777);

  const again = await planUsrUnify(root);
  t.same(again.actions, [], 'a unified tree needs nothing more (idempotent)');
  t.same(again.conflicts, []);
});

t.test('an unmerged tree is merged into /usr', async (t) => {
  const root = await tree(t, {
    bin: { dir: true },
    'bin/ls': 'ls',
    'bin/sh': { file: '#!/bin/true\n', mode: 0o755 },
    lib: { dir: true },
    'lib/firmware/x.bin': 'fw',
  });
  const plan = await planUsrUnify(root);
  t.same(plan.conflicts, []);
  await applyPlan(root, plan);
  t.equal(await readlink(join(root, 'bin')), 'usr/bin');
  t.equal(await readFile(join(root, 'usr/bin/ls'), 'utf8'), 'ls');
  t.equal(await readFile(join(root, 'usr/lib/firmware/x.bin'), 'utf8'), 'fw');
  t.equal(await readFile(join(root, 'usr/lib/systemd/systemd'), 'utf8'), 'systemd');
});

t.test('conflicts are all reported and nothing moves', async (t) => {
  const root = await tree(t, {
    bin: { dir: true },
    'bin/sh': 'a different shell',
    'etc/escape': { link: '../../../../etc/shadow' },
    'usr/lib/modules/6.13.0-1-amd64/modules.order': 'x',
    'dev/null-ish': 'regular file in dev',
  });
  const before = JSON.stringify(await snapshot(root));
  const plan = await planUsrUnify(root);
  t.same(
    plan.conflicts.map((c) => [c.check, c.path]),
    [
      ['symlinks', '/etc/escape'],
      ['kernel', '/usr/lib/modules'],
      ['usr-merge', '/bin/sh'],
    ],
  );
  t.match(plan.conflicts[0]!.message, /points outside the tree/);
  t.match(plan.conflicts[2]!.message, /\/bin\/sh and \/usr\/bin\/sh both exist and differ/);
  await t.rejects(applyPlan(root, plan), /conflicts/);
  t.equal(JSON.stringify(await snapshot(root)), before, 'the tree is untouched');
});

t.test('other conflicts: wrong links, /usr/etc beside /etc, no vmlinuz', async (t) => {
  const root = join(t.testdir({}), 'tree');
  await makeTree(root, {
    bin: { link: 'elsewhere/bin' },
    home: { link: '/srv/home' },
    'etc/passwd': 'root:x:0:0:root:/root:/bin/bash\n',
    'etc/group': 'root:x:0:\n',
    'usr/etc/passwd': 'x',
    'usr/lib/modules/6.1/kernel/x.ko': 'ko',
    'var/lib/dpkg/status': 's',
    'usr/lib/sysimage/dpkg/status': 's',
  });
  const plan = await planUsrUnify(root);
  t.same(plan.conflicts.map((c) => c.path).sort(), [
    '/bin',
    '/home',
    '/usr/etc',
    '/usr/lib/modules/6.1',
    '/usr/lib/sysimage/dpkg',
  ]);
});

t.test('no kernel: a warning, not an error; dracut planned when the initramfs is missing', async (t) => {
  const bare = join(t.testdir({}), 'bare');
  await makeTree(bare, { 'etc/hostname': 'x', 'usr/bin/true': 'x' });
  const plan = await planUsrUnify(bare);
  t.same(plan.conflicts, []);
  t.match(plan.warnings, [/no kernel/]);

  const root = join(t.testdir({}), 'k');
  await makeTree(root, { ...DEBIAN_TREE });
  const p2 = await planUsrUnify(root, { initramfsArgs: ['--add-drivers', 'virtio_blk'] });
  const dracut = p2.actions.find((a) => a.op === 'dracut');
  t.match(dracut, { op: 'dracut', kver: '6.12.0-1-amd64', output: 'usr/lib/modules/6.12.0-1-amd64/initramfs.img' });
  t.ok(
    dracut &&
      dracut.op === 'dracut' &&
      dracut.args.includes('ostree') &&
      dracut.args.includes('--no-hostonly') &&
      dracut.args.includes('virtio_blk'),
  );
});

t.test('device nodes and fifos are removed, /opt content warns', async (t) => {
  const root = await tree(t, { 'opt/vendor/app': 'app' });
  const { execFileSync } = await import('node:child_process');
  execFileSync('mknod', [join(root, 'dev/null'), 'c', '1', '3']);
  execFileSync('mkfifo', [join(root, 'usr/share-fifo')]);
  await mkdir(join(root, 'dev/pts'));
  await symlink('/proc/self/fd', join(root, 'dev/fd'));
  const plan = await planUsrUnify(root);
  t.match(plan.warnings, [/\/opt has content \(vendor\)/]);
  await applyPlan(root, plan);
  t.same(await readdir(join(root, 'dev')), []);
  await t.rejects(lstat(join(root, 'usr/share-fifo')));
  t.equal(await readFile(join(root, 'usr/share/factory/var/opt/vendor/app'), 'utf8'), 'app');
});

async function snapshot(root: string): Promise<string[]> {
  const { walk } = await import('../src/tree.js');
  const out: string[] = [];
  for await (const e of walk(root)) out.push(`${e.rel} ${e.st.mode} ${e.st.size}`);
  return out;
}
