import t from 'tap';
import { join } from 'node:path';
import { checkOutputs, checkTreefileInputs, readBoundedStdin, readTreefileInput } from '../src/inputs.js';
import { treefile } from './fixtures/treefile.js';

async function* chunks(...parts: string[]) {
  for (const p of parts) yield p;
}

t.test('standard input: read to its end, refused past the bound', async (t) => {
  t.equal(await readBoundedStdin(10, chunks('abc', 'def')), 'abcdef');
  await t.rejects(readBoundedStdin(5, chunks('abc', 'def')), {
    exitCode: 2,
    message: /standard input larger than 5 bytes/,
  });
  const tf = await readTreefileInput('-', chunks(JSON.stringify(treefile())));
  t.equal(tf.ref, 'debian/13/x86_64/test');
});

t.test('the treefile from a file', async (t) => {
  const dir = t.testdir({ 'tf.json': JSON.stringify(treefile()) });
  t.equal((await readTreefileInput(join(dir, 'tf.json'))).suite, 'trixie');
  await t.rejects(readTreefileInput(join(dir, 'nope.json')), {
    exitCode: 2,
    message: /nope\.json: cannot read treefile: no such file/,
  });
});

t.test('the files a treefile names: regular files of a sane size, all problems at once', async (t) => {
  const dir = t.testdir({ 'motd.txt': 'hi\n', 'post.sh': '#!/bin/sh\n', 'k.gpg': 'key', sub: {} });
  const ok = treefile({
    'add-files': [[join(dir, 'motd.txt'), '/etc/motd']],
    'postprocess-script': join(dir, 'post.sh'),
    repos: [{ mirror: 'http://x/debian', suite: 'trixie', components: ['main'], keyring: join(dir, 'k.gpg') }],
  } as never);
  await checkTreefileInputs(ok);
  const bad = treefile({
    'add-files': [
      [join(dir, 'sub'), '/etc/motd'],
      [join(dir, 'none'), '/etc/x'],
    ],
    'postprocess-script': join(dir, 'sub'),
  } as never);
  try {
    await checkTreefileInputs(bad);
    t.fail('should throw');
  } catch (err) {
    const e = err as { exitCode: number; summary: string; detail?: string };
    t.equal(e.exitCode, 2);
    t.match(e.summary, /sub: cannot read add-files source: is a directory, expected a regular file/);
    t.match(
      e.detail,
      /none: cannot read add-files source: no such file\n.*sub: cannot read postprocess-script: is a directory/,
    );
  }
});

t.test('--output and --cache', async (t) => {
  const dir = t.testdir({ file: 'x', out: {} });
  await checkOutputs(join(dir, 'out'), join(dir, 'cache'));
  await checkOutputs(join(dir, 'new'), join(dir, 'out'));
  await t.rejects(checkOutputs(join(dir, 'file'), join(dir, 'cache')), {
    exitCode: 2,
    message: /--output \S+file: exists and is not a directory/,
  });
  await t.rejects(checkOutputs('/', join(dir, 'cache')), {
    exitCode: 2,
    message: /refusing to replace the root directory/,
  });
  await t.rejects(checkOutputs(join(dir, 'out'), join(dir, 'file')), {
    exitCode: 2,
    message: /--cache \S+file: exists and is not a directory/,
  });
});
