import t from 'tap';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GVariantError, readVardict, readVariant } from '../src/gvariant.js';
import { makeWorld } from './fixtures/sysroot.js';

/** The metadata a{sv} of a real ostree commit: GLib's own serialization, the type of /run/ostree/staged-deployment. */
async function commitMetadata(t: Parameters<typeof makeWorld>[0], metadata: string[]): Promise<Buffer> {
  const w = await makeWorld(t);
  const tree = join(w.dir, 'tree');
  await mkdir(tree);
  await writeFile(join(tree, 'f'), 'x');
  const commit = (
    await w.ostree('commit', `--repo=${w.server}`, '-b', 'gv', ...metadata.map((m) => `--add-metadata=${m}`), tree)
  ).trim();
  const obj = await readFile(join(w.server, 'objects', commit.slice(0, 2), `${commit.slice(2)}.commit`));
  // (a{sv}aya(say)sstayay): the first child ends at the last framing offset of the tuple.
  const w8 = obj.length <= 0xff ? 1 : obj.length <= 0xffff ? 2 : 4;
  return obj.subarray(0, obj.readUIntLE(obj.length - w8, w8));
}

t.test('a{sv} with as, s and b values, from GLib', async (t) => {
  const b = await commitMetadata(t, [
    "kargs=['quiet', 'iommu=pt', 'a b', 'é', '']",
    'locked=true',
    "version='1.2'",
    'n=uint32 7',
  ]);
  const d = readVardict(b);
  t.same(d.get('kargs'), ['quiet', 'iommu=pt', 'a b', 'é', '']);
  t.equal(d.get('locked'), true);
  t.equal(d.get('version'), '1.2');
  t.ok(d.has('n') && d.get('n') === undefined, 'a type atomic does not read: present, not guessed at');
});

t.test('large containers: 2-byte framing offsets', async (t) => {
  const many = Array.from({ length: 300 }, (_, i) => `arg${i}=${'v'.repeat(i % 7)}`);
  const d = readVardict(await commitMetadata(t, [`kargs=[${many.map((a) => `'${a}'`).join(', ')}]`]));
  t.same(d.get('kargs'), many);
});

t.test('damaged data is an error, never a wrong answer', async (t) => {
  t.throws(() => readVardict(Buffer.from([1, 2, 3, 250])), GVariantError);
  t.throws(() => readVariant(Buffer.from('abc')), GVariantError, 'no type');
  t.throws(() => readVariant(Buffer.from('abc\0s')), GVariantError, 'a string without its NUL');
  t.throws(() => readVariant(Buffer.from('a\0b\0\0s')), GVariantError, 'a NUL inside');
  t.throws(() => readVariant(Buffer.from('\x01\x01\0b')), GVariantError, 'a boolean of 2 bytes');
  t.same(readVardict(Buffer.alloc(0)), new Map(), 'the empty dictionary');
});
