// Inputs on which yaml's toJS throws or warns: they must become positioned diagnostics, never exceptions.
import t from 'tap';
import { z } from 'zod';
import {
  documentValue,
  formatDiagnostic,
  parseYamlText,
  schemaDiagnostics,
  syntaxDiagnostics,
} from '../src/diagnostics.js';

const Any = z.strictObject({
  a: z.unknown().optional(),
  b: z.unknown().optional(),
  c: z.unknown().optional(),
  d: z.unknown().optional(),
});

t.test('an alias to a missing anchor is a positioned diagnostic', async (t) => {
  const y = parseYamlText('x.yaml', 'a: 1\nb: *nope\n');
  const { value, diagnostics } = documentValue(y);
  t.equal(value, undefined);
  t.same(diagnostics.map(formatDiagnostic), [
    'x.yaml:2:4: YAML: Unresolved alias (the anchor must be set before the alias): nope',
  ]);
  const res = schemaDiagnostics(y, Any);
  t.equal(res.data, undefined);
  t.equal(res.diagnostics.length, 1);
});

t.test('an alias bomb is refused with the position of the first alias', async (t) => {
  const text =
    'a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n';
  const { diagnostics } = documentValue(parseYamlText('bomb.yaml', text));
  t.equal(diagnostics.length, 1);
  t.match(formatDiagnostic(diagnostics[0]!), /^bomb\.yaml:2:8: YAML: Excessive alias count/);
});

t.test('plain documents convert', async (t) => {
  t.same(documentValue(parseYamlText('ok.yaml', 'a: [1, 2]\n')), { value: { a: [1, 2] }, diagnostics: [] });
});

t.test('warnings (unknown tags) are reported, and not printed by yaml itself', async (t) => {
  const emitted: unknown[] = [];
  const onWarning = (w: unknown) => emitted.push(w);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const y = parseYamlText('w.yaml', '? [k]\n: 1\na: !!foo x\n');
  t.same(syntaxDiagnostics(y).map(formatDiagnostic), ['w.yaml:3:4: YAML: Unresolved tag: tag:yaml.org,2002:foo']);
  documentValue(y); // a collection key: yaml would warn through process.emitWarning
  await new Promise((r) => setImmediate(r));
  t.same(emitted, []);
});
