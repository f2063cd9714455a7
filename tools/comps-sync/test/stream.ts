import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '@debian-atomic/lib';
import { openRegularFile as openRegular } from '@debian-atomic/lib';
import { commandMessage, streamCommand, streamFile, streamText, xzText } from '../src/stream.js';

const fail = async (p: Promise<unknown>) =>
  (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as ToolError;
const xz = (data: string | Buffer) => execFileSync('xz', ['-0', '-c'], { input: data });

t.test('only regular files are opened', async (t) => {
  const dir = t.testdir({ file: 'x' });
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  mkdirSync(join(dir, 'sub'));
  await (await openRegular(join(dir, 'file'), 'test input')).close();
  t.equal(
    (await fail(openRegular(join(dir, 'fifo'), 'test input'))).summary,
    `${join(dir, 'fifo')}: cannot read test input: a FIFO, expected a regular file`,
  );
  t.equal(
    (await fail(openRegular(join(dir, 'sub'), 'test input'))).summary,
    `${join(dir, 'sub')}: cannot read test input: is a directory, expected a regular file`,
  );
  t.equal(
    (await fail(openRegular('/dev/null', 'test input'))).summary,
    '/dev/null: cannot read test input: a character device, expected a regular file',
  );
  t.equal(
    (await fail(openRegular(join(dir, 'none'), 'test input'))).summary,
    `${join(dir, 'none')}: cannot read test input: no such file`,
  );
  t.equal(
    (await fail(openRegular(join(dir, 'file', 'x'), 'test input'))).summary,
    `${join(dir, 'file', 'x')}: cannot read test input: ENOTDIR`,
  );
  t.equal((await fail(openRegular(join(dir, 'fifo'), 'test input'))).exitCode, 2);
});

t.test('streamFile: chunks, and a bound', async (t) => {
  const dir = t.testdir({ big: 'x'.repeat(200_000) });
  let n = 0;
  await streamFile(join(dir, 'big'), 'test input', 200_000, (c) => (n += c.length));
  t.equal(n, 200_000);
  const e = await fail(streamFile(join(dir, 'big'), 'test input', 100_000, () => undefined));
  t.equal(e.summary, `${join(dir, 'big')}: test input larger than 100000 bytes, refusing to read it`);
});

t.test('streamText: plain and xz, UTF-8 split across chunks', async (t) => {
  const text = 'Description: ünïcödé ✓\n'.repeat(20_000);
  const dir = t.testdir({ plain: text, 'p.xz': xz(text) });
  for (const f of ['plain', 'p.xz']) {
    const parts: string[] = [];
    await streamText(join(dir, f), 'test input', 1 << 20, (s) => parts.push(s));
    t.equal(parts.join(''), text, f);
    t.ok(parts.length > 1, `${f}: in more than one chunk`);
  }
});

t.test('xzText: bounded output, clear errors', async (t) => {
  // A small "newline bomb" against a lowered bound: refused once past it, xz killed.
  const bomb = xz(Buffer.alloc(4 << 20, '\n'));
  let seen = 0;
  const e = await fail(xzText({ data: bomb, name: 'B.xz' }, 'Packages index', 1 << 20, (s) => (seen += s.length)));
  t.equal(e.summary, 'B.xz: Packages index decompresses to more than 1048576 bytes, refusing it');
  t.equal(e.exitCode, 2);
  t.ok(seen <= 1 << 20, 'no more than the bound was handed on');
  const good = xz('Package: a\n');
  const truncated = await fail(
    xzText({ data: good.subarray(0, good.length - 8), name: 'T.xz' }, 'x', 1 << 20, () => undefined),
  );
  t.equal(truncated.summary, 'T.xz: not xz data (Unexpected end of input)');
  const thrown = await fail(
    xzText({ data: good, name: 'G.xz' }, 'x', 1 << 20, () => {
      throw new ToolError('mine', 'from the consumer');
    }),
  );
  t.equal(thrown.summary, 'from the consumer', "the consumer's error wins");
});

t.test('streamCommand: a missing command, an early stop', async (t) => {
  const missing = await fail(
    streamCommand(
      'comps-sync-no-such-command',
      [],
      { data: Buffer.from(''), name: 'x' },
      { providedBy: 'nothing', what: 'test' },
      () => undefined,
    ),
  );
  t.equal(missing.code, 'missing-command');
  t.equal(missing.summary, 'comps-sync-no-such-command: command not found (test)');
  // yes(1) never ends: stopping it early is what keeps a bomb cheap.
  let chunks = 0;
  const res = await streamCommand(
    'yes',
    [],
    { data: Buffer.alloc(0), name: 'x' },
    { providedBy: 'coreutils', what: 'test' },
    () => ++chunks >= 3,
  );
  t.match(res, { code: null, stopped: true }); // (yes may say 'Broken pipe' on its way out)
  const dir = t.testdir({ in: 'hello\n' });
  const cat: Buffer[] = [];
  const fromFile = await streamCommand(
    'cat',
    [],
    { file: join(dir, 'in') },
    { providedBy: 'coreutils', what: 'test' },
    (c) => void cat.push(c),
  );
  t.same(fromFile, { code: 0, stopped: false, stderr: '' });
  t.equal(Buffer.concat(cat).toString(), 'hello\n', "a file is the command's stdin");
  t.equal(
    commandMessage('xz: (stdin): File format not recognized\n', /^xz: \(stdin\): /),
    'File format not recognized',
  );
  t.equal(commandMessage('', /x/), 'failed');
});
