import t from 'tap';
import { GlobBudget, globMatch, globProblems, globToRegExp, matchModalias, MAX_GLOB_LENGTH } from '../src/modalias.js';

const nvidiaGpu = 'pci:v000010DEd00002684sv00001043sd000088E2bc03sc00i00';

t.test('isenkram-style globs over the whole modalias', async (t) => {
  t.ok(matchModalias('pci:v000010DEd*sv*sd*bc03sc*i*', nvidiaGpu));
  t.ok(matchModalias('pci:v000010ded*sv*sd*bc03sc*i*', nvidiaGpu), 'case does not matter');
  t.notOk(matchModalias('pci:v00001002d*sv*sd*bc03sc*i*', nvidiaGpu));
  t.notOk(matchModalias('pci:v000010DEd*', 'xpci:v000010DEd1'), 'anchored at the start');
  t.notOk(matchModalias('pci:v000010DEd*bc03', nvidiaGpu), 'anchored at the end');
  t.ok(matchModalias('pci:v000010DEd0000268?sv*', nvidiaGpu), '? is one character');
  t.ok(matchModalias('pci:v000010DEd0000268[0-4]sv*', nvidiaGpu), 'ranges');
  t.notOk(matchModalias('pci:v000010DEd0000268[!4]sv*', nvidiaGpu), 'negated class');
  t.ok(matchModalias('pci:v000010DEd0000268[^5]sv*', nvidiaGpu), '^ negates too');
  t.ok(matchModalias('a[]]b', 'a]b'), '] first in a class is a member');
  t.ok(matchModalias('a[b', 'a[b'), 'an unclosed [ is literal');
  t.ok(
    matchModalias(
      'usb:v1D6Bp0002d*dc09dsc00dp03ic09isc00ip00in00',
      'usb:v1D6Bp0002d0610dc09dsc00dp03ic09isc00ip00in00',
    ),
  );
  t.ok(matchModalias('of:N*T*Cfoo.bar(x)+', 'of:NxTyCfoo.bar(x)+'), 'regex characters are literal');
  t.equal(globToRegExp('a*b').source, '^a.*b$');
});

/** The RegExp translation the matcher replaced (as it was), kept as the oracle for valid globs. */
function oldGlobToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const negate = pattern[i + 1] === '!' || pattern[i + 1] === '^';
      const start = i + 1 + (negate ? 1 : 0);
      const end = pattern.indexOf(']', start + 1);
      if (end === -1) {
        re += '\\[';
        continue;
      }
      const body = pattern.slice(start, end);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'is');
}

