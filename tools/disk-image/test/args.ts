import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { checkOutput, checkRef, checkRepo } from '../src/args.js';

t.test('--ref: an ostree ref, not an option or a line', async (t) => {
  for (const ref of ['debian/13/x86_64/base', 'a', 'x_y-z.1/b', 'f'.repeat(64)])
    t.doesNotThrow(() => checkRef(ref), ref);
  for (const ref of [
    '',
    '-x',
    '--help',
    'a\nb',
    'a b',
    '/a',
    'a/',
    'a//b',
    'remote:ref',
    '.a',
    'a/.b',
    'x'.repeat(1025),
  ])
    t.throws(() => checkRef(ref), { exitCode: 2, message: /not an ostree ref/ }, JSON.stringify(ref.slice(0, 20)));
  t.throws(
    () => checkRef('x'.repeat(5000)),
    { message: /^--ref "x{80}…": / },
    'a long ref is shortened in the message',
  );
});

t.test('--output: an image file in a writable directory', async (t) => {
  const dir = t.testdir({ out: {}, file: 'x', 'old.qcow2': 'previous', link: t.fixture('symlink', 'old.qcow2') });
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  t.equal(await checkOutput(join(dir, 'new.qcow2')), join(dir, 'new.qcow2'));
  t.equal(await checkOutput(join(dir, 'old.qcow2')), join(dir, 'old.qcow2'), 'an existing image is replaced');
  t.equal(await checkOutput(join(dir, 'link')), join(dir, 'link'), 'a link to an image: the link is replaced');
  const refused: [string, RegExp][] = [
    [join(dir, 'out'), /is a directory, expected an image file/],
    [`${join(dir, 'new')}/`, /names a directory/],
    ['', /names a directory/],
    [join(dir, 'fifo'), /is a FIFO/],
    ['/dev/null', /is a character device/],
    [join(dir, 'no/disk.qcow2'), /cannot use the directory .*\/no: it does not exist/],
    [join(dir, 'file/disk.qcow2'), /\/file is not a directory/],
  ];
  for (const [out, re] of refused) await t.rejects(checkOutput(out), { exitCode: 2, message: re }, JSON.stringify(out));
});

t.test('--repo: a directory', async (t) => {
  const dir = t.testdir({ repo: {}, file: 'x' });
  await checkRepo(join(dir, 'repo'));
  await t.rejects(checkRepo(join(dir, 'nope')), { exitCode: 2, message: /no such directory/ });
  await t.rejects(checkRepo(join(dir, 'file')), {
    exitCode: 2,
    message: /is a regular file, expected an OSTree repository directory/,
  });
});
