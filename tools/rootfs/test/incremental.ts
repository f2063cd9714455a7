import t from 'tap';
import { lstat, mkdir, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findTree, pruneTrees, reuseOf, saveTree, treeKey, TREES_KEPT } from '../src/incremental.js';
import { aptOptions, standInsForBinds } from '../src/tree-apt.js';
import { checkOutputs } from '../src/inputs.js';
import { treefile } from './fixtures/treefile.js';

const host = { allowExpired: false, keyrings: { '/k.gpg': 'aa' }, mmdebstrap: 'mmdebstrap 1.5.7', epoch: '1763812800' };

t.test('the key: every input of mmdebstrap but the package list', async (t) => {
  const base = treeKey(treefile({ packages: ['systemd'] }), host);
  t.match(base, /^[0-9a-f]{64}$/);
  t.equal(treeKey(treefile({ packages: ['systemd', 'tree', 'zsh'] }), host), base, 'packages added: same key');
  const changed: Array<[string, string]> = [
    [treeKey(treefile({ recommends: true } as never), host), 'recommends'],
    [treeKey(treefile({ 'exclude-packages': ['nano'] } as never), host), 'an exclusion'],
    [treeKey(treefile({ suite: 'forky' } as never), host), 'the suite'],
    [treeKey(treefile({ 'mmdebstrap-variant': 'essential' } as never), host), "mmdebstrap's variant"],
    [treeKey(treefile({ architecture: 'arm64' } as never), host), 'the architecture'],
    [
      treeKey(
        treefile({
          repos: [{ mirror: 'http://deb.debian.org/debian', suite: 'trixie', components: ['main', 'contrib'] }],
        } as never),
        host,
      ),
      'a component',
    ],
    [treeKey(treefile(), { ...host, allowExpired: true }), '--allow-expired'],
    [treeKey(treefile(), { ...host, keyrings: { '/k.gpg': 'bb' } }), "a keyring's bytes"],
    [treeKey(treefile(), { ...host, mmdebstrap: 'mmdebstrap 1.5.8' }), "mmdebstrap's version"],
    [treeKey(treefile(), { ...host, epoch: '1763812801' }), 'SOURCE_DATE_EPOCH'],
  ];
  for (const [key, what] of changed) t.not(key, base, `${what} changes the key`);
});

t.test('reuse: a cached set the new set contains; else the reason', async (t) => {
  t.same(reuseOf({ packages: ['a', 'b'] }, ['a', 'b', 'c', 'd']), { reuse: true, added: ['c', 'd'] });
  t.same(reuseOf({ packages: ['a', 'b'] }, ['a', 'b']), { reuse: true, added: [] }, 'same set: nothing to install');
  t.match(reuseOf(null, ['a']), { reuse: false, reason: /no cached tree/ });
  t.same(reuseOf({ packages: ['a', 'b'] }, ['a', 'c']), {
    reuse: false,
    reason: 'b is no longer in the package set of the cached tree',
  });
  t.match(reuseOf({ packages: ['a', 'b', 'c'] }, ['c']), { reuse: false, reason: /^a, b are no longer/ });
});

t.test("apt's options are mmdebstrap's", async (t) => {
  t.same(aptOptions(treefile({ recommends: true } as never), true), [
    '-o',
    'APT::Install-Recommends=true',
    '-o',
    'Acquire::Retries=3',
    '-o',
    'Acquire::Check-Valid-Until=false',
    '-o',
    'DPkg::Options::=--force-unsafe-io',
  ]);
  t.match(aptOptions(treefile(), false), ['-o', 'APT::Install-Recommends=false']);
  t.notOk(aptOptions(treefile(), false).includes('Acquire::Check-Valid-Until=false'));
});

