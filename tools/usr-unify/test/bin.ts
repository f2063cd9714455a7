import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEBIAN_TREE, makeTree } from './fixtures/tree.js';

const bin = resolve(import.meta.dirname, '../dist/bin.js');
const run = (...args: string[]) => spawnSync('node', [bin, ...args], { encoding: 'utf8' });

t.test('--check reports, the plain run applies, then --check is clean', async (t) => {
  const root = join(t.testdir({}), 'tree');
  await makeTree(root, DEBIAN_TREE);
  await writeFile(join(root, 'usr/lib/modules/6.12.0-1-amd64/initramfs.img'), 'x');
  const check = run('--check', root);
  t.equal(check.status, 1);
  const report = JSON.parse(check.stdout);
  t.equal(report.ok, false);
  t.equal(report.applied, false);
  t.equal(report.kernel, '6.12.0-1-amd64');
  t.match(report.changes.etc.examples, ['move /etc -> /usr/etc']);
  t.equal(check.stderr, '');

  const apply = run('--quiet', root);
  t.equal(apply.status, 0, apply.stderr);
  t.match(JSON.parse(apply.stdout), { ok: true, applied: true });
  const again = run('--check', root);
  t.equal(again.status, 0);
  t.match(JSON.parse(again.stdout), { ok: true, actions: 0 });
});

t.test('conflicts: exit 1, JSON says why, stderr names the path', async (t) => {
  const root = join(t.testdir({}), 'tree');
  await makeTree(root, { ...DEBIAN_TREE, 'etc/bad': { link: '../../../x' } });
  const r = run(root);
  t.equal(r.status, 1);
  t.match(JSON.parse(r.stdout), { ok: false, applied: false, conflicts: [{ check: 'symlinks', path: '/etc/bad' }] });
  t.match(r.stderr, /usr-unify: \/etc\/bad: symlink to \.\.\/\.\.\/\.\.\/x points outside the tree/);
  t.match(r.stderr, /nothing was changed/);
});

t.test('usage errors exit 2', async (t) => {
  t.equal(run().status, 2);
  const missing = run('/nonexistent/tree');
  t.equal(missing.status, 2);
  t.match(missing.stderr, /not a directory/);
  t.equal(run('--bogus', '/tmp').status, 2);
  const help = run('--help');
  t.equal(help.status, 0);
  t.match(help.stdout, /usr-unify \[--check\] DIR/);
});
