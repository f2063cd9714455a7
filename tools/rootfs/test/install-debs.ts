import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const rootfs = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

// The install itself (a real dpkg in a real tree) is tested in tools/lib (test/install-debs.ts).
t.test('rootfs install-debs: its own help and usage; a tree without dpkg is refused before anything', async (t) => {
  const help = rootfs('install-debs', '--help');
  t.equal(help.status, 0);
  t.match(help.stdout, /install-debs --root DIR DEB\.\.\./);
  t.match(
    rootfs('--help').stdout,
    /install-debs --root DIR DEB\.\.\.: install this run's \.debs/,
    'the main help names it',
  );
  const noDeb = rootfs('install-debs', '--root', '/nonexistent');
  t.equal(noDeb.status, 2);
  t.match(noDeb.stderr, /no DEB given/);
  const noRoot = rootfs('install-debs', 'a.deb');
  t.equal(noRoot.status, 2);
  t.match(noRoot.stderr, /root/);
  const dir = t.testdir({ tree: {}, 'a.deb': '' });
  const notDebian = rootfs('install-debs', '--root', join(dir, 'tree'), join(dir, 'a.deb'));
  t.equal(notDebian.status, 2);
  t.match(notDebian.stderr, /tree: no dpkg: not a Debian tree/);
  t.equal(notDebian.stdout, '', 'nothing on stdout');
});
