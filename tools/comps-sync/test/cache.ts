import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { ToolError } from '@debian-atomic/lib';
import { join } from 'node:path';
import { sha256Of, ShaCache } from '../src/cache.js';

t.test('content-addressed cache', async (t) => {
  const dir = t.testdir({});
  const cache = new ShaCache(join(dir, 'by-sha256'));
  const data = Buffer.from('Package: a\n');
  const sum = sha256Of(data);
  t.match(sum, /^[0-9a-f]{64}$/);
  t.equal(await cache.get(sum), undefined);
  const file = await cache.put(sum, data);
  t.equal(file, join(dir, 'by-sha256', sum));
  t.same(await cache.get(sum), data);
  writeFileSync(file, 'damaged');
  t.equal(await cache.get(sum), undefined, 'a damaged entry is not trusted');
  t.throws(() => readFileSync(file), 'and is removed');
  t.throws(() => cache.path('../etc/passwd'), { message: /not a SHA256/ });
  t.match(new ShaCache().dir, /comps-sync\/by-sha256$/);
});

t.test('an entry that is not a regular file is an error; an oversized one is damaged', async (t) => {
  const dir = t.testdir({});
  const cache = new ShaCache(join(dir, 'by-sha256'));
  const data = Buffer.from('Package: b\n');
  const sum = sha256Of(data);
  const file = await cache.put(sum, data);
  t.equal(await cache.get(sum, 5), undefined, 'larger than it may be: not read, removed');
  t.throws(() => readFileSync(file));
  rmSync(file, { force: true });
  execFileSync('mkfifo', [file]);
  const fifo = (await cache.get(sum).catch((e: unknown) => e)) as ToolError;
  t.equal(fifo.summary, `${file}: cannot read cached download: a FIFO, expected a regular file`);
  t.equal(fifo.hint, `remove it (rm -r ${file}); it is fetched again`);
  t.equal(fifo.exitCode, 2);
  rmSync(file);
  symlinkSync('/etc/passwd', file);
  t.match(
    ((await cache.get(sum).catch((e: unknown) => e)) as ToolError).summary,
    /a symbolic link, expected a regular file$/,
  );
  rmSync(file);
  mkdirSync(file);
  t.match(
    ((await cache.get(sum).catch((e: unknown) => e)) as ToolError).summary,
    /is a directory, expected a regular file$/,
  );
});
