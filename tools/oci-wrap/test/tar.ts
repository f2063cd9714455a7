import t from 'tap';
import { Readable } from 'node:stream';
import {
  encodeEntry,
  encodeHeader,
  END_OF_ARCHIVE,
  readBody,
  readTar,
  readTarStream,
  type TarEntry,
  type TarHeader,
} from '../src/tar.js';

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
  t.same(
    got.map((e) => e.header.name),
    ['usr/', 'usr/bin/chage', long, 'a/link', 'a/sym'],
  );
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
  await t.rejects(entries(Buffer.concat([dev, END_OF_ARCHIVE])), {
    code: 'bad-tar',
    message: /unsupported entry type '3'/,
  });
  const big = encodeEntry({ ...h, size: 2000 }, Buffer.alloc(2000));
  await t.rejects(entries(Buffer.concat(big).subarray(0, 1024)), { code: 'bad-tar', message: /truncated/ });
});

/** Patch a header block and fix its checksum. */
function patched(h: TarHeader, edit: (b: Buffer) => void): Buffer {
  const b = Buffer.from(encodeHeader(h));
  edit(b);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return b;
}

/** A well-formed pax record (its length counts its own digits). */
function record(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

function paxEntry(body: string): Buffer {
  const data = Buffer.from(body);
  const h: TarHeader = { name: 'PaxHeaders/x', type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 0 };
  return Buffer.concat([patched(h, (b) => b.write('x', 156)), data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

t.test('streamed entries: bodies arrive in pieces; what is not read is skipped', async (t) => {
  const h: TarHeader = { name: 'a', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 3000, mtime: 0 };
  const buf = Buffer.concat([
    ...encodeEntry(h, Buffer.alloc(3000, 1)),
    ...encodeEntry({ ...h, name: 'b', size: 5 }, Buffer.from('hello')),
    ...encodeEntry({ ...h, name: 'c', size: 700 }, Buffer.alloc(700, 3)),
    END_OF_ARCHIVE,
  ]);
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += 1000) chunks.push(buf.subarray(i, i + 1000));
  const seen: string[] = [];
  for await (const e of readTarStream(Readable.from(chunks))) {
    seen.push(e.header.name);
    if (e.header.name === 'a') {
      const pieces: number[] = [];
      for await (const c of e.body) {
        pieces.push(c.length);
        if (pieces.length === 2) break; // leave the rest: the reader skips it
      }
      t.ok(
        pieces.every((n) => n <= 1000),
        'never more than a source chunk at a time',
      );
    }
    if (e.header.name === 'b') t.equal((await readBody(e, 10, 'test')).toString(), 'hello');
  }
  t.same(seen, ['a', 'b', 'c'], 'c was not read, and the archive still ends cleanly');
  await t.rejects(readBody({ header: { ...h, size: 11 }, body: Readable.from([]) }, 10, 'thing'), {
    code: 'entry-too-large',
    message: /11 bytes, more than the 10 a thing may have/,
  });
});

t.test('numbers and pax records the reader refuses or reads', async (t) => {
  const h: TarHeader = { name: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 };
  const big = patched(h, (b) => {
    b.fill(0, 108, 116);
    b[108] = 0x80;
    b.writeUInt32BE(3_000_000, 112);
  });
  t.equal((await entries(Buffer.concat([big, END_OF_ARCHIVE])))[0]!.header.uid, 3_000_000, 'GNU base-256');
  await t.rejects(entries(Buffer.concat([patched(h, (b) => b.fill(0xff, 116, 124)), END_OF_ARCHIVE])), {
    code: 'bad-tar',
    exitCode: 2,
    message: /negative gid/,
  });
  await t.rejects(
    entries(
      Buffer.concat([
        patched(h, (b) => {
          b.fill(0xff, 100, 108);
          b[100] = 0x80;
        }),
        END_OF_ARCHIVE,
      ]),
    ),
    { message: /mode out of range/ },
  );
  await t.rejects(entries(Buffer.concat([paxEntry(record('uid', '4294967296')), encodeHeader(h), END_OF_ARCHIVE])), {
    message: /pax uid 4294967296 is out of range/,
  });
  await t.rejects(entries(Buffer.concat([paxEntry(record('uid', '1e3')), encodeHeader(h), END_OF_ARCHIVE])), {
    message: /pax uid "1e3" is not a non-negative integer/,
  });
  await t.rejects(entries(Buffer.concat([paxEntry('1x path=a\n'), encodeHeader(h), END_OF_ARCHIVE])), {
    message: /bad pax record length/,
  });
  await t.rejects(entries(Buffer.concat([paxEntry('11 path=a\n!'), encodeHeader(h), END_OF_ARCHIVE])), {
    message: /bad pax record length/,
  });
  await t.rejects(entries(Buffer.concat([paxEntry('10 patha\n\n'), encodeHeader(h), END_OF_ARCHIVE])), {
    message: /bad pax record/,
  });
  const proto = await entries(Buffer.concat([paxEntry(record('__proto__', 'x y z')), encodeHeader(h), END_OF_ARCHIVE]));
  t.equal(proto[0]!.header.name, 'x', 'a __proto__ record is only a record');
});

t.test('GNU long names, and the bound on header metadata', async (t) => {
  const h: TarHeader = { name: '././@LongLink', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 };
  const long = `usr/${'n'.repeat(300)}`;
  const gnu = (flag: string, text: string) =>
    Buffer.concat([
      patched({ ...h, size: text.length + 1 }, (b) => b.write(flag, 156)),
      Buffer.from(`${text}\0`),
      Buffer.alloc((512 - ((text.length + 1) % 512)) % 512),
    ]);
  const got = await entries(
    Buffer.concat([
      gnu('L', long),
      gnu('K', 'target'),
      encodeHeader({ ...h, name: 'short', type: 'symlink', linkname: 'x' }),
      END_OF_ARCHIVE,
    ]),
  );
  t.equal(got[0]!.header.name, long);
  t.equal(got[0]!.header.linkname, 'target');
  const many = Buffer.concat([
    paxEntry(record('comment', 'c'.repeat(587))),
    paxEntry(record('comment', 'c'.repeat(587))),
    encodeHeader({ ...h, name: 'x' }),
    END_OF_ARCHIVE,
  ]);
  const out: TarEntry[] = [];
  await t.rejects(
    (async () => {
      for await (const e of readTar(Readable.from([many]), { metadataBytes: 1000 })) out.push(e);
    })(),
    { code: 'bad-tar', message: /pax header of 600 bytes \(more than 1000 bytes of headers for one entry\)/ },
  );
});
