import t from 'tap';
import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  readBoundedFile,
  readBoundedFileSync,
  readBoundedText,
  readBoundedTextSync,
  READ_LIMITS,
} from '../src/read.js';

const readers = {
  async: (f: string, o?: { maxBytes?: number; what?: string }) => readBoundedText(f, o),
  sync: async (f: string, o?: { maxBytes?: number; what?: string }) => readBoundedTextSync(f, o),
};

for (const [kind, read] of Object.entries(readers)) {
  t.test(`${kind}: reads regular files whole, through symlinks`, async (t) => {
    const dir = t.testdir({ 'a.txt': 'hello\n', empty: '' });
    symlinkSync('a.txt', join(dir, 'link'));
    t.equal(await read(join(dir, 'a.txt')), 'hello\n');
    t.equal(await read(join(dir, 'link')), 'hello\n');
    t.equal(await read(join(dir, 'empty')), '');
    const big = 'x'.repeat(200_000);
    writeFileSync(join(dir, 'big'), big);
    t.equal(await read(join(dir, 'big'), { maxBytes: 200_000 }), big, 'exactly the bound is fine');
  });

  t.test(`${kind}: refuses what is not a regular file, before reading`, async (t) => {
    const dir = t.testdir({ sub: {} });
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // A FIFO with no writer would block open(2) and read(2) forever: this must return at once.
    await t.rejects(read(fifo, { what: 'treefile' }), {
      message: /fifo: cannot read treefile: a FIFO, expected a regular file/,
      exitCode: 2,
    });
    await t.rejects(read('/dev/zero'), { message: /\/dev\/zero: cannot read: a character device/, exitCode: 2 });
    await t.rejects(read(join(dir, 'sub')), { message: /cannot read: (a directory|is a directory)/, exitCode: 2 });
    await t.rejects(read(join(dir, 'nope')), { message: /nope: cannot read: no such file/, exitCode: 2 });
  });

  t.test(`${kind}: refuses files over the bound, by stat and by bytes read`, async (t) => {
    const dir = t.testdir({ big: 'y'.repeat(1001) });
    await t.rejects(read(join(dir, 'big'), { maxBytes: 1000, what: 'config' }), {
      message: /big: config larger than 1000 bytes/,
      exitCode: 2,
    });
    // /proc files say size 0: the bound holds on what is read (cpuinfo is far over 10 bytes).
    await t.rejects(read('/proc/self/status', { maxBytes: 10 }), { message: /larger than 10 bytes/ });
    t.match(await read('/proc/self/status', { maxBytes: READ_LIMITS.attribute }), /^Name:/);
  });
}

t.test('buffers', async (t) => {
  const dir = t.testdir({ b: Buffer.from([0, 1, 2, 255]) });
  t.same([...(await readBoundedFile(join(dir, 'b')))], [0, 1, 2, 255]);
  t.same([...readBoundedFileSync(join(dir, 'b'))], [0, 1, 2, 255]);
  t.equal(READ_LIMITS.config, 4 << 20);
});
