import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeFilezHeader, encodeFilezHeader, S_IFLNK, S_IFREG } from '../src/filez.js';
import { tinyCommit } from './fixtures/tiny.js';

t.test('headers encode to the exact bytes ostree wrote (every object of a real archive repo)', async (t) => {
  const dir = t.testdir();
  const repo = join(dir, 'repo');
  await tinyCommit(dir, repo);
  let n = 0;
  for (const sub of await readdir(join(repo, 'objects'))) {
    for (const f of await readdir(join(repo, 'objects', sub))) {
      if (!f.endsWith('.filez')) continue;
      const raw = await readFile(join(repo, 'objects', sub, f));
      const { header, contentOffset } = decodeFilezHeader(raw);
      t.same(encodeFilezHeader(header), raw.subarray(0, contentOffset), `${sub}${f}`);
      n++;
    }
  }
  t.ok(n >= 10, `${n} objects compared`);
});

t.test('xattrs and long symlink targets round-trip (framing offsets widen past 255 bytes)', async (t) => {
  const xattrs = Buffer.from('7365637572697479', 'hex');
  for (const target of ['', 'usr/bin', 'x'.repeat(300), 'y'.repeat(70000)]) {
    const h = {
      size: 12,
      uid: 0,
      gid: 42,
      mode: (target ? S_IFLNK : S_IFREG) | 0o755,
      rdev: 0,
      symlinkTarget: target,
      xattrs,
    };
    t.same(decodeFilezHeader(encodeFilezHeader(h)).header, h, `target of ${target.length} bytes`);
  }
});

t.test('corrupt headers are refused', async (t) => {
  t.throws(() => decodeFilezHeader(Buffer.alloc(4)), { code: 'corrupt-object' });
  const b = Buffer.alloc(40);
  b.writeUInt32BE(1000, 0);
  t.throws(() => decodeFilezHeader(b), { code: 'corrupt-object' });
});
