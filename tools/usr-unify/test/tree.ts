import t from 'tap';
import { linkTargetWithin } from '../src/tree.js';

t.test('symlink targets are resolved inside the tree or rejected', async (t) => {
  t.equal(linkTargetWithin('bin', 'usr/bin'), 'usr/bin');
  t.equal(linkTargetWithin('usr/sbin/init', '../lib/systemd/systemd'), 'usr/lib/systemd/systemd');
  t.equal(linkTargetWithin('etc/os-release', '../usr/lib/os-release'), 'usr/lib/os-release');
  t.equal(linkTargetWithin('etc/x', '/usr/share/x'), 'usr/share/x', 'absolute targets are inside the tree');
  t.equal(linkTargetWithin('etc/x', '../../outside'), null);
  t.equal(linkTargetWithin('a', '..'), null);
  t.equal(linkTargetWithin('a/b/c', '../../../../etc/passwd'), null);
  t.equal(linkTargetWithin('a/b/c', '../../x/../../y'), null, 'climbing out and back is still out');
  t.equal(linkTargetWithin('a/b/c', './d/../e'), 'a/b/e');
});

t.test('reads of the tree follow links inside it, never out', async (t) => {
  const { symlinkSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { readTreeText, resolveInTree } = await import('../src/tree.js');
  const dir = t.testdir({
    tree: { etc: { passwd: 'tree passwd\n' }, usr: { lib: { 'os-release': 'ID=debian\n' } } },
    'host-secret': 'host\n',
  });
  const root = join(dir, 'tree');
  symlinkSync('../usr/lib/os-release', join(root, 'etc/os-release'));
  symlinkSync('/etc/passwd', join(root, 'etc/abs'));
  symlinkSync('../../host-secret', join(root, 'etc/climb'));
  symlinkSync('self', join(root, 'etc/self'));
  t.equal(await readTreeText(root, 'etc/os-release'), 'ID=debian\n');
  t.equal(await readTreeText(root, 'etc/abs'), 'tree passwd\n', "an absolute link reads the tree's file");
  t.equal(await resolveInTree(root, 'etc/climb'), join(root, 'host-secret'), '".." stops at the root');
  await t.rejects(readTreeText(root, 'etc/climb'), {
    exitCode: 2,
    message: /tree\/host-secret: cannot read: no such file/,
  });
  await t.rejects(resolveInTree(root, 'etc/self'), { exitCode: 2, message: /too many levels of symbolic links/ });
  writeFileSync(join(root, 'etc/big'), 'x'.repeat(100));
  await t.rejects(readTreeText(root, 'etc/big', 10), { exitCode: 2, message: /larger than 10 bytes/ });
});

t.test('sameContent compares files a chunk at a time', async (t) => {
  const { lstat, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { sameContent } = await import('../src/tree.js');
  const big = Buffer.alloc(200_000, 'a');
  const other = Buffer.from(big);
  other[150_000] = 0x62;
  const dir = t.testdir({});
  await writeFile(join(dir, 'a'), big);
  await writeFile(join(dir, 'b'), big);
  await writeFile(join(dir, 'c'), other);
  const st = (f: string) => lstat(join(dir, f));
  t.ok(await sameContent(join(dir, 'a'), await st('a'), join(dir, 'b'), await st('b')));
  t.notOk(
    await sameContent(join(dir, 'a'), await st('a'), join(dir, 'c'), await st('c')),
    'one byte differs in the third chunk',
  );
});
