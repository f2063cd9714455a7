/**
 * The importer's bounds, with small limits so each is crossed cheaply: objects read whole,
 * xattrs held, pax headers, how far a layer may inflate, what an entry may declare. And what
 * passes: a large content object streamed into its .filez, a symlink object, a plain tar layer.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { decodeFilezHeader } from '../src/filez.js';
import { IMPORT_LIMITS, importLayers, readImage, type ImportLimits } from '../src/import.js';
import { COMMIT, layoutOf, tarOf, type Item } from './fixtures/layout.js';

const OBJECTS = 'sysroot/ostree/repo/objects';
const object = (checksum: string, ext: string) => `${OBJECTS}/${checksum.slice(0, 2)}/${checksum.slice(2)}.${ext}`;
const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const COMMIT_ITEM: Item = { name: object(COMMIT, 'commit'), content: 'commit' };

async function importOf(
  t: typeof import('tap').default,
  layers: Item[][],
  limits: Partial<ImportLimits> = {},
  gzip = true,
) {
  const dir = t.testdir({ repo: {} });
  const layout = await layoutOf(join(dir, 'image'), layers.map(tarOf), undefined, { gzip });
  return { dir, run: () => importLayers(layout, 'latest', join(dir, 'repo'), limits) };
}

t.test('the production limits', async (t) => {
  t.match(IMPORT_LIMITS, {
    inflateRatio: 100,
    inflateFloor: 64 << 20,
    objectBytes: 16 << 20,
    heldBytes: 64 << 20,
    metadataBytes: 1 << 20,
  });
});

t.test('objects are written: a large one streamed, a small one whole, a symlink', async (t) => {
  const big = Array.from({ length: 35_000 }, (_, i) => hex(String(i))).join(''); // 2.2 MB
  const bigSum = 'c1'.repeat(32);
  const smallSum = 'c2'.repeat(32);
  const linkSum = 'c3'.repeat(32);
  const { dir, run } = await importOf(t, [
    [
      COMMIT_ITEM,
      { name: object(smallSum, 'file'), content: 'small', mode: 0o755, uid: 7, gid: 42 },
      { name: object(linkSum, 'file'), type: 'symlink', linkname: '../lib/x' },
    ],
    [{ name: object(bigSum, 'file'), content: big }],
  ]);
  const r = await run();
  t.match(r, { commit: COMMIT, layers: 2, objects: 4, ignored: 0 });
  const filez = async (sum: string) => {
    const data = await readFile(join(dir, 'repo/objects', sum.slice(0, 2), `${sum.slice(2)}.filez`));
    const { header, contentOffset } = decodeFilezHeader(data);
    return {
      header,
      content: contentOffset < data.length ? inflateRawSync(data.subarray(contentOffset)) : Buffer.alloc(0),
    };
  };
  const b = await filez(bigSum);
  t.equal(b.header.size, big.length);
  t.ok(b.content.equals(Buffer.from(big)), 'the streamed content inflates back to the same bytes');
  const s = await filez(smallSum);
  t.match(s.header, { size: 5, uid: 7, gid: 42, mode: 0o100755 });
  t.equal(s.content.toString(), 'small');
  t.match((await filez(linkSum)).header, { size: 0, mode: 0o120644, symlinkTarget: '../lib/x' });
});

t.test('a plain tar layer is read too; an entry cannot claim more than the layer holds', async (t) => {
  t.match(await (await importOf(t, [[COMMIT_ITEM]], {}, false)).run(), { commit: COMMIT, objects: 1 });
  const { run } = await importOf(t, [[COMMIT_ITEM, { name: 'usr/x', content: 'x', size: 10 << 20 }]], {}, false);
  await t.rejects(run(), {
    code: 'entry-too-large',
    exitCode: 2,
    message: /layer 1 \(sha256:\w+…\): entry "usr\/x" declares 10485760 bytes, more than the layer can hold/,
  });
});

t.test('objects read whole are bounded', async (t) => {
  const { run } = await importOf(
    t,
    [[COMMIT_ITEM, { name: object('d1'.repeat(32), 'dirtree'), content: 'd'.repeat(2000) }]],
    { objectBytes: 1000 },
  );
  await t.rejects(run(), {
    code: 'entry-too-large',
    exitCode: 2,
    message: /\.dirtree": 2000 bytes, more than the 1000 a dirtree object may have/,
  });
});

t.test('xattrs objects held for the whole image are bounded', async (t) => {
  const x1 = 'a'.repeat(600);
  const x2 = 'b'.repeat(600);
  const { run } = await importOf(
    t,
    [
      [
        COMMIT_ITEM,
        { name: object(hex(x1), 'file-xattrs'), content: x1 },
        { name: object(hex(x2), 'file-xattrs'), content: x2 },
      ],
    ],
    { heldBytes: 1000 },
  );
  await t.rejects(run(), { code: 'unsafe-entry', message: /xattrs objects take more than 1000 bytes/ });
});

t.test('pax headers are bounded', async (t) => {
  const { run } = await importOf(t, [[COMMIT_ITEM, { name: `usr/${'p'.repeat(3000)}`, content: 'x' }]], {
    metadataBytes: 1000,
  });
  await t.rejects(run(), {
    code: 'bad-tar',
    exitCode: 2,
    message: /layer 1 .*: invalid tar stream: pax header of \d+ bytes/,
  });
});

t.test('a layer inflates at most ratio × its size, or the floor', async (t) => {
  const entries: Item[] = Array.from({ length: 40 }, (_, i) => ({
    name: `usr/share/zero-${i}`,
    content: '\0'.repeat(32 << 10),
  }));
  const { run } = await importOf(t, [[COMMIT_ITEM, ...entries]], { inflateFloor: 256 << 10, inflateRatio: 10 });
  await t.rejects(run(), {
    code: 'layer-too-large',
    exitCode: 2,
    message: /layer 1 .* inflates to more than 262144 bytes from \d+ \(a gzip bomb\?\)/,
  });
  t.match(
    await (await importOf(t, [[COMMIT_ITEM, ...entries]])).run(),
    { ignored: 40 },
    'the production bound lets it through',
  );
});

t.test('readImage checks the labels and the layers before any work', async (t) => {
  const dir = t.testdir();
  await t.rejects(
    readImage(
      await layoutOf(join(dir, 'a'), [tarOf([])], { 'ostree.commit': COMMIT, 'org.debian-atomic.ref': '../x' }),
      'latest',
    ),
    { code: 'bad-image', exitCode: 2, message: /label org\.debian-atomic\.ref "\.\.\/x" is not an ostree ref/ },
  );
  t.match(
    await readImage(
      await layoutOf(join(dir, 'c'), [tarOf([])], {
        'ostree.commit': COMMIT,
        'org.debian-atomic.ref': 'debian/13/x86_64/base',
      }),
      'latest',
    ),
    { commit: COMMIT, labels: { 'org.debian-atomic.ref': 'debian/13/x86_64/base' } },
  );
});
