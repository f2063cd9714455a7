import t from 'tap';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../src/main.js';

function capture() {
  const text = { stdout: '', stderr: '' };
  const sink = (k: 'stdout' | 'stderr') =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        text[k] += chunk.toString();
        cb();
      },
    });
  return { io: { stdout: sink('stdout'), stderr: sink('stderr') }, text };
}

const REQUIRED = 'suite: trixie\nrepos: [{mirror: "http://deb.debian.org/debian", components: [main]}]\n';

t.test('lint: JSON summary on stdout, diagnostics on stderr, exit 0/1', async (t) => {
  const dir = t.testdir({ 'ok.yaml': `ref: a/b\npackages: [vim]\n${REQUIRED}`, 'bad.yaml': 'packages: [Vim]\n' });
  const ok = capture();
  t.equal(await main([join(dir, 'ok.yaml')], ok.io), 0);
  t.same(JSON.parse(ok.text.stdout), [{ file: join(dir, 'ok.yaml'), ok: true, ref: 'a/b', errors: 0 }]);
  t.equal(ok.text.stderr, '');
  const bad = capture();
  t.equal(await main([join(dir, 'ok.yaml'), join(dir, 'bad.yaml')], bad.io), 1);
  t.same(
    JSON.parse(bad.text.stdout).map((r: { ok: boolean }) => r.ok),
    [true, false],
  );
  t.match(bad.text.stderr, new RegExp(`^${join(dir, 'bad.yaml')}:1:12: packages\\.0: not a valid Debian package name`));
});

t.test('--resolve: canonical JSON of exactly one FILE', async (t) => {
  const dir = t.testdir({
    'a.yaml': `include: b.yaml\nref: a/b\npackages: [zsh, bash]\n`,
    'b.yaml': `${REQUIRED}packages: [bash, vim]\n`,
    'frag.yaml': 'packages: [vim]\n',
  });
  const c = capture();
  t.equal(await main(['--resolve', join(dir, 'a.yaml')], c.io), 0);
  const resolved = JSON.parse(c.text.stdout);
  t.same(resolved.packages, ['bash', 'vim', 'zsh']);
  t.equal(resolved.repos[0].suite, 'trixie');
  t.same(Object.keys(resolved), Object.keys(resolved).sort(), 'keys sorted');
  const again = capture();
  await main(['--resolve', join(dir, 'a.yaml')], again.io);
  t.equal(again.text.stdout, c.text.stdout, 'stable bytes');

  const frag = capture();
  t.equal(await main(['--resolve', join(dir, 'frag.yaml')], frag.io), 1);
  t.equal(frag.text.stdout, '');
  t.match(frag.text.stderr, /frag\.yaml:1:1: missing required key 'ref'/);
});

t.test('--resolve --output: the same bytes, written only when they change', async (t) => {
  const dir = t.testdir({ 'a.yaml': `ref: a/b\npackages: [zsh]\n${REQUIRED}` });
  const out = join(dir, 'build', 'resolved.json');
  const c = capture();
  t.equal(await main(['--resolve', '--output', out, join(dir, 'a.yaml')], c.io), 0);
  t.equal(c.text.stdout, '', 'nothing on stdout');
  const printed = capture();
  await main(['--resolve', join(dir, 'a.yaml')], printed.io);
  t.equal(readFileSync(out, 'utf8'), printed.text.stdout);
  const old = new Date(2000, 0, 1);
  utimesSync(out, old, old);
  t.equal(await main(['--resolve', '-o', out, join(dir, 'a.yaml')], capture().io), 0);
  t.equal(statSync(out).mtimeMs, old.getTime(), 'unchanged: not rewritten (make rebuilds nothing)');
  writeFileSync(join(dir, 'a.yaml'), `ref: a/b\npackages: [bash]\n${REQUIRED}`);
  t.equal(await main(['--resolve', '-o', out, join(dir, 'a.yaml')], capture().io), 0);
  t.same(JSON.parse(readFileSync(out, 'utf8')).packages, ['bash']);
  await t.rejects(main(['--output', out, join(dir, 'a.yaml')], capture().io), {
    exitCode: 2,
    message: /--output goes with --resolve/,
  });
});

t.test('--schema prints the JSON Schema', async (t) => {
  const c = capture();
  t.equal(await main(['--schema'], c.io), 0);
  const schema = JSON.parse(c.text.stdout);
  t.ok(schema.properties.packages);
  t.ok(schema.properties['packages-riscv64']);
});

t.test('usage errors exit 2', async (t) => {
  const dir = t.testdir({ 'a.yaml': 'packages: [vim]\n' });
  const a = join(dir, 'a.yaml');
  const cases: [string[], RegExp][] = [
    [[], /no FILE given/],
    [['--resolve', a, a], /--resolve takes exactly one FILE \(got 2\)/],
    [['--resolve'], /no FILE given/],
    [['--schema', a], /--schema takes no FILE/],
    [['--no-such-flag', a], /Unknown argument/],
    [[a, join(dir, 'nope.yaml'), join(dir, 'nope2.yaml')], /nope\.yaml: cannot read: no such file/],
    [[dir], /cannot read: is a directory/],
  ];
  for (const [argv, message] of cases) {
    const c = capture();
    await t.rejects(main(argv, c.io), { exitCode: 2, message }, argv.join(' '));
    t.equal(c.text.stdout, '', 'nothing on stdout');
  }
});
