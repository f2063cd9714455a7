import t from 'tap';
import { join } from 'node:path';
import { initramfsArgs, TREEFILE_IN_TREE } from '../src/treefile.js';
import { casesFor } from '../../lib/test/fixtures/image-treefile-cases.js';

/** A tree holding only the treefile rootfs records. */
const withTreefile = (t: { testdir(files: object): string }, content: string) =>
  t.testdir({ usr: { share: { 'debian-atomic': { 'treefile.json': content } } } });

t.test('initramfs-args from the in-tree treefile', async (t) => {
  t.same(await initramfsArgs(t.testdir({})), [], 'no treefile');
  t.same(await initramfsArgs(withTreefile(t, '{"ref": "a"}')), [], 'none set');
  t.same(await initramfsArgs(withTreefile(t, '{"initramfs-args": ["--add", "lvm"]}')), ['--add', 'lvm']);
});

t.test('a bad one is an input error naming the file', async (t) => {
  const cases: [string, RegExp][] = [
    ['[', /treefile\.json: not valid JSON/],
    ['{"initramfs-args": "--add x"}', /initramfs-args: expected a list of at most 256 arguments/],
    [JSON.stringify({ 'initramfs-args': Array(257).fill('-a') }), /expected a list of at most 256/],
    ['{"initramfs-args": [""]}', /initramfs-args\.0: expected a non-empty string/],
    ['{"initramfs-args": [3]}', /initramfs-args\.0: expected a non-empty string/],
    [JSON.stringify({ 'initramfs-args': ['x'.repeat(5000)] }), /initramfs-args\.0: longer than 4096 characters/],
    ['{"initramfs-args": ["a\\u0000b"]}', /initramfs-args\.0: must be one line: it contains a NUL byte/],
  ];
  for (const [text, message] of cases) {
    const dir = withTreefile(t, text);
    await t.rejects(initramfsArgs(dir), { exitCode: 2, message }, text.slice(0, 40));
    t.match(join(dir, TREEFILE_IN_TREE), /treefile\.json$/);
  }
});

t.test('the in-image treefile table (lib/test/fixtures): usr-unify agrees with the contract', async (t) => {
  for (const c of casesFor(['initramfs-args'])) {
    const read = initramfsArgs(withTreefile(t, JSON.stringify({ [c.key]: c.value })));
    const what = `${c.key}: ${JSON.stringify(c.value).slice(0, 40)}`;
    if (c.ok) t.same(await read, c.value, what);
    else await t.rejects(read, { exitCode: 2 }, what);
  }
});
