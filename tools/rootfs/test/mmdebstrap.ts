import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { excludePreferences, linkDebs, mmdebstrapArgs, packageSet, sourcesLines } from '../src/mmdebstrap.js';
import { treefile } from './fixtures/treefile.js';

t.test("package set: packages + the architecture's, minus excludes, sorted", async (t) => {
  const tf = treefile({
    packages: ['systemd', 'zsh', 'nano'],
    'packages-amd64': ['intel-microcode'],
    'packages-arm64': ['u-boot'],
    'exclude-packages': ['nano'],
  } as never);
  t.same(packageSet(tf), ['intel-microcode', 'systemd', 'zsh']);
});

t.test('sources lines carry the keyring and every component', async (t) => {
  const tf = treefile({
    repos: [
      {
        mirror: 'http://deb.debian.org/debian',
        suite: 'trixie',
        components: ['main', 'non-free-firmware'],
        keyring: '/k.gpg',
      },
      { mirror: 'http://deb.debian.org/debian', suite: 'trixie-updates', components: ['main'] },
    ],
  } as never);
  t.same(sourcesLines(tf), [
    'deb [signed-by=/k.gpg] http://deb.debian.org/debian trixie main non-free-firmware',
    'deb http://deb.debian.org/debian trixie-updates main',
  ]);
});

t.test('exclude-packages become apt pins of -1', async (t) => {
  t.equal(
    excludePreferences(treefile({ 'exclude-packages': ['a', 'b'] } as never)),
    'Package: a\nPin: release *\nPin-Priority: -1\n\nPackage: b\nPin: release *\nPin-Priority: -1\n',
  );
  t.equal(excludePreferences(treefile()), '');
});

t.test('the mmdebstrap command line', async (t) => {
  const { args, packages } = mmdebstrapArgs(
    treefile({ recommends: true, 'mmdebstrap-variant': 'minbase' }),
    '/out',
    "/cache dir/it's",
    '/p',
  );
  t.same(packages, ['systemd']);
  t.ok(args.includes('--variant=minbase'));
  t.ok(args.includes('--architectures=amd64'));
  t.ok(args.includes('--include=systemd'));
  t.ok(args.includes('--aptopt=APT::Install-Recommends "true"'));
  t.ok(
    args.some((a) => a.startsWith('--setup-hook=') && a.includes(`find '/cache dir/it'\\''s' -maxdepth 1`)),
    'paths are shell-quoted for hooks',
  );
  t.ok(
    args.some(
      (a) => a.startsWith('--customize-hook=') && a.includes(`-links 1 -exec cp -l -f -t '/cache dir/it'\\''s'`),
    ),
    'what apt downloaded goes back to the cache',
  );
  t.notOk(
    args.some((a) => /sync-(in|out)/.test(a)),
    'the cache is not copied both ways',
  );
  t.ok(args.some((a) => a.includes('preferences.d') && a.includes("'/p'")));
  t.ok(
    args.some(
      (a) =>
        a.startsWith('--essential-hook=') && a.includes('dpkg-divert') && a.includes('/etc/kernel/postinst.d/dracut'),
    ),
  );
  t.same(args.slice(-3), [
    'trixie',
    '/out',
    'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main',
  ]);
  const noPrefs = mmdebstrapArgs(treefile(), '/out', '/c', null).args;
  t.notOk(noPrefs.some((a) => a.includes('preferences.d')));
  t.ok(noPrefs.includes('--aptopt=APT::Install-Recommends "false"'));
  t.notOk(
    noPrefs.some((a) => a.includes('Check-Valid-Until')),
    'Valid-Until is checked by default',
  );
  t.ok(
    mmdebstrapArgs(treefile(), '/out', '/c', null, true).args.includes('--aptopt=Acquire::Check-Valid-Until "false"'),
  );
});

t.test(
  'the cache hooks: .debs linked in, only the downloaded ones linked back, copies across filesystems',
  async (t) => {
    const dir = t.testdir({ cache: { 'a.deb': 'a', 'b.deb': 'b', lock: '', partial: {} }, tree: {} });
    const cache = join(dir, 'cache');
    const archives = join(dir, 'tree/var/cache/apt/archives');
    mkdirSync(archives, { recursive: true });
    const sh = (script: string) => spawnSync('sh', ['-c', script, 'hook', join(dir, 'tree')], { encoding: 'utf8' });
    const q = (p: string) => `'${p}'`;
    const into = sh(linkDebs(q(cache), '"$1"/var/cache/apt/archives'));
    t.equal(into.status, 0, into.stderr);
    t.same(readdirSync(archives).sort(), ['a.deb', 'b.deb'], 'only the .debs');
    t.equal(statSync(join(archives, 'a.deb')).ino, statSync(join(cache, 'a.deb')).ino, 'a link, not a copy');
    writeFileSync(join(archives, 'c.deb'), 'c');
    const back = sh(linkDebs('"$1"/var/cache/apt/archives', q(cache), true));
    t.equal(back.status, 0, back.stderr);
    t.same(readdirSync(cache).sort(), ['a.deb', 'b.deb', 'c.deb', 'lock', 'partial']);
    t.equal(statSync(join(cache, 'c.deb')).nlink, 2);
    // /dev/shm is another filesystem (tmpfs): cp -l fails there, and the .debs are copied.
    t.not(statSync('/dev/shm').dev, statSync(dir).dev, '/dev/shm is another filesystem');
    const elsewhere = join('/dev/shm', `debian-atomic-test-${process.pid}`);
    mkdirSync(elsewhere);
    t.teardown(() => rmSync(elsewhere, { recursive: true, force: true }));
    const copied = sh(linkDebs(q(cache), q(elsewhere)));
    t.equal(copied.status, 0, copied.stderr);
    t.equal(copied.stderr, '', 'the failed links are not reported');
    t.same(readdirSync(elsewhere).sort(), ['a.deb', 'b.deb', 'c.deb']);
    t.equal(readFileSync(join(elsewhere, 'c.deb'), 'utf8'), 'c');
    t.equal(statSync(join(elsewhere, 'a.deb')).nlink, 1);
  },
);