t.test('save, find, prune: immutable snapshots behind a link, the most recently used kept', async (t) => {
  const dir = t.testdir({ tree: { etc: { hostname: 'x\n' }, usr: { bin: {} } } });
  const trees = join(dir, 'trees');
  await symlink('usr/bin', join(dir, 'tree/bin'));
  const key = (n: number) => n.toString(16).padStart(64, '0');
  t.equal(await findTree(trees, key(1)), null, 'nothing cached yet');
  await saveTree(trees, key(1), join(dir, 'tree'), ['b', 'a']);
  const found = await findTree(trees, key(1));
  t.same(found && { packages: found.packages, key: found.key }, { packages: ['a', 'b'], key: key(1) });
  t.equal(await readFile(join(found!.dir, 'etc/hostname'), 'utf8'), 'x\n');
  t.equal(await readlink(join(found!.dir, 'bin')), 'usr/bin', 'symlinks kept');

  // Saving the same key again makes a new snapshot: the one a reader found is not changed.
  await writeFile(join(dir, 'tree/etc/hostname'), 'y\n');
  await saveTree(trees, key(1), join(dir, 'tree'), ['a']);
  t.equal(await readFile(join(found!.dir, 'etc/hostname'), 'utf8'), 'x\n', 'the earlier snapshot is as it was');
  const again = await findTree(trees, key(1));
  t.not(again!.dir, found!.dir);
  t.equal(await readFile(join(again!.dir, 'etc/hostname'), 'utf8'), 'y\n');
  t.same(again!.packages, ['a']);

  // A link to something that is not a whole snapshot is not a tree.
  await mkdir(join(trees, `${key(9)}-0000000a`, 'tree'), { recursive: true });
  await symlink(`${key(9)}-0000000a`, join(trees, key(9)));
  t.equal(await findTree(trees, key(9)), null, 'no packages.json');
  await symlink('../../etc', join(trees, key(8)));
  t.equal(await findTree(trees, key(8)), null, 'a link out of the directory');

  // Pruning: TREES_KEPT keys by use (the one saved always stays), orphan snapshots after the grace
  // time, day-old leftovers of killed runs.
  const hoursAgo = (h: number) => new Date(Date.now() - h * 3600e3);
  const first = found!.dir.slice(0, -'/tree'.length);
  await utimes(first, hoursAgo(2), hoursAgo(2));
  for (let n = 2; n <= TREES_KEPT + 2; n++) {
    const snap = join(trees, `${key(n)}-0000000${n}`);
    await mkdir(join(snap, 'tree'), { recursive: true });
    await writeFile(join(snap, 'packages.json'), '{"packages":[]}');
    await symlink(`${key(n)}-0000000${n}`, join(trees, key(n)));
    await utimes(snap, hoursAgo(n / 100), hoursAgo(n / 100));
  }
  const current = again!.dir.slice(0, -'/tree'.length);
  await utimes(current, hoursAgo(30), hoursAgo(30));
  await mkdir(join(trees, `.${key(5)}-dead.new-1-dead`));
  await utimes(join(trees, `.${key(5)}-dead.new-1-dead`), hoursAgo(30), hoursAgo(30));
  await mkdir(join(trees, `.${key(6)}-live.new-2-live`));
  await pruneTrees(trees, key(1));
  const left = (await readdir(trees)).sort();
  t.same(
    left.filter((e) => /^[0-9a-f]{64}$/.test(e)),
    [key(1), key(2), key(9)],
    `${TREES_KEPT} keys kept: the one saved, however old, and the most recently used`,
  );
  t.ok(left.includes(current.split('/').pop()!), "the kept key's snapshot stays");
  t.notOk(left.includes(first.split('/').pop()!), 'an orphan snapshot unused for 2 hours goes');
  t.ok(left.includes(`${key(3)}-00000003`), 'an orphan snapshot used minutes ago stays (a copy may be running)');
  t.notOk(left.includes(`.${key(5)}-dead.new-1-dead`), 'a day-old leftover goes');
  t.ok(left.includes(`.${key(6)}-live.new-2-live`), "another run's copy in progress stays");
  t.ok((await lstat(join(trees, key(1), 'tree/bin'))).isSymbolicLink());
  t.same(
    await pruneTrees(trees, key(1), Date.now() + 2 * 3600e3).then(async () =>
      (await readdir(trees)).filter((e) => /-0000000[345]$/.test(e)),
    ),
    [],
    'orphans go once the grace time has passed',
  );
});

t.test('stand-ins for the sandbox binds: the tree is put back as it was', async (t) => {
  const dir = t.testdir({ root: { etc: {}, usr: { share: { doc: {} } } } });
  const root = join(dir, 'root');
  await symlink('../run/systemd/resolve/stub-resolv.conf', join(root, 'etc/resolv.conf'));
  const restore = await standInsForBinds(root, ['/usr/share/keyrings/extra.gpg', '/opt/keys/k.gpg']);
  for (const f of ['etc/resolv.conf', 'etc/hosts'])
    t.ok((await lstat(join(root, f))).isFile(), `${f} is a plain file during the run`);
  // What bwrap makes for the keyrings' read-only binds.
  await mkdir(join(root, 'usr/share/keyrings'));
  await writeFile(join(root, 'usr/share/keyrings/extra.gpg'), '');
  await mkdir(join(root, 'opt/keys'), { recursive: true });
  await writeFile(join(root, 'opt/keys/k.gpg'), '');
  await restore();
  t.equal(await readlink(join(root, 'etc/resolv.conf')), '../run/systemd/resolve/stub-resolv.conf', 'symlink back');
  t.notOk(await lstat(join(root, 'etc/hosts')).catch(() => null), 'no hosts file was there, none is left');
  t.notOk(await lstat(join(root, 'usr/share/keyrings')).catch(() => null), "the keyring's mount point is gone");
  t.notOk(await lstat(join(root, 'opt')).catch(() => null), 'and the directories made for it');
  t.ok((await lstat(join(root, 'usr/share/doc'))).isDirectory(), 'what was there stays');

  // A regular file stays as it is (bound over, never replaced).
  await writeFile(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
  await (
    await standInsForBinds(root, [])
  )();
  t.equal(await readFile(join(root, 'etc/hosts'), 'utf8'), '127.0.0.1 localhost\n');
});

t.test('--trees: a directory, and not inside --output', async (t) => {
  const dir = t.testdir({ file: 'x' });
  await t.rejects(checkOutputs(join(dir, 'out'), join(dir, 'apt'), join(dir, 'out/trees')), {
    message: /--trees .*: inside --output .*, which each build replaces/,
  });
  await t.rejects(checkOutputs(join(dir, 'out'), join(dir, 'apt'), join(dir, 'file')), {
    message: /--trees .*file: exists and is not a directory/,
  });
  await checkOutputs(join(dir, 'out'), join(dir, 'apt'), join(dir, 'trees'));
});
