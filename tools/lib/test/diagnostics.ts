import t from 'tap';
import { z } from 'zod';
import { join } from 'node:path';
import {
  formatDiagnostic,
  parseYamlText,
  positionOf,
  readYamlFile,
  schemaDiagnostics,
  syntaxDiagnostics,
  zodObjectKeys,
} from '../src/diagnostics.js';

const Schema = z.strictObject({
  ref: z.string(),
  packages: z.array(z.string()).optional(),
  recommends: z.boolean().optional(),
  variant: z.enum(['apt', 'minbase']).optional(),
  nested: z.strictObject({ inner: z.number() }).optional(),
});
const keys = (p: readonly PropertyKey[]) => zodObjectKeys(Schema, p);

t.test('syntax errors are positioned', async (t) => {
  const y = parseYamlText('x.yaml', 'ref: a\npackages: [a, b\n');
  const d = syntaxDiagnostics(y);
  t.ok(d.length > 0);
  t.match(formatDiagnostic(d[0]!), /^x\.yaml:\d+:\d+: YAML syntax: /);
  const dup = syntaxDiagnostics(parseYamlText('x.yaml', 'ref: a\nref: b\n'));
  t.equal(dup.length, 1);
  t.equal(dup[0]!.line, 2);
});

t.test('schema issues map to line:col with expected and found', async (t) => {
  const y = parseYamlText(
    'v.yaml',
    'ref: r\npackages:\n  - a\n  - 3\nrecomends: true\nvariant: big\nnested:\n  inner: "x"\n  outer: 1\n',
  );
  const { data, diagnostics } = schemaDiagnostics(y, Schema, keys);
  t.equal(data, undefined);
  const text = diagnostics.map(formatDiagnostic);
  t.same(text, [
    'v.yaml:4:5: packages.1: expected string, found number 3',
    "v.yaml:5:1: unknown key 'recomends' (did you mean 'recommends'?)",
    'v.yaml:6:10: variant: expected one of "apt", "minbase", found the string "big"',
    'v.yaml:8:10: nested.inner: expected number, found the string "x"',
    "v.yaml:9:3: unknown key 'outer'",
  ]);
});

t.test('valid documents return data', async (t) => {
  const { data, diagnostics } = schemaDiagnostics(parseYamlText('ok.yaml', 'ref: r\n'), Schema);
  t.same(diagnostics, []);
  t.same(data, { ref: 'r' });
});

t.test('missing keys point at the containing node', async (t) => {
  const y = parseYamlText('m.yaml', 'packages: []\n');
  const { diagnostics } = schemaDiagnostics(y, Schema);
  t.equal(formatDiagnostic(diagnostics[0]!), "m.yaml:1:1: missing required key 'ref' (expected string)");
  t.same(positionOf(y, ['nope', 'deeper']), { line: 1, col: 1 });
});

t.test('readYamlFile: unreadable files are input errors (exit 2)', async (t) => {
  const dir = t.testdir({ 'a.yaml': 'ref: x\n', sub: {} });
  t.equal((await readYamlFile(join(dir, 'a.yaml'))).doc.get('ref'), 'x');
  await t.rejects(readYamlFile(join(dir, 'missing.yaml')), { exitCode: 2, message: /cannot read: no such file/ });
  await t.rejects(readYamlFile(join(dir, 'sub')), { exitCode: 2, message: /is a directory/ });
});
