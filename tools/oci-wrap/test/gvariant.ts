/**
 * Reading a commit's metadata objects directly (src/gvariant.ts, readCommitTree, commitDetails):
 * the same tree as `ostree ls -R -C` and the same date and version as `ostree show` on a real
 * commit; a damaged object is a corrupt-object error, never a wrong tree or a crash.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ToolError } from '@debian-atomic/lib';
import { parseCommit, parseDirmeta, parseDirtree } from '../src/gvariant.js';
import { commitDetails, objectPath, readCommitTree } from '../src/tree.js';
import { ostreeIn, tinyCommit } from './fixtures/tiny.js';

/** `ostree ls -R -C` as the tree readCommitTree returns (the oracle). */
function parseLs(text: string) {
  const line = /^([dl-])([0-7]{5}) +(\d+) +(\d+) +(\d+) +([0-9a-f]{64})(?: ([0-9a-f]{64}))? (\/.*)$/;
  const dirs: unknown[] = [];
  const files: unknown[] = [];
  for (const l of text.split('\n').filter(Boolean)) {
    const [, kind, mode, uid, gid, size, c1, c2, raw] = line.exec(l)!;
    let path = raw!.slice(1);
    if (kind === 'l') path = path.slice(0, path.lastIndexOf(' -> '));
    if (kind === 'd')
      dirs.push({ path, mode: parseInt(mode!, 8), uid: Number(uid), gid: Number(gid), tree: c1, meta: c2 });
    else files.push({ path, symlink: kind === 'l', size: Number(size), checksum: c1 });
  }
  return { dirs, files };
}

