/**
 * The importer against hand-made malicious layers: nothing may be written
 * outside the repository, and every refusal names the entry and the reason.
 */
import t from 'tap';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { climbsOut, importLayers, safeName } from '../src/import.js';
import { COMMIT, layoutOf, tarOf, type Item } from './fixtures/layout.js';

const OBJ = `sysroot/ostree/repo/objects/${COMMIT.slice(0, 2)}/${COMMIT.slice(2)}`;

async function attempt(t: typeof import('tap').default, items: Item[][]): Promise<{ err: unknown; written: string[] }> {
  const dir = t.testdir({ repo: {}, outside: {} });
  const layout = await layoutOf(join(dir, 'image'), items.map(tarOf));
  let err: unknown;
  await importLayers(layout, 'latest', join(dir, 'repo')).catch((e: unknown) => (err = e));
  return { err, written: await readdir(join(dir, 'outside')) };
}

const cases: [string, Item[][], RegExp][] = [
  ['parent traversal', [[{ name: '../outside/evil', content: 'x' }]], /path traversal/],
  ['traversal in the middle', [[{ name: 'usr/../../outside/evil', content: 'x' }]], /path traversal/],
  [
    'traversal dressed as an object',
    [[{ name: `sysroot/ostree/repo/objects/../../../../../outside/${COMMIT.slice(2)}.commit`, content: 'x' }]],
    /path traversal/,
  ],
  ['absolute path', [[{ name: '/etc/cron.d/evil', content: 'x' }]], /absolute path/],
  [
    'hardlink to an absolute path',
    [[{ name: 'usr/bin/passwd', type: 'link', linkname: '/etc/shadow' }]],
    /hardlink to an absolute path/,
  ],
  ['hardlink climbing out', [[{ name: 'usr/bin/x', type: 'link', linkname: '../../outside/x' }]], /path traversal/],
  [
    'hardlink to something not in the image',
    [[{ name: 'usr/bin/x', type: 'link', linkname: 'etc/shadow' }]],
    /not a file earlier in the image/,
  ],
  [
    'hardlink to a directory',
    [
      [
        { name: 'usr', type: 'directory' },
        { name: 'x', type: 'link', linkname: 'usr' },
      ],
    ],
    /not a file earlier/,
  ],
  [
    'write through a symlink',
    [
      [
        { name: 'usr/lib', type: 'symlink', linkname: '/tmp' },
        { name: 'usr/lib/evil', content: 'x' },
      ],
    ],
    /goes through the symlink usr\/lib/,
  ],
  [
    'write through a symlink from a lower layer',
    [[{ name: 'sysroot', type: 'symlink', linkname: '/tmp' }], [{ name: `${OBJ}.commit`, content: 'x' }]],
    /goes through the symlink sysroot/,
  ],
  [
    'write through a hardlinked symlink',
    [
      [
        { name: 'a', type: 'symlink', linkname: '/' },
        { name: 'b', type: 'link', linkname: 'a' },
        { name: 'b/etc/passwd', content: 'x' },
      ],
    ],
    /through the symlink b/,
  ],
  [
    'symlink escaping the root',
    [[{ name: 'usr/lib/x', type: 'symlink', linkname: '../../../outside' }]],
    /symlink escapes the root/,
  ],
  [
    'an object of the wrong type',
    [[{ name: `${OBJ}.dirtree`, type: 'symlink', linkname: '/etc/passwd' }]],
    /must be a regular file/,
  ],
  [
    'xattrs that do not match their name',
    [[{ name: `${OBJ}.file-xattrs`, content: 'not these' }]],
    /does not match its name/,
  ],
];

for (const [what, layers, why] of cases) {
  t.test(`refused: ${what}`, async (t) => {
    const { err, written } = await attempt(t, layers);
    t.match(err, { message: why }, String((err as Error | undefined)?.message));
    t.same(written, [], 'nothing written outside');
  });
}

t.test('a tampered layer fails its digest before anything is trusted', async (t) => {
  const dir = t.testdir({ repo: {} });
  const layout = await layoutOf(join(dir, 'image'), [tarOf([{ name: `${OBJ}.commit`, content: 'commit' }])]);
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(await readFile(join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  const layer = join(layout, 'blobs/sha256', manifest.layers[0].digest.slice(7));
  const data = await readFile(layer);
  data[data.length - 9]! ^= 1;
  await writeFile(layer, data);
  await t.rejects(importLayers(layout, 'latest', join(dir, 'repo')), { message: /digest|invalid|incorrect|check/i });
});

t.test('an image that is not an ostree container, or carries another commit', async (t) => {
  const dir = t.testdir({ repo: {} });
  await t.rejects(importLayers(await layoutOf(join(dir, 'a'), [tarOf([])], {}), 'latest', join(dir, 'repo')), {
    code: 'not-ostree-image',
  });
  await t.rejects(importLayers(await layoutOf(join(dir, 'b'), [tarOf([])]), 'latest', join(dir, 'repo')), {
    code: 'bad-image',
    message: /0 commit objects/,
  });
  const other = 'cd'.repeat(32);
  const layout = await layoutOf(join(dir, 'c'), [
    tarOf([{ name: `sysroot/ostree/repo/objects/cd/${other.slice(2)}.commit`, content: 'c' }]),
  ]);
  await t.rejects(importLayers(layout, 'latest', join(dir, 'repo')), { code: 'bad-image', message: /label says/ });
});

t.test('names: what is clean and what climbs', async (t) => {
  t.equal(safeName('./usr/bin/ls'), 'usr/bin/ls');
  t.equal(safeName('usr//bin/./ls'), 'usr/bin/ls');
  t.equal(safeName('usr/'), 'usr');
  t.throws(() => safeName('a/\0b'), { message: /NUL/ });
  t.notOk(climbsOut('usr/lib', '../../etc/x'));
  t.ok(climbsOut('usr/lib', '../../../etc'));
  t.ok(climbsOut('.', '..'));
  t.notOk(climbsOut('usr', 'a/../b'));
});
