import t from 'tap';
import { PassThrough } from 'node:stream';
import { Progress, warn } from '../src/progress.js';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
  (s as { isTTY?: boolean }).isTTY = isTTY;
  let out = '';
  s.on('data', (c: Buffer) => (out += c.toString()));
  return { stream: s, text: () => out };
}

t.test('progress shows only on a TTY and not when quiet', async (t) => {
  const tty = fakeStream(true);
  const p = new Progress('rootfs', { stream: tty.stream });
  t.ok(p.active);
  p.step('installing');
  t.match(tty.text(), /^rootfs: \[\d+\.\ds\] installing\n$/);
  const pipe = fakeStream(false);
  new Progress('rootfs', { stream: pipe.stream }).step('x');
  const quiet = fakeStream(true);
  new Progress('rootfs', { stream: quiet.stream, quiet: true }).step('x');
  t.equal(pipe.text() + quiet.text(), '');
});

t.test('warnings go to stderr unless quiet', async (t) => {
  const writes: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => (writes.push(s), true)) as typeof process.stderr.write;
  try {
    warn('tool', 'careful');
    warn('tool', 'hidden', true);
  } finally {
    process.stderr.write = orig;
  }
  t.same(writes, ['tool: warning: careful\n']);
});

t.test('warnings can go to a given stream (a tool writing to its own io)', async (t) => {
  const s = fakeStream(false);
  warn('tool', 'here', false, s.stream);
  t.equal(s.text(), 'tool: warning: here\n');
});