t.test('the tree, date and version ostree itself reads', async (t) => {
  const dir = t.testdir();
  const repo = join(dir, 'repo');
  const commit = await tinyCommit(dir, repo);
  const tree = await readCommitTree(repo, commit);
  t.equal(tree.commit, commit);
  t.same({ dirs: tree.dirs, files: tree.files }, parseLs(await ostreeIn(repo, 'ls', '-R', '-C', commit)));
  t.same(
    tree.files
      .filter((f) => f.path === 'usr/etc/os-release' || f.path === 'usr/bin/chage')
      .map((f) => [f.symlink, f.size]),
    [
      [false, 3000],
      [true, 0],
    ],
    'a file its size, a symlink none',
  );
  const show = await ostreeIn(repo, 'show', commit);
  const details = await commitDetails(repo, commit);
  t.equal(details.version, /^Version: (.+)$/m.exec(show)![1]);
  t.match(details.version, /^13\./);
  const date = /^Date: +(\S+ \S+) \+0000$/m.exec(show)![1]!;
  t.equal(details.timestamp, Date.parse(`${date.replace(' ', 'T')}Z`) / 1000);
  const c = parseCommit(await readFile(objectPath(repo, commit, 'commit')));
  t.equal(c.parent, null, 'a first commit has no parent');
  t.equal(c.subject, /^\n {4}(.*)$/m.exec(show)?.[1] ?? '', 'the subject ostree show prints');

  t.test('a second commit names its parent', async (t) => {
    const second = await tinyCommit(dir, repo, '2');
    t.equal(parseCommit(await readFile(objectPath(repo, second, 'commit'))).parent, commit);
  });

  t.test('damaged objects: corrupt-object or a parse, never a crash', async (t) => {
    const objects: { ext: string; data: Buffer }[] = [];
    for (const sub of await readdir(join(repo, 'objects'))) {
      for (const f of await readdir(join(repo, 'objects', sub))) {
        const ext = f.slice(f.lastIndexOf('.') + 1);
        if (['commit', 'dirtree', 'dirmeta'].includes(ext))
          objects.push({ ext, data: await readFile(join(repo, 'objects', sub, f)) });
      }
    }
    t.ok(
      objects.some((o) => o.ext === 'dirtree' && o.data.length > 300),
      'a dirtree with 2-byte offsets is among them',
    );
    const parse = { commit: parseCommit, dirtree: parseDirtree, dirmeta: parseDirmeta } as Record<
      string,
      (b: Buffer) => unknown
    >;
    let seed = 1;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n) | 0;
    let refused = 0;
    let tried = 0;
    for (const { ext, data } of objects) {
      const variants: Buffer[] = [];
      for (let n = 0; n < data.length; n++) variants.push(data.subarray(0, n));
      for (let i = 0; i < 40; i++) {
        const b = Buffer.from(data);
        b[rand(b.length)] = rand(256);
        if (rand(2)) b[b.length - 1 - rand(Math.min(4, b.length))] = rand(256);
        variants.push(b);
      }
      for (const v of variants) {
        tried++;
        try {
          parse[ext]!(v);
        } catch (err) {
          if (!(err instanceof ToolError) || err.code !== 'corrupt-object') {
            t.fail(`${ext} of ${v.length} bytes: ${String(err)}`);
            return;
          }
          refused++;
        }
      }
    }
    t.ok(refused > tried / 4, `${refused} of ${tried} damaged objects refused as corrupt`);
  });

  t.test('a name ostree would not write is refused', async (t) => {
    const copy = join(dir, 'copy');
    await cp(repo, copy, { recursive: true });
    const root = parseCommit(await readFile(objectPath(copy, commit, 'commit'))).tree;
    // (a(say)a(sayay)) with one file '..': "..\0" + checksum + its framing offset, the array's
    // framing offset, and the tuple's.
    const sum = createHash('sha256').update('x').digest();
    const entry = Buffer.concat([Buffer.from('..\0'), sum, Buffer.from([3])]);
    const files = Buffer.concat([entry, Buffer.from([entry.length])]);
    const dirtree = Buffer.concat([files, Buffer.from([files.length])]);
    t.same(parseDirtree(dirtree).files, [{ name: '..', checksum: sum.toString('hex') }]);
    await writeFile(objectPath(copy, root, 'dirtree'), dirtree);
    await t.rejects(readCommitTree(copy, commit), { code: 'corrupt-object', message: /bad name "\.\."/ });
  });

  t.test('a dirtree that contains itself is refused, not walked forever', async (t) => {
    const copy = join(dir, 'copy3');
    await cp(repo, copy, { recursive: true });
    const c = parseCommit(await readFile(objectPath(copy, commit, 'commit')));
    // (a(say)a(sayay)) with no files and one directory 'loop' whose dirtree is the root's own.
    const entry = Buffer.concat([
      Buffer.from('loop\0'),
      Buffer.from(c.tree, 'hex'),
      Buffer.from(c.meta, 'hex'),
      Buffer.from([5 + 32, 5]),
    ]);
    const dirs = Buffer.concat([entry, Buffer.from([entry.length])]);
    const dirtree = Buffer.concat([dirs, Buffer.from([0])]);
    t.same(parseDirtree(dirtree), { files: [], dirs: [{ name: 'loop', tree: c.tree, meta: c.meta }] });
    await writeFile(objectPath(copy, c.tree, 'dirtree'), dirtree);
    await t.rejects(readCommitTree(copy, commit), { code: 'corrupt-object', message: /nested deeper than 256/ });
  });

  t.test('a missing object is named', async (t) => {
    const copy = join(dir, 'copy2');
    await cp(repo, copy, { recursive: true });
    const c = parseCommit(await readFile(objectPath(copy, commit, 'commit')));
    await writeFile(objectPath(copy, c.meta, 'dirmeta'), Buffer.alloc(3));
    await t.rejects(readCommitTree(copy, commit), { code: 'corrupt-object' });
    await rm(objectPath(copy, c.meta, 'dirmeta'));
    await t.rejects(readCommitTree(copy, commit), {
      code: 'missing-object',
      message: new RegExp(`dirmeta object ${c.meta} is missing`),
    });
    const chage = (await readCommitTree(repo, commit)).files.find((f) => f.path === 'usr/bin/chage')!;
    await cp(objectPath(repo, c.meta, 'dirmeta'), objectPath(copy, c.meta, 'dirmeta'));
    await rm(objectPath(copy, chage.checksum, 'filez'));
    await t.rejects(readCommitTree(copy, commit), {
      code: 'missing-object',
      message: new RegExp(`filez object ${chage.checksum} is missing`),
    });
  });
});
