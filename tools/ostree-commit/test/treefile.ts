import t from 'tap';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { jsonTooDeep, readTreefile, refProblem, treefileProblem } from '../src/treefile.js';
import { casesFor } from '../../lib/test/fixtures/image-treefile-cases.js';

t.test('the grammar of what ostree-commit reads from the treefile', async (t) => {
  t.equal(
    treefileProblem({
      ref: 'debian/13/x86_64/base',
      'automatic-version-prefix': '13',
      'mutate-os-release': '13',
      'add-commit-metadata': { 'debian-atomic.variant': 'base', n: 1, b: true, o: { a: [1] } },
    }),
    null,
  );
  t.equal(treefileProblem({}), null);
  const bad: [unknown, RegExp][] = [
    [[], /expected a JSON object/],
    [{ ref: 3 }, /^ref: expected a string/],
    [{ ref: 'a b' }, /^ref: not a valid OSTree ref/],
    [{ 'automatic-version-prefix': '13 x' }, /^automatic-version-prefix: expected at most 64/],
    [{ 'automatic-version-prefix': 13 }, /^automatic-version-prefix:/],
    [{ 'mutate-os-release': '' }, /^mutate-os-release: expected a string of 1 to 256/],
    [{ 'mutate-os-release': 'a\rb' }, /^mutate-os-release: must be one line: it contains a carriage return/],
    [{ 'add-commit-metadata': [] }, /^add-commit-metadata: expected an object/],
    [
      { 'add-commit-metadata': Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, i])) },
      /more than 256 keys/,
    ],
    [{ 'add-commit-metadata': { 'a b': 1 } }, /"a b": not a valid metadata key/],
    [{ 'add-commit-metadata': { big: 'x'.repeat(70000) } }, /add-commit-metadata\.big: larger than 65536/],
  ];
  for (const [data, message] of bad) t.match(treefileProblem(data), message, JSON.stringify(data).slice(0, 60));
  t.equal(refProblem('a'.repeat(257)), 'a ref is at most 256 characters');
  t.equal(refProblem('debian/13'), null);
});

t.test('nesting is counted outside strings', async (t) => {
  t.notOk(jsonTooDeep('{"a": "[[[[[[[[[[[[\\"[[[[", "b": [[1]]}', 3));
  t.ok(jsonTooDeep('[[[[1]]]]', 3));
});

t.test('the in-tree treefile: absent, good, or an input error', async (t) => {
  const dir = t.testdir({
    none: {},
    good: { usr: { share: { 'debian-atomic': { 'treefile.json': '{"ref": "a/b"}' } } } },
    linked: { usr: { share: { 'debian-atomic': {} } } },
  });
  t.same(await readTreefile(join(dir, 'none')), {});
  t.same(await readTreefile(join(dir, 'good')), { ref: 'a/b' });
  symlinkSync('/etc/hostname', join(dir, 'linked/usr/share/debian-atomic/treefile.json'));
  await t.rejects(readTreefile(join(dir, 'linked')), {
    exitCode: 2,
    message: /cannot read: a symbolic link, expected a regular file/,
  });
});

t.test('the in-image treefile table (lib/test/fixtures): ostree-commit agrees with the contract', async (t) => {
  for (const c of casesFor(['ref', 'automatic-version-prefix', 'mutate-os-release', 'add-commit-metadata'])) {
    t.equal(treefileProblem({ [c.key]: c.value }) === null, c.ok, `${c.key}: ${JSON.stringify(c.value).slice(0, 40)}`);
  }
});
