/**
 * The real path: mmdebstrap from deb.debian.org (the only network here), the
 * treefile applied in bubblewrap. Slow (a minute or two): the e2e tier.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { lstat, readdir, readFile, readlink, writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { treefile } from './fixtures/treefile.js';

const bin = resolve(import.meta.dirname, '../dist/bin.js');
const env = { ...process.env, SOURCE_DATE_EPOCH: '1763812800' };

function rootfs(dir: string, tf: object, output: string, extra: string[] = ['--quiet']) {
  const r = spawnSync('node', [bin, '--treefile', '-', '--output', output, ...extra], {
    input: JSON.stringify(tf),
    encoding: 'utf8',
    env,
    cwd: dir,
  });
  return { ...r, json: () => JSON.parse(r.stdout) as Record<string, unknown> };
}

t.test('a real tree: packages, units, files, postprocess, manifest', async (t) => {
  const dir = t.testdir({ 'motd.txt': 'Welcome to Debian Atomic\n' });
  const output = join(dir, 'rootfs');
  const tf = treefile({
    packages: ['systemd', 'systemd-sysv', 'openssh-server', 'nvme-cli'],
    'exclude-packages': ['nano'],
    units: ['systemd-networkd.service'],
    'default-target': 'multi-user.target',
    'add-files': [[join(dir, 'motd.txt'), '/usr/share/debian-atomic/motd']],
    'remove-files': ['usr/share/doc/systemd'],
    postprocess: [
      '#!/bin/sh\nset -e\necho "postprocess ran as $(id -u) in $(pwd)" > /usr/share/debian-atomic/postprocess.out\nif getent hosts deb.debian.org; then echo has-network >> /usr/share/debian-atomic/postprocess.out; fi\n',
    ],
  } as never);
  const r = rootfs(dir, tf, output);
  t.equal(r.status, 0, r.stderr);
  const summary = r.json();
  t.match(summary, { ref: 'debian/13/x86_64/test', suite: 'trixie', architecture: 'amd64', requested: 4 });
  t.ok(Number(summary.packages) > 50, `${summary.packages} packages installed`);

  const pkgs = JSON.parse(await readFile(join(output, 'usr/share/debian-atomic/packages.json'), 'utf8')) as Array<{
    name: string;
    source: string;
  }>;
  t.ok(pkgs.some((p) => p.name === 'systemd'));
  t.notOk(
    pkgs.some((p) => p.name === 'nano'),
    'excluded package is absent',
  );
  t.match(JSON.parse(await readFile(join(output, 'usr/share/debian-atomic/treefile.json'), 'utf8')), {
    ref: 'debian/13/x86_64/test',
  });
  t.equal(await readFile(join(output, 'usr/share/debian-atomic/motd'), 'utf8'), 'Welcome to Debian Atomic\n');
  await t.rejects(lstat(join(output, 'usr/share/doc/systemd')), 'remove-files removed it');
  t.equal(
    await readFile(join(output, 'usr/share/debian-atomic/postprocess.out'), 'utf8'),
    'postprocess ran as 0 in /\n',
    'postprocess ran in the tree, without network',
  );
  t.match(
    await readlink(join(output, 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service')),
    /systemd-networkd\.service$/,
  );
  t.match(await readlink(join(output, 'etc/systemd/system/default.target')), /multi-user\.target$/);
  t.equal(await readFile(join(output, 'etc/machine-id'), 'utf8'), '', 'machine-id is empty: set on first boot');
  t.same(
    (await readdir(join(output, 'etc/ssh')).catch(() => [] as string[])).filter((f) => f.startsWith('ssh_host_')),
    [],
    'no SSH host key is shipped',
  );
  t.same(
    (await readdir(join(output, 'etc/nvme'))).filter((f) => f === 'hostnqn' || f === 'hostid'),
    [],
    "nvme-cli's postinst made a host NQN and ID: not shipped",
  );
  for (const unit of ['debian-atomic-ssh-keygen.service', 'debian-atomic-nvme-hostnqn.service']) {
    t.ok((await lstat(join(output, 'usr/lib/systemd/system', unit))).isFile(), `${unit} makes them on first boot`);
  }
  t.match(
    await readlink(join(output, 'etc/systemd/system/sysinit.target.wants/debian-atomic-nvme-hostnqn.service')),
    /debian-atomic-nvme-hostnqn\.service$/,
    'enabled',
  );
  t.ok((await lstat(join(output, 'etc/kernel/postinst.d'))).isDirectory());
  t.notOk(
    await lstat(join(output, 'etc/kernel/postinst.d/dracut.debian-atomic')).catch(() => null),
    'no diversion left behind',
  );

  // A failing postprocess names the script and its output, and leaves the previous tree as it was.
  await writeFile(join(output, 'marker'), 'previous build');
  // The smallest tree a postprocess runs in and apt runs in (Essential: yes, and apt): the failure
  // is what is tested, and --incremental keeps the tree mmdebstrap made for the test below.
  const trees = join(dir, 'trees');
  // A .deb cache of the test's own: what apt downloads into the cached tree must reach it.
  const debs = join(dir, 'apt');
  const incremental = ['--incremental', '--trees', trees, '--cache', debs];
  const small = (packages: string[], over: object = {}) =>
    treefile({ 'mmdebstrap-variant': 'essential', packages, ...over } as never);
  const bad = rootfs(
    dir,
    small(['apt'], { postprocess: ['#!/bin/sh\necho "about to fail: missing thing" >&2\nexit 3\n'] }),
    output,
    ['--quiet', ...incremental],
  );
  t.equal(bad.status, 1);
  t.match(bad.stderr, /^rootfs: postprocess script postprocess\[0\] failed\n/);
  t.match(bad.stderr, /about to fail: missing thing/);
  t.equal(await readFile(join(output, 'marker'), 'utf8'), 'previous build', 'previous output untouched');
  t.equal(bad.stdout, '');
  const kept = (await readdir(trees)).filter((e) => /^[0-9a-f]{64}$/.test(e));
  t.equal(kept.length, 1, "--incremental kept mmdebstrap's tree");
  t.same(JSON.parse(await readFile(join(trees, kept[0]!, 'packages.json'), 'utf8')), { packages: ['apt'] });
  t.notOk(
    (await readdir(debs)).some((f) => f.startsWith('tree_')),
    "tree's .deb is not in the test's cache yet",
  );

  // --incremental: the kept tree plus one package, installed by apt inside it.
  const plus = rootfs(dir, small(['apt', 'tree']), output, incremental);
  t.equal(plus.status, 0, plus.stderr);
  t.match(plus.json(), { requested: 2, incremental: { reused: true, key: kept[0], added: ['tree'] } });
  t.notMatch(plus.stderr, /building with mmdebstrap/);
  const plusPkgs = JSON.parse(await readFile(join(output, 'usr/share/debian-atomic/packages.json'), 'utf8')) as Array<{
    name: string;
  }>;
  t.ok(
    plusPkgs.some((p) => p.name === 'tree'),
    'the added package is in the manifest',
  );
  t.ok((await lstat(join(output, 'usr/bin/tree'))).isFile(), 'and in the tree');
  t.same(
    (await readdir(join(output, 'var/cache/apt/archives'))).filter((f) => f.endsWith('.deb')),
    [],
    'no .deb left in the tree',
  );
  t.same(
    (await readdir(join(output, 'var/lib/apt/lists'))).filter((f) => f !== 'partial' && f !== 'lock'),
    [],
    'no package lists left in the tree',
  );
  t.notOk(await lstat(join(output, 'usr/sbin/policy-rc.d')).catch(() => null), 'no policy-rc.d left behind');
  // As mmdebstrap left the cached tree: resolv.conf, and the logs its clean-up removes.
  const stateOf = (root: string, f: string) =>
    lstat(join(root, f)).then(
      (st) => (st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other'),
      () => 'absent',
    );
  for (const f of [
    'etc/resolv.conf',
    'etc/hosts',
    'var/log/dpkg.log',
    'var/log/apt/history.log',
    'var/log/apt/term.log',
  ])
    t.equal(await stateOf(output, f), await stateOf(join(trees, kept[0]!, 'tree'), f), `${f} as mmdebstrap left it`);
  t.ok(
    (await readdir(debs)).some((f) => f.startsWith('tree_')),
    "tree's .deb went to the cache",
  );
  t.same(
    JSON.parse(await readFile(join(trees, kept[0]!, 'packages.json'), 'utf8')),
    { packages: ['apt'] },
    'the kept tree is still the cold one',
  );

  // A failure on the cached path falls back to mmdebstrap, whose error is a cold build's.
  await writeFile(join(output, 'marker'), 'previous build');
  const unknown = rootfs(dir, small(['apt', 'no-such-package-debian-atomic']), output, incremental);
  t.equal(unknown.status, 1);
  t.match(
    unknown.stderr,
    /^rootfs: incremental: the cached tree could not be used: install no-such-package-debian-atomic: .*no-such-package-debian-atomic.*; building with mmdebstrap\n/,
  );
  t.match(unknown.stderr, /rootfs: unknown package no-such-package-debian-atomic/);
  t.equal(await readFile(join(output, 'marker'), 'utf8'), 'previous build', 'previous output untouched');
  t.equal(unknown.stdout, '');
});

t.test('unknown package and unreachable mirror: one clear error, no output', async (t) => {
  const dir = t.testdir({});
  const output = join(dir, 'rootfs');
  const unknown = rootfs(dir, treefile({ packages: ['systemd', 'no-such-package-debian-atomic'] }), output);
  t.equal(unknown.status, 1);
  t.match(
    unknown.stderr,
    /^rootfs: unknown package no-such-package-debian-atomic \(not in trixie\/amd64 of http:\/\/deb\.debian\.org\/debian\)/,
  );
  t.notOk(await lstat(output).catch(() => null), 'no half tree at --output');

  const mirror = rootfs(
    dir,
    treefile({ repos: [{ mirror: 'http://127.0.0.1:9/debian', suite: 'trixie', components: ['main'] }] } as never),
    output,
  );
  t.equal(mirror.status, 1);
  t.match(mirror.stderr, /cannot reach the mirror/);
  t.match(mirror.stderr, /127\.0\.0\.1:9/);
  t.notMatch(mirror.stderr, /\n\s+at /);

  await mkdir(join(dir, 'keys'));
  await writeFile(join(dir, 'keys/empty.gpg'), '');
  const key = rootfs(
    dir,
    treefile({
      repos: [
        {
          mirror: 'http://deb.debian.org/debian',
          suite: 'trixie',
          components: ['main'],
          keyring: join(dir, 'keys/empty.gpg'),
        },
      ],
    } as never),
    output,
  );
  t.equal(key.status, 1);
  t.match(key.stderr, /signature could not be verified|keyring/i);
  t.notOk(await lstat(output).catch(() => null));
});

t.test('bad input exits 2', async (t) => {
  const dir = t.testdir({ 'bad.json': '{ not json', 'partial.json': '{"ref":"x"}' });
  const a = spawnSync('node', [bin, '--treefile', join(dir, 'bad.json'), '--output', join(dir, 'o')], {
    encoding: 'utf8',
  });
  t.equal(a.status, 2);
  t.match(a.stderr, /bad\.json: not JSON/);
  const b = spawnSync('node', [bin, '--treefile', join(dir, 'partial.json'), '--output', join(dir, 'o')], {
    encoding: 'utf8',
  });
  t.equal(b.status, 2);
  t.match(b.stderr, /not a resolved treefile/);
  t.match(b.stderr, /suite/);
  const c = spawnSync('node', [bin, '--treefile', join(dir, 'missing.json'), '--output', join(dir, 'o')], {
    encoding: 'utf8',
  });
  t.equal(c.status, 2);
  t.equal(spawnSync('node', [bin], { encoding: 'utf8' }).status, 2);
});