t.test('a table of globs, strings and answers', async (t) => {
  const table: [string, string, boolean][] = [
    ['', '', true],
    ['', 'a', false],
    ['*', '', true],
    ['*', 'anything at all', true],
    ['**', 'ab', true],
    ['?', '', false],
    ['?', 'a', true],
    ['??', 'a', false],
    ['a*', 'a', true],
    ['*a', 'ba', true],
    ['*a', 'ab', false],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXcYb', false],
    ['*ab*ab', 'xabyabab', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['[abc]', 'b', true],
    ['[abc]', 'd', false],
    ['[a-c]x', 'Bx', true],
    ['[A-C]x', 'bx', true],
    ['[!a-c]', 'b', false],
    ['[!a-c]', 'B', false],
    ['[!a-c]', 'd', true],
    ['[^0-9]', '5', false],
    ['[]]', ']', true],
    ['[!]]', ']', false],
    ['[!]]', 'x', true],
    ['[a-]', '-', true],
    ['[-a]', '-', true],
    ['[[]', '[', true],
    ['a[b', 'a[b', true],
    ['a[b', 'ab', false],
    ['a]b', 'a]b', true],
    ['a\\b', 'a\\b', true],
    ['*', 'a\nb', true],
    ['a?b', 'a\nb', true],
    ['PCI:V*', 'pci:v1', true],
    ['pci:v*', 'PCI:V1', true],
    ['caf[é]', 'CAFÉ', true],
    ['straße', 'STRASSE', false],
    ['pci:v[z-a]*', 'pci:vq', false],
  ];
  for (const [glob, text, want] of table)
    t.equal(globMatch(glob, text), want, `${JSON.stringify(glob)} on ${JSON.stringify(text)}`);
});

t.test('the same answers as the RegExp it replaced, for every valid glob', async (t) => {
  // Small random globs over a small alphabet: the RegExp is quick on them, and every construct meets every other.
  const pieces = [
    'a',
    'b',
    'A',
    '.',
    '*',
    '?',
    '[ab]',
    '[!a]',
    '[^b]',
    '[a-b]',
    '[B-C]',
    '[]a]',
    '[-]',
    '(',
    '+',
    '$',
    '\\',
    '[a',
  ];
  const chars = ['a', 'b', 'A', 'B', 'c', '.', '(', '+', '$', '\\', '[', ']', '-', '\n'];
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let compared = 0;
  for (let i = 0; i < 3000; i++) {
    const glob = Array.from({ length: 1 + random(6) }, () => pieces[random(pieces.length)]).join('');
    const text = Array.from({ length: random(7) }, () => chars[random(chars.length)]).join('');
    const want = oldGlobToRegExp(glob).test(text);
    if (globMatch(glob, text) !== want) {
      t.fail(`${JSON.stringify(glob)} on ${JSON.stringify(text)}: the RegExp said ${want}`);
      return;
    }
    compared++;
  }
  t.equal(compared, 3000);
});

t.test('linear time: the globs that made the RegExp backtrack for minutes', async (t) => {
  const modalias = 'pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00';
  // CPU time, not the wall clock: the bound is about backtracking, not about the machine's load.
  const start = process.cpuUsage();
  t.notOk(globMatch(`pci:${'*?'.repeat(40)}Q`, modalias));
  t.notOk(globMatch(`${'*a'.repeat(100)}b`, 'a'.repeat(5000)));
  t.ok(globMatch(`${'*a'.repeat(100)}`, 'a'.repeat(5000)));
  t.notOk(globMatch(`*${'?'.repeat(50)}*Q`, 'x'.repeat(10000)));
  const used = process.cpuUsage(start);
  const ms = (used.user + used.system) / 1000;
  t.ok(ms < 1000, `took ${ms.toFixed(1)} ms of CPU`);
  const budget = new GlobBudget(1000);
  t.notOk(budget.exhausted);
  globMatch(`${'*a'.repeat(100)}b`, 'a'.repeat(5000), budget);
  t.ok(budget.steps > 1000 && budget.exhausted, `steps are counted (${budget.steps})`);
  const quick = new GlobBudget(10);
  globMatch(`pci:${'?'.repeat(100)}`, modalias, quick);
  t.equal(quick.steps, 0, 'a glob longer than the string is refused before the walk');
});

t.test('problems of invalid globs, for the policy', async (t) => {
  t.same(globProblems('pci:v000010DEd*sv*sd*bc03sc*i*'), []);
  t.same(globProblems('a[]]b[!]]c[-a-]'), []);
  t.same(globProblems('pci:v[z-a]*'), [
    { index: 6, message: 'reversed range "z-a" at character 7 (a range goes from low to high)' },
  ]);
  t.same(globProblems('pci:v[abc'), [
    { index: 5, message: 'unterminated bracket expression at character 6 (write [[] for a literal [)' },
  ]);
  t.same(
    globProblems('[9-0][b-a]').map((p) => p.index),
    [1, 6],
  );
  t.match(globProblems('x'.repeat(MAX_GLOB_LENGTH + 1)), [{ message: /at most 256 characters \(this one has 257\)/ }]);
  t.equal(globProblems('x'.repeat(MAX_GLOB_LENGTH)).length, 0);
});

t.test('globToRegExp shows a glob as the RegExp it was', async (t) => {
  for (const glob of ['pci:v000010DEd*sv*sd*bc03sc*i*', 'a[]]b', 'a[!x-z]?', 'of:N*T*Cfoo.bar(x)+', 'a[b']) {
    for (const text of ['a]b', 'awb', 'of:NxTyCfoo.bar(x)+', 'a[b', 'pci:v000010DEd1sv2sd3bc03sc4i5'])
      t.equal(globToRegExp(glob).test(text), oldGlobToRegExp(glob).test(text), `${glob} on ${text}`);
  }
});
