import t from 'tap';
import { excludePreferences, mmdebstrapArgs, packageSet, sourcesLines } from '../src/mmdebstrap.js';
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
    args.includes(`--setup-hook=sync-in '/cache dir/it'\\''s' /var/cache/apt/archives`),
    'paths are shell-quoted for hooks',
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
