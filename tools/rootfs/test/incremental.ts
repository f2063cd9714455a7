import t from 'tap';
import { mkdir, readdir, readFile, stat, symlink, utimes, writeFile, lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { findTree, pruneTrees, reuseOf, saveTree, treeKey, TREES_KEPT } from '../src/incremental.js';
import { aptOptions } from '../src/tree-apt.js';
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

t.test('save, find, prune: whole trees only, the newest kept', async (t) => {
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

  // Saving the same key again replaces the tree whole.
  await writeFile(join(dir, 'tree/etc/hostname'), 'y\n');
  await saveTree(trees, key(1), join(dir, 'tree'), ['a']);
  t.equal(await readFile(join(trees, key(1), 'tree/etc/hostname'), 'utf8'), 'y\n');
  t.same((await findTree(trees, key(1)))!.packages, ['a']);

  // A half-written entry (no packages.json) is not a tree.
  await mkdir(join(trees, key(9), 'tree'), { recursive: true });
  t.equal(await findTree(trees, key(9)), null);

  // Older keys go beyond TREES_KEPT; the one just saved always stays; stale leftovers go.
  const old = new Date(Date.now() - 3 * 864e5);
  await mkdir(join(trees, `.${key(5)}.new-1-dead`), { recursive: true });
  await utimes(join(trees, `.${key(5)}.new-1-dead`), old, old);
  await mkdir(join(trees, `.${key(6)}.new-2-live`), { recursive: true });
  for (let n = 2; n <= TREES_KEPT + 2; n++) {
    await mkdir(join(trees, key(n)), { recursive: true });
    const when = new Date(Date.now() - n * 1000);
    await utimes(join(trees, key(n)), when, when);
  }
  await utimes(join(trees, key(1)), old, old);
  await pruneTrees(trees, key(1));
  const left = (await readdir(trees)).sort();
  t.ok(left.includes(key(1)), 'the kept key stays, however old');
  t.ok(left.includes(`.${key(6)}.new-2-live`), "another run's copy in progress stays");
  t.notOk(left.includes(`.${key(5)}.new-1-dead`), 'a stale leftover goes');
  t.same(
    left.filter((e) => /^[0-9a-f]{64}$/.test(e)),
    [key(1), key(2), key(9)],
    `${TREES_KEPT} trees kept: the one saved and the most recently used`,
  );
  t.ok((await stat(join(trees, key(1)))).isDirectory());
  t.ok((await lstat(join(trees, key(1), 'tree/bin'))).isSymbolicLink());
});
