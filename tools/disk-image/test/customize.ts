import t from 'tap';
import { chown, lstat, mkdir, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { customize, homeInVar } from '../src/customize.js';
import type { DiskConfig } from '../src/config.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE4vQ9D0m2xVv5yC9eGz2xQ7gXh0v1m9b8tKk4e5Zk1r';
const DEPLOYMENT = 'ostree/deploy/debian/deploy/abc.0';

/** A deployed sysroot's /etc and stateroot /var, as ostree leaves them (plus `etc` overrides). */
async function sysroot(dir: string, etc: Record<string, string> = {}): Promise<string> {
  const root = join(dir, 'sysroot');
  const files: Record<string, string> = {
    passwd:
      'root:x:0:0:root:/root:/bin/bash\nmessagebus:x:100:101::/nonexistent:/usr/sbin/nologin\nolduser:x:1000:1000::/var/home/olduser:/bin/bash\n',
    group: 'root:x:0:\nsudo:x:27:\nmessagebus:x:101:\nolduser:x:1000:\n',
    shadow: 'root:*:20000:0:99999:7:::\nmessagebus:!:20000::::::\nolduser:!:20000:0:99999:7:::\n',
    gshadow: 'root:*::\nsudo:*::\nmessagebus:!::\nolduser:!::\n',
    ...etc,
  };
  await mkdir(join(root, DEPLOYMENT, 'etc'), { recursive: true });
  await mkdir(join(root, 'ostree/deploy/debian/var'), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(root, DEPLOYMENT, 'etc', name), text);
  return root;
}

const run = (root: string, cfg: DiskConfig) => customize(root, DEPLOYMENT, 'debian', cfg);
const etcFile = (root: string, name: string) => readFile(join(root, DEPLOYMENT, 'etc', name), 'utf8');

t.test('users, root keys and the hostname are written into /etc and /var', async (t) => {
  const root = await sysroot(t.testdir({}));
  const shadow = join(root, DEPLOYMENT, 'etc/shadow');
  await chown(shadow, 0, 42);
  const r = await run(root, {
    hostname: 'box',
    users: [
      { name: 'alice', groups: ['sudo'], 'ssh-keys': [KEY, `${KEY} second`] },
      { name: 'bob', uid: 1001, shell: '/usr/bin/fish', 'password-hash': '$6$salt$hash' },
      { name: 'root', 'ssh-keys': [KEY], 'password-hash': '!' },
    ],
  });
  t.same(r.hostname, 'box');
  t.same(
    r.users.map((u) => [u.name, u.uid, u.home, u.sshKeys]),
    [
      ['alice', 1002, '/var/home/alice', 2],
      ['bob', 1001, '/var/home/bob', 0],
      ['root', 0, '/root', 1],
    ],
    'uid 1001 is kept for bob, alice takes the next free one',
  );
  t.equal(await etcFile(root, 'hostname'), 'box\n');
  const passwd = await etcFile(root, 'passwd');
  t.match(passwd, /^alice:x:1002:1002::\/var\/home\/alice:\/bin\/bash$/m);
  t.match(passwd, /^bob:x:1001:1001::\/var\/home\/bob:\/usr\/bin\/fish$/m);
  t.equal(passwd.split('\n').filter((l) => /^[^:]*:x:0:/.test(l)).length, 1, 'one uid-0 account');
  t.match(await etcFile(root, 'group'), /^sudo:x:27:alice$/m);
  t.match(await etcFile(root, 'gshadow'), /^sudo:\*::alice$/m);
  const sh = await etcFile(root, 'shadow');
  t.match(sh, /^root:!:20000:/m, "root's password replaced");
  t.match(sh, /^bob:\$6\$salt\$hash:\d+:0:99999:7:::$/m);
  const st = await stat(shadow);
  t.equal(st.mode & 0o777, 0o640, 'shadow stays 0640');
  t.equal(st.gid, 42, "shadow keeps its group (Debian's shadow group)");
  const v = join(root, 'ostree/deploy/debian/var');
  t.equal(await readFile(join(v, 'home/alice/.ssh/authorized_keys'), 'utf8'), `${KEY}\n${KEY} second\n`);
  t.equal((await stat(join(v, 'home/alice/.ssh/authorized_keys'))).mode & 0o777, 0o600);
  t.equal((await stat(join(v, 'home/alice'))).uid, 1002);
  t.equal((await stat(join(v, 'home'))).mode & 0o777, 0o755, '/var/home stays traversable');
  t.equal(await readFile(join(v, 'roothome/.ssh/authorized_keys'), 'utf8'), `${KEY}\n`);
  t.same((await lstat(join(root, DEPLOYMENT, 'etc'))).isDirectory(), true);
});

t.test('an existing regular user is customized, not changed', async (t) => {
  const root = await sysroot(t.testdir({}));
  const r = await run(root, {
    users: [{ name: 'olduser', uid: 1000, shell: '/bin/bash', groups: ['sudo'], 'password-hash': '$y$j9T$abc$def' }],
  });
  t.same(r.users[0], { name: 'olduser', uid: 1000, home: '/var/home/olduser', groups: ['sudo'], sshKeys: 0 });
  t.match(await etcFile(root, 'shadow'), /^olduser:\$y\$j9T\$abc\$def:20000:/m);
  await t.rejects(run(root, { users: [{ name: 'olduser', uid: 1500 }] }), {
    message: /user olduser exists in the image with uid 1000: the config cannot change an existing account's uid/,
  });
  await t.rejects(run(root, { users: [{ name: 'olduser', shell: '/bin/sh' }] }), {
    message: /exists in the image with the shell \/bin\/bash/,
  });
});

t.test('what the config may not do to the image', async (t) => {
  const dir = t.testdir({});
  const root = await sysroot(dir);
  const cases: [DiskConfig, RegExp][] = [
    [
      { users: [{ name: 'messagebus', 'ssh-keys': [KEY] }] },
      /user messagebus: a system account of the image \(uid 100\)/,
    ],
    [{ users: [{ name: 'carol', uid: 1000 }] }, /user carol: uid 1000 is already used in the image \(by olduser\)/],
    [{ users: [{ name: 'carol', groups: ['wheel'] }] }, /user carol: group wheel does not exist in the image/],
  ];
  for (const [cfg, re] of cases) await t.rejects(run(root, cfg), { code: 'bad-config', message: re });
  const noShadow = await sysroot(join(dir, 'b'), { shadow: 'root:*:20000:0:99999:7:::\n' });
  await t.rejects(run(noShadow, { users: [{ name: 'olduser', 'password-hash': '!' }] }), {
    message: /olduser is in the image's \/etc\/passwd but not in \/etc\/shadow/,
  });
  const group = await sysroot(join(dir, 'c'), { group: 'root:x:0:\ncarol:x:1200:\n' });
  await t.rejects(run(group, { users: [{ name: 'carol' }] }), {
    message: /user carol: the image already has a group carol/,
  });
  const full = await sysroot(join(dir, 'd'), {
    group: Array.from({ length: 59000 }, (_, i) => `g${i}:x:${1000 + i}:`).join('\n'),
  });
  await t.rejects(run(full, { users: [{ name: 'carol' }] }), { message: /no free uid between 1000 and 59999/ });
  const huge = await sysroot(join(dir, 'e'), { passwd: 'x'.repeat(2 << 20) });
  await t.rejects(run(huge, { users: [{ name: 'carol' }] }), {
    exitCode: 2,
    message: /the image's \/etc\/passwd larger than 1048576 bytes/,
  });
});

t.test('nothing the commit holds leads an edit out of the sysroot', async (t) => {
  const dir = t.testdir({ 'host-shadow': 'host:secret:1::::::\n', 'host-hostname': 'host\n', outside: {} });
  // /etc/shadow -> a host file: read and rewritten through the link, the old code leaked and changed it.
  const linked = await sysroot(join(dir, 'a'));
  const shadow = join(linked, DEPLOYMENT, 'etc/shadow');
  await rm(shadow);
  await symlink(join(dir, 'host-shadow'), shadow);
  await t.rejects(run(linked, { users: [{ name: 'alice' }] }), {
    code: 'bad-image',
    message: /the image's \/etc\/shadow is a symbolic link/,
  });
  t.equal(await readFile(join(dir, 'host-shadow'), 'utf8'), 'host:secret:1::::::\n', 'the host file is untouched');
  t.notMatch(await etcFile(linked, 'passwd'), /alice/, 'no file of /etc was changed');

  // /etc/hostname -> a host file: replaced by a rename, the link target is untouched.
  const host = await sysroot(join(dir, 'b'));
  await symlink(join(dir, 'host-hostname'), join(host, DEPLOYMENT, 'etc/hostname'));
  await run(host, { hostname: 'box' });
  t.equal(await readFile(join(dir, 'host-hostname'), 'utf8'), 'host\n');
  t.equal(await etcFile(host, 'hostname'), 'box\n');
  const dirHostname = await sysroot(join(dir, 'b2'));
  await mkdir(join(dirHostname, DEPLOYMENT, 'etc/hostname'));
  await t.rejects(run(dirHostname, { hostname: 'box' }), { message: /\/etc\/hostname is a directory/ });

  // /var/home -> outside: a new user's home is not made through it.
  const home = await sysroot(join(dir, 'c'));
  await symlink(join(dir, 'outside'), join(home, 'ostree/deploy/debian/var/home'));
  await t.rejects(run(home, { users: [{ name: 'alice', 'ssh-keys': [KEY] }] }), {
    message: /user alice: \/var\/home\/alice passes .*var\/home, a symbolic link/,
  });
  t.notMatch(await etcFile(home, 'passwd'), /alice/, 'checked before /etc is changed');

  // ~/.ssh -> outside: the keys are not written through it.
  const ssh = await sysroot(join(dir, 'd'));
  await mkdir(join(ssh, 'ostree/deploy/debian/var/home/olduser'), { recursive: true });
  await symlink(join(dir, 'outside'), join(ssh, 'ostree/deploy/debian/var/home/olduser/.ssh'));
  await t.rejects(run(ssh, { users: [{ name: 'olduser', 'ssh-keys': [KEY] }] }), {
    message: /\.ssh in the image's \/var is a symbolic link/,
  });
  const keysDir = await sysroot(join(dir, 'd2'));
  await mkdir(join(keysDir, 'ostree/deploy/debian/var/home/olduser/.ssh/authorized_keys'), { recursive: true });
  await t.rejects(run(keysDir, { users: [{ name: 'olduser', 'ssh-keys': [KEY] }] }), {
    message: /authorized_keys in the image's \/var is a directory/,
  });
  // an authorized_keys link is replaced, not written through
  const keysLink = await sysroot(join(dir, 'd3'));
  await mkdir(join(keysLink, 'ostree/deploy/debian/var/home/olduser/.ssh'), { recursive: true });
  await symlink(
    join(dir, 'host-hostname'),
    join(keysLink, 'ostree/deploy/debian/var/home/olduser/.ssh/authorized_keys'),
  );
  await run(keysLink, { users: [{ name: 'olduser', 'ssh-keys': [KEY] }] });
  t.equal(await readFile(join(dir, 'host-hostname'), 'utf8'), 'host\n');
  await t.rejects(
    readlink(join(keysLink, 'ostree/deploy/debian/var/home/olduser/.ssh/authorized_keys')),
    'a file now, not a link',
  );

  t.same(await readdir(join(dir, 'outside')), [], 'nothing written outside');

  const missing = await sysroot(join(dir, 'e'));
  await rm(join(missing, DEPLOYMENT, 'etc/group'));
  await t.rejects(run(missing, { users: [{ name: 'alice' }] }), { message: /the image has no \/etc\/group/ });
  const fifo = await sysroot(join(dir, 'f'));
  await rm(join(fifo, DEPLOYMENT, 'etc/passwd'));
  await mkdir(join(fifo, DEPLOYMENT, 'etc/passwd'));
  await t.rejects(run(fifo, { users: [{ name: 'alice' }] }), { message: /\/etc\/passwd is not a regular file/ });
});

t.test('homes: only in /var, plain paths', async (t) => {
  const v = t.testdir({});
  t.equal(await homeInVar(v, 'root', '/root'), join(v, 'roothome'));
  t.equal(await homeInVar(v, 'a', '/var/home/a'), join(v, 'home/a'));
  t.equal(await homeInVar(v, 'a', '/home/a'), join(v, 'home/a'));
  for (const [home, re] of [
    ['/nonexistent', /is not in \/var\/home or \/root/],
    ['/usr/sbin', /is not in \/var\/home or \/root/],
    ['/var/home/../../../etc', /is not a plain path/],
    ['/var/home//a', /is not a plain path/],
    ['/var/home/a/', /is not a plain path/],
    ['/home/./a', /is not a plain path/],
  ] as const)
    await t.rejects(homeInVar(v, 'a', home), { code: 'bad-image', message: re }, home);
});
