/**
 * importLayers' `have`: objects the repository the import is pulled into already has are
 * checked like any other entry but not written; the commit object always is.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { importLayers, type ObjectKind } from '../src/import.js';
import { COMMIT, layoutOf, tarOf, type Item } from './fixtures/layout.js';

const OBJECTS = 'sysroot/ostree/repo/objects';
const object = (checksum: string, ext: string) => `${OBJECTS}/${checksum.slice(0, 2)}/${checksum.slice(2)}.${ext}`;
const hex = (b: string) => createHash('sha256').update(b).digest('hex');

const A = 'a1'.repeat(32);
const B = 'b2'.repeat(32);
const TREE = 'd3'.repeat(32);
const XATTRS = 'user.x\0y';

async function written(repo: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(join(repo, 'objects')).catch(() => []))
    for (const f of await readdir(join(repo, 'objects', d))) out.push(`${d}${f}`);
  return out.sort();
}

t.test('objects the target has are not written; the commit always is', async (t) => {
  const dir = t.testdir({ repo: {} });
  const layout = await layoutOf(join(dir, 'image'), [
    tarOf([
      { name: object(COMMIT, 'commit'), content: 'commit' },
      { name: object(TREE, 'dirtree'), content: 'tree' },
      { name: object(hex(XATTRS), 'file-xattrs'), content: XATTRS },
      { name: object(A, 'file-xattrs-link'), type: 'link', linkname: object(hex(XATTRS), 'file-xattrs') },
      { name: object(A, 'file'), content: 'a' },
    ]),
    tarOf([{ name: object(B, 'file'), content: 'b' }]),
  ]);
  const asked: string[] = [];
  const have = async (checksum: string, kind: ObjectKind) => {
    asked.push(`${kind}:${checksum.slice(0, 2)}`);
    return checksum === A || checksum === TREE || checksum === COMMIT;
  };
  const r = await importLayers(layout, 'latest', join(dir, 'repo'), {}, { have });
  t.match(r, { commit: COMMIT, layers: 2, objects: 2, skipped: 2 });
  t.same(
    await written(join(dir, 'repo')),
    [`${COMMIT}.commit`, `${B}.filez`],
    'the commit and the missing content object only',
  );
  t.same(asked, ['dirtree:d3', 'file:a1', 'file:b2'], 'asked about content and meta objects, never about the commit');
});

t.test('a skipped object is still checked: its xattrs object must be in the image', async (t) => {
  const dir = t.testdir({ repo: {} });
  const layout = await layoutOf(join(dir, 'image'), [
    tarOf([
      { name: object(COMMIT, 'commit'), content: 'commit' },
      { name: object(A, 'file-xattrs-link'), type: 'link', linkname: object(COMMIT, 'commit') },
      { name: object(A, 'file'), content: 'a' },
    ]),
  ]);
  await t.rejects(importLayers(layout, 'latest', join(dir, 'repo'), {}, { have: () => true }), {
    code: 'unsafe-entry',
    message: /(a1){31}\.file": its xattrs object is missing/,
  });
});

t.test('a skipped object of the wrong type is refused', async (t) => {
  const dir = t.testdir({ repo: {} });
  const layout = await layoutOf(join(dir, 'image'), [
    tarOf([
      { name: object(COMMIT, 'commit'), content: 'commit' },
      { name: object(TREE, 'dirtree'), type: 'symlink', linkname: '/etc/passwd' },
    ]),
  ]);
  await t.rejects(importLayers(layout, 'latest', join(dir, 'repo'), {}, { have: () => true }), {
    code: 'unsafe-entry',
    message: /must be a regular file/,
  });
});
