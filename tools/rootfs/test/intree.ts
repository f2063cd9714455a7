import t from 'tap';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyTreefile } from '../src/apply.js';
import { inTreePath, inTreeTarget } from '../src/intree.js';
import { treefile } from './fixtures/treefile.js';

t.test('paths resolve inside the tree, as a chroot would', async (t) => {
  const dir = t.testdir({ tree: { usr: { lib: {} }, etc: {} }, host: {} });
  const root = join(dir, 'tree');
  symlinkSync('/usr/lib', join(root, 'lib'));
  symlinkSync(join(dir, 'host'), join(root, 'etc/abs')); // a host path: inside the tree it does not exist
  symlinkSync('../../../../../../host', join(root, 'etc/climb'));
  symlinkSync('loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));
  t.equal(await inTreePath(root, 'lib/x'), join(root, 'usr/lib/x'), 'an absolute link is taken inside the tree');
  t.equal(await inTreePath(root, '/lib/x'), join(root, 'usr/lib/x'));
  t.equal(
    await inTreePath(root, 'etc/abs/passwd'),
    join(root, dir.slice(1), 'host/passwd'),
    "the host path, under the tree's root",
  );
  t.equal(await inTreePath(root, 'etc/climb/passwd'), join(root, 'host/passwd'), '".." stops at the root');
  t.equal(await inTreePath(root, 'etc/abs'), join(root, 'etc/abs'), 'the last component is not followed');
  t.equal(await inTreePath(root, '.'), root);
  await t.rejects(inTreePath(root, 'loop1/x'), { message: /too many levels of symbolic links/ });
  symlinkSync('/etc/passwd', join(root, 'etc/passwd'));
  t.equal(await inTreeTarget(root, 'etc/passwd'), join(root, 'etc/passwd'));
  t.notOk(existsSync(join(root, 'etc/passwd')), 'a link standing where a file is written is removed first');
});

t.test('applyTreefile never writes or deletes through a link out of the tree', async (t) => {
  const dir = t.testdir({
    host: { 'resolv.conf': 'host resolver\n', 'keep.txt': 'host file\n', doc: { 'x.txt': 'host doc\n' } },
    tree: {
      etc: {},
      usr: { share: {} },
      var: { lib: { dpkg: { status: 'Package: base-files\nStatus: install ok installed\nVersion: 13\n\n' } } },
    },
    'motd.txt': 'welcome\n',
  });
  const root = join(dir, 'tree');
  const host = join(dir, 'host');
  // A package's absolute link (as /etc/resolv.conf -> /run/systemd/...), and a directory linking to the host.
  symlinkSync(join(host, 'resolv.conf'), join(root, 'etc/resolv.conf'));
  symlinkSync(host, join(root, 'usr/share/hostdir'));
  symlinkSync('../../../host/doc', join(root, 'usr/share/doc'));
  mkdirSync(join(root, 'etc/ssh'));
  writeFileSync(join(root, 'etc/machine-id'), 'abc\n');
  const tf = treefile({
    'add-files': [
      [join(dir, 'motd.txt'), '/etc/resolv.conf'],
      [join(dir, 'motd.txt'), '/usr/share/hostdir/keep.txt'],
    ],
    'remove-files': ['usr/share/doc/x.txt'],
  } as never);
  const manifest = await applyTreefile(root, tf);
  t.same(
    manifest.map((p) => p.name),
    ['base-files'],
  );
  t.equal(
    readFileSync(join(host, 'resolv.conf'), 'utf8'),
    'host resolver\n',
    'the host file behind the link is untouched',
  );
  t.equal(readFileSync(join(host, 'keep.txt'), 'utf8'), 'host file\n');
  t.equal(readFileSync(join(host, 'doc/x.txt'), 'utf8'), 'host doc\n', 'remove-files did not follow the link out');
  t.notOk(lstatSync(join(root, 'etc/resolv.conf')).isSymbolicLink(), 'the link in the tree is replaced by the file');
  t.equal(readFileSync(join(root, 'etc/resolv.conf'), 'utf8'), 'welcome\n');
  t.equal(
    readFileSync(join(root, host.slice(1), 'keep.txt'), 'utf8'),
    'welcome\n',
    'written where the link leads inside the tree',
  );
  t.equal(readFileSync(join(root, 'etc/machine-id'), 'utf8'), '');
  t.match(JSON.parse(readFileSync(join(root, 'usr/share/debian-atomic/treefile.json'), 'utf8')), {
    ref: 'debian/13/x86_64/test',
  });
  await t.rejects(applyTreefile(root, treefile({ 'remove-files': ['usr/..'] } as never)), {
    message: /remove-files: usr\/\.\.: names the root of the tree/,
  });
});
