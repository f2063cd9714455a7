// The built command as people run it: `node dist/bin.js` (build first: npx tsc -b).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const bin = resolve(import.meta.dirname, '../dist/bin.js');
if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (npx tsc -b tools/treefile-lint)`);
const cli = (args: string[], cwd?: string) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

t.test('--help exits 0 with the usage on stdout', async (t) => {
  const r = cli(['--help']);
  t.equal(r.status, 0);
  t.match(r.stdout, /treefile-lint \[--resolve\] \[--schema\] FILE\.\.\./);
  t.match(r.stdout, /--resolve/);
  t.equal(r.stderr, '');
});

t.test('a bad flag exits 2 with one clean line', async (t) => {
  const r = cli(['--frobnicate', 'x.yaml']);
  t.equal(r.status, 2);
  t.match(r.stderr, /^treefile-lint: Unknown argument: frobnicate\n/);
  t.notMatch(r.stderr, /\n\s+at /);
  t.equal(r.stdout, '');
});

t.test('no FILE, or an unreadable one, exits 2', async (t) => {
  t.equal(cli([]).status, 2);
  const dir = t.testdir({ sub: {} });
  const r = cli(['nope.yaml'], dir);
  t.equal(r.status, 2);
  t.equal(r.stderr, 'treefile-lint: nope.yaml: cannot read: no such file\n');
});

t.test('--schema prints a JSON Schema with a property per key', async (t) => {
  const r = cli(['--schema']);
  t.equal(r.status, 0);
  const schema = JSON.parse(r.stdout) as {
    $schema: string;
    properties: Record<string, unknown>;
    additionalProperties: boolean;
  };
  t.match(schema.$schema, /json-schema\.org/);
  for (const k of ['ref', 'include', 'packages', 'packages-arm64', 'repos', 'tasks', 'mmdebstrap-variant', 'add-files'])
    t.ok(schema.properties[k], k);
  t.equal(schema.additionalProperties, false);
});

t.test('problems: positioned lines on stderr, exit 1, no stack trace', async (t) => {
  const dir = t.testdir({ 'a.yaml': 'include: b.yaml\npackges: [vim]\n', 'b.yaml': 'include: a.yaml\n' });
  const r = cli(['a.yaml'], dir);
  t.equal(r.status, 1);
  t.equal(
    r.stderr,
    "a.yaml:2:1: unknown key 'packges' (did you mean 'packages'?)\nb.yaml:1:10: include cycle: a.yaml -> b.yaml -> a.yaml\n",
  );
  t.same(JSON.parse(r.stdout), [{ file: 'a.yaml', ok: false, fragment: true, errors: 2 }]);
  const resolved = cli(['--resolve', join(dir, 'a.yaml')]);
  t.equal(resolved.status, 1);
  t.equal(resolved.stdout, '');
});
