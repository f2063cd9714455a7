import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic, syntaxDiagnostics } from '@debian-atomic/lib';
import { loadYaml, oversizedCollection, shapeOverflow, YAML_MAX_DEPTH, YAML_MAX_KEYS } from '../src/yaml.js';
import { parseYamlText } from '@debian-atomic/lib';

const variants = join(import.meta.dirname, '../../../variants');

t.test('every real variant, tasks and hwdetect file passes the shape checks', async (t) => {
  const yamls = ['treefiles', 'tasks', 'hardware'].flatMap((d) =>
    readdirSync(join(variants, d)).map((f) => join(d, f)),
  );
  t.ok(yamls.length >= 13, 'the treefiles, the tasks files and the policies');
  for (const f of yamls) t.equal(shapeOverflow(readFileSync(join(variants, f), 'utf8')), null, f);
});

t.test('flow nesting is counted exactly', async (t) => {
  const flow = (n: number) => `x: ${'['.repeat(n)}${']'.repeat(n)}\n`;
  t.equal(shapeOverflow(flow(YAML_MAX_DEPTH - 2)), null, 'a key and 62 lists');
  t.same(shapeOverflow(flow(YAML_MAX_DEPTH)), [
    3 + YAML_MAX_DEPTH - 2,
    `nested deeper than ${YAML_MAX_DEPTH} levels, refusing to parse it`,
  ]);
  t.equal(
    shapeOverflow(
      'x: "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["\n# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\ny: |\n  [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n',
    ),
    null,
    'brackets in strings, comments and block scalars are text',
  );
});

t.test('block nesting: indentation levels and indicators', async (t) => {
  t.equal(
    shapeOverflow(`a:\n${Array.from({ length: 20 }, (_, i) => `${'  '.repeat(i + 1)}k${i}:`).join('\n')}\n`),
    null,
    '21 nested mappings',
  );
  t.not(
    shapeOverflow(`a:\n${Array.from({ length: 70 }, (_, i) => `${' '.repeat(i + 1)}k${i}:`).join('\n')}\n`),
    null,
    '70 nested mappings',
  );
  t.not(shapeOverflow(`x:\n  ${'- '.repeat(70)}y\n`), null, '70 compact lists on one line');
  t.equal(shapeOverflow('a: 1\nbbbbbbbbbbbb: 2\nc: 3\n'.repeat(100)), null, 'keys of any length at one level');
  t.equal(shapeOverflow('---\na:\n  b:\n    c: 1\n...\n---\nd: 1\n'), null, 'documents start afresh');
});

t.test('tokens and keys', async (t) => {
  t.match(shapeOverflow('x: [1, 2, 3, 4, 5]\n', YAML_MAX_DEPTH, 5)?.[1], /more than 5 YAML tokens/);
  t.match(
    shapeOverflow(`{${Array.from({ length: YAML_MAX_KEYS + 2 }, (_, i) => `k${i}`).join(', ')}}`)?.[1],
    /more than 5000 mapping keys/,
  );
  t.equal(
    shapeOverflow(`[${Array.from({ length: YAML_MAX_KEYS + 1 }, (_, i) => `k${i}`).join(', ')}]`),
    null,
    'commas of a list are not keys',
  );
});

t.test('collections too large for the checks after them', async (t) => {
  t.match(
    oversizedCollection(
      parseYamlText('x', `{${Array.from({ length: 1001 }, (_, i) => `k${i}: 1`).join(', ')}}`).doc,
    )?.[1],
    /a mapping with 1001 entries \(at most 1000\)/,
  );
  t.match(
    oversizedCollection(parseYamlText('x', `a: {b: [${Array(10001).fill(1).join(',')}]}`).doc)?.[1],
    /a list with 10001 entries/,
  );
  t.equal(oversizedCollection(parseYamlText('x', 'a: {b: [1, 2]}\n').doc), null);
});

t.test('a refused file is one positioned syntax error, at the line where it went too deep', async (t) => {
  const dir = t.testdir({
    'deep.yaml': `ref: a\nx:\n  y: ${'['.repeat(100)}${']'.repeat(100)}\n`,
    'ok.yaml': 'ref: a\n',
  });
  const y = await loadYaml(join(dir, 'deep.yaml'), 1 << 20);
  t.same(syntaxDiagnostics(y).map(formatDiagnostic), [
    `${join(dir, 'deep.yaml')}:3:67: YAML syntax: nested deeper than 64 levels, refusing to parse it`,
  ]);
  t.equal((await loadYaml(join(dir, 'ok.yaml'), 1 << 20)).doc.errors.length, 0);
  await t.rejects(loadYaml(join(dir, 'ok.yaml'), 3), { exitCode: 2, message: /larger than 3 bytes/ });
});
