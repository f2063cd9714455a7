import t from 'tap';
import { Readable } from 'node:stream';
import { encodeEntry, encodeHeader, END_OF_ARCHIVE, readTar, type TarEntry, type TarHeader } from '../src/tar.js';

async function entries(buf: Buffer, chunk = 700): Promise<TarEntry[]> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) chunks.push(buf.subarray(i, i + chunk));
  const out: TarEntry[] = [];
  for await (const e of readTar(Readable.from(chunks))) out.push(e);
  return out;
}

t.test('round trip: files, directories, links, long names and link targets (pax)', async (t) => {
  const long = `usr/${'d'.repeat(120)}/file`;
  const items: [TarHeader, Buffer?][] = [
    [{ name: 'usr', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 }],
    [{ name: 'usr/bin/chage', type: 'file', mode: 0o2755, uid: 0, gid: 42, size: 5, mtime: 0 }, Buffer.from('hello')],
    [{ name: long, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1000, mtime: 0 }, Buffer.alloc(1000, 7)],
    [{ name: 'a/link', type: 'link', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, linkname: long }],
    [{ name: 'a/sym', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, mtime: 0, linkname: '../usr/bin/chage' }],
  ];
  const buf = Buffer.concat([...items.flatMap(([h, c]) => encodeEntry(h, c)), END_OF_ARCHIVE]);
  t.equal(buf.length % 512, 0);
  const got = await entries(buf);
  t.same(got.map((e) => e.header.name), ['usr/', 'usr/bin/chage', long, 'a/link', 'a/sym']);
  t.same(got[1]!.header, { ...items[1]![0] });
  t.equal(got[2]!.content.length, 1000);
  t.equal(got[3]!.header.linkname, long);
  t.equal(got[4]!.header.linkname, '../usr/bin/chage');
  t.same(await entries(buf, 100000), got, 'chunking does not matter');
});

t.test('what the reader refuses', async (t) => {
  const h: TarHeader = { name: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 };
  const bad = Buffer.from(encodeHeader(h));
  bad[0] = 0x79;
  await t.rejects(entries(Buffer.concat([bad, END_OF_ARCHIVE])), { code: 'bad-tar', message: /checksum/ });
  const dev = Buffer.from(encodeHeader(h));
  dev.write('3', 156);
  let sum = 0;
  dev.fill(0x20, 148, 156);
  for (const b of dev) sum += b;
  dev.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  await t.rejects(entries(Buffer.concat([dev, END_OF_ARCHIVE])), { code: 'bad-tar', message: /unsupported entry type '3'/ });
  const big = encodeEntry({ ...h, size: 2000 }, Buffer.alloc(2000));
  await t.rejects(entries(Buffer.concat(big).subarray(0, 1024)), { code: 'bad-tar', message: /truncated/ });
});
