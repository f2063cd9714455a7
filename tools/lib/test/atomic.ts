import t from 'tap';
import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicReplaceDir, atomicWriteFile, tempSibling, writeFileIfChanged } from '../src/atomic.js';
import { utimes } from 'node:fs/promises';

t.test('atomicWriteFile writes complete files and leaves no temp behind', async (t) => {
  const dir = t.testdir({});
  const f = join(dir, 'sub', 'out.json');
  await atomicWriteFile(f, 'one');
  await atomicWriteFile(f, 'two', 0o600);
  t.equal(await readFile(f, 'utf8'), 'two');
  t.equal((await stat(f)).mode & 0o777, 0o600);
  t.same(await readdir(join(dir, 'sub')), ['out.json']);
});

t.test('atomicWriteFile failure keeps the old file', async (t) => {
  const dir = t.testdir({ 'out.json': 'old' });
  // Target is a directory: rename over it fails; the old content of a sibling is untouched.
  await mkdir(join(dir, 'isdir'));
  await writeFile(join(dir, 'isdir', 'x'), '1');
  await t.rejects(atomicWriteFile(join(dir, 'isdir'), 'new'));
  t.equal(await readFile(join(dir, 'out.json'), 'utf8'), 'old');
  t.same((await readdir(dir)).sort(), ['isdir', 'out.json']);
});

t.test('atomicReplaceDir swaps a complete new tree in, and a failed build keeps the old tree', async (t) => {
  const dir = t.testdir({ tree: { 'a.txt': 'old' } });
  const target = join(dir, 'tree');
  await t.rejects(
    atomicReplaceDir(target, async (tmp) => {
      await writeFile(join(tmp, 'half'), 'x');
      throw new Error('build failed');
    }),
    /build failed/,
  );
  t.same(await readdir(target), ['a.txt']);
  t.same(await readdir(dir), ['tree']);
  await atomicReplaceDir(target, async (tmp) => writeFile(join(tmp, 'b.txt'), 'new'));
  t.same(await readdir(target), ['b.txt']);
  t.same(await readdir(dir), ['tree']);
  await atomicReplaceDir(join(dir, 'fresh'), async (tmp) => writeFile(join(tmp, 'c'), 'c'));
  t.same(await readdir(join(dir, 'fresh')), ['c']);
});

t.test('temp siblings are hidden and unique', async (t) => {
  const a = tempSibling('/x/y/out');
  t.match(a, /^\/x\/y\/\.out\.tmp-\d+-[0-9a-f]{8}$/);
  t.not(a, tempSibling('/x/y/out'));
});

t.test('writeFileIfChanged keeps a file holding the same bytes (and its mtime)', async (t) => {
  const dir = t.testdir({ 'out.json': 'same' });
  const f = join(dir, 'out.json');
  const old = new Date(2000, 0, 1);
  await utimes(f, old, old);
  t.equal(await writeFileIfChanged(f, 'same'), false);
  t.equal((await stat(f)).mtimeMs, old.getTime(), 'not rewritten');
  t.equal(await writeFileIfChanged(f, Buffer.from('other')), true);
  t.equal(await readFile(f, 'utf8'), 'other');
  t.equal(await writeFileIfChanged(join(dir, 'new', 'file'), 'x'), true, 'a missing file is written');
  t.same((await readdir(dir)).sort(), ['new', 'out.json']);
});
