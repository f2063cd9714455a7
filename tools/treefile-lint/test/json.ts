import t from 'tap';
import { clip, jsonNestingOverflow, parseResolvedTreefile } from '../src/json.js';

const GOOD = {
  ref: 'debian/13/x86_64/base',
  suite: 'trixie',
  repos: [{ mirror: 'http://deb.debian.org/debian', suite: 'trixie', components: ['main'] }],
  packages: ['systemd'],
  architecture: 'amd64',
  'mmdebstrap-variant': 'apt',
  osname: 'debian',
};

t.test('nesting is counted outside strings only', async (t) => {
  t.equal(jsonNestingOverflow('{"a": [[1]], "b": "[[[[[[[[[[\\"[[[["}', 3), null);
  t.equal(jsonNestingOverflow('[[[[]]]]', 3), 3);
  t.equal(jsonNestingOverflow('[[],[],[],[]]', 2), null, 'siblings do not add up');
});

t.test('clip: bounded, control characters escaped', async (t) => {
  t.equal(clip('abc'), 'abc');
  t.equal(clip('x'.repeat(300)).length, 201);
  t.equal(clip('a\u001b[2Jb\n'), 'a\\u001b[2Jb\\u000a');
});

t.test('a resolved treefile, or one input error naming the source', async (t) => {
  t.same(parseResolvedTreefile(JSON.stringify(GOOD), 'tf.json'), GOOD);
  t.throws(() => parseResolvedTreefile('{', 'tf.json'), { exitCode: 2, message: /^tf\.json: not JSON \(/ });
  t.throws(() => parseResolvedTreefile(`{"add-commit-metadata": {"x": ${'['.repeat(100)}${']'.repeat(100)}}}`, '-'), {
    exitCode: 2,
    message: /^-: JSON nested deeper than 64 levels \(at offset 92\)/,
  });
  const many = { ...GOOD, units: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] };
  try {
    parseResolvedTreefile(JSON.stringify(many), 'tf.json');
    t.fail('should throw');
  } catch (err) {
    const e = err as { summary: string; detail: string; hint: string };
    t.equal(e.summary, 'tf.json: not a resolved treefile');
    t.equal(e.detail.split('\n').length, 6, 'five problems and a count of the rest');
    t.match(e.detail, /\n\.\.\. and 2 more$/);
    t.match(e.hint, /treefile-lint --resolve/);
  }
});
