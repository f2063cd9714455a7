import t from 'tap';
import { parseCommitTreefile } from '../src/sysroot.js';
import { casesFor } from '../../lib/test/fixtures/image-treefile-cases.js';

t.test("the commit's treefile: osname and kernel-args checked, the rest left alone", async (t) => {
  t.same(parseCommitTreefile('{"osname":"debian","kernel-args":["console=ttyS0,115200"],"packages":["x"]}', 'abc'), {
    osname: 'debian',
    'kernel-args': ['console=ttyS0,115200'],
    packages: ['x'],
  });
  t.same(parseCommitTreefile('{}', 'abc'), {});
  const bad: [string, RegExp][] = [
    ['not json', /^abc:\/usr\/share\/debian-atomic\/treefile\.json: not JSON: /],
    ['[]', /treefile\.json: /],
    ['{"osname":"../../etc"}', /treefile\.json: osname: not a valid OSTree stateroot name/],
    [`{"osname":"${'a'.repeat(65)}"}`, /osname: longer than 64 characters/],
    [
      '{"kernel-args":["quiet\\ninit=/bin/sh"]}',
      /treefile\.json: kernel-args\.0: a kernel argument must be one word: it contains a newline/,
    ],
    ['{"kernel-args":"quiet"}', /kernel-args: /],
  ];
  for (const [text, re] of bad)
    t.throws(() => parseCommitTreefile(text, 'abc'), { code: 'bad-treefile', message: re }, text.slice(0, 40));
});

t.test('the in-image treefile table (lib/test/fixtures): disk-image agrees with the contract', async (t) => {
  for (const c of casesFor(['osname', 'kernel-args', 'secure-boot'])) {
    const read = () => parseCommitTreefile(JSON.stringify({ [c.key]: c.value }), 'abc');
    const what = `${c.key}: ${JSON.stringify(c.value).slice(0, 40)}`;
    if (c.ok) t.same(read(), { [c.key]: c.value }, what);
    else t.throws(read, { code: 'bad-treefile' }, what);
  }
});
