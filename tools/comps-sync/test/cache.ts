import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
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
