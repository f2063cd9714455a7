import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '../src/errors.js';
import { DEB_STAGE, installDebs } from '../src/install-debs.js';
import { toolboxRoot } from '../src/toolbox.js';

/** A Debian tree with a dpkg: the toolbox's (or this host's) usr and etc as hardlinks, its own copy of the dpkg database. */
function debianTree(dir: string): string {
  const from = toolboxRoot() ?? '/';
  const root = join(dir, 'root');
  mkdirSync(join(root, 'var/lib'), { recursive: true });
  execFileSync('cp', ['-al', join(from, 'usr'), join(from, 'etc'), root]);
  execFileSync('cp', ['-a', join(from, 'var/lib/dpkg'), join(root, 'var/lib/')]);
  for (const l of ['bin', 'sbin', 'lib', 'lib64']) execFileSync('ln', ['-s', `usr/${l}`, join(root, l)]);
  return root;
}

/** The smallest real .deb: one file, and the Depends given. */
function deb(dir: string, name: string, depends?: string): string {
  const src = join(dir, `${name}-src`);
  mkdirSync(join(src, 'DEBIAN'), { recursive: true });
  mkdirSync(join(src, 'usr/share', name), { recursive: true });
  writeFileSync(join(src, 'usr/share', name, 'hello'), 'hello\n');
  writeFileSync(
    join(src, 'DEBIAN/control'),
    `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: Test <test@example.org>\nDescription: test\n${depends ? `Depends: ${depends}\n` : ''}`,
  );
  const out = join(dir, `${name}_1.0_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', src, out], { stdio: 'ignore' });
  return out;
}

t.test("the tree's own dpkg installs the .debs and records them; the staging directory is gone", async (t) => {
  const dir = t.testdir({});
  const root = debianTree(dir);
  const r = await installDebs(root, [deb(dir, 'da-test-one'), deb(dir, 'da-test-two', 'da-test-one')]);
  t.same(r.installed, ['da-test-one_1.0_all.deb', 'da-test-two_1.0_all.deb']);
  t.equal(readFileSync(join(root, 'usr/share/da-test-two/hello'), 'utf8'), 'hello\n');
  t.match(
    readFileSync(join(root, 'var/lib/dpkg/status'), 'utf8'),
    /Package: da-test-one\nStatus: install ok installed/,
  );
  t.notOk(existsSync(join(root, DEB_STAGE)));
});

t.test('a missing dependency fails with the hint; no dpkg or no .deb is bad input', async (t) => {
  const dir = t.testdir({ empty: {} });
  const root = debianTree(dir);
  const e = (await installDebs(root, [deb(dir, 'da-test-needy', 'da-no-such-package')]).catch(
    (e: unknown) => e,
  )) as ToolError;
  t.ok(e instanceof ToolError);
  t.equal(e.exitCode, 1);
  t.match(e.summary, /dpkg failed in/);
  t.match(e.detail, /da-no-such-package/);
  t.match(e.hint, /add it to the variant's packages/);
  t.notOk(existsSync(join(root, DEB_STAGE)), 'staging removed after a failure too');
  const noDpkg = (await installDebs(join(dir, 'empty'), []).catch((e: unknown) => e)) as ToolError;
  t.equal(noDpkg.exitCode, 2);
  t.match(noDpkg.summary, /no dpkg: not a Debian tree \(or already usr-unified\)/);
  const noDeb = (await installDebs(root, [join(dir, 'nope.deb')]).catch((e: unknown) => e)) as ToolError;
  t.equal(noDeb.exitCode, 2);
  t.match(noDeb.summary, /nope\.deb: cannot read the \.deb: no such file/);
});
