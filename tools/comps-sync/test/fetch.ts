import t, { type Test } from 'tap';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { join } from 'node:path';
import { ToolError } from '@debian-atomic/lib';
import { ShaCache } from '../src/cache.js';
import { descFromDeb, fetchDeb, fetchPackagesIndex, fetchRelease, fetchVerified, httpGet, suiteUrl, xzDecompress, type MirrorOptions } from '../src/fetch.js';
import { parsePackagesIndex } from '../src/packages.js';
import { buildMirror, fixture, makeKey, serve, type TestKey } from './fixtures/mirror.js';

let key: TestKey;
t.before(async () => {
  key = await makeKey();
});
t.teardown(() => key.close());

async function mirror(t: Test, opts: Parameters<typeof buildMirror>[2] = {}) {
  const root = t.testdir({});
  await buildMirror(join(root, 'm'), key, opts);
  const served = await serve(join(root, 'm'));
  t.teardown(() => served.close());
  const options: MirrorOptions = {
    mirror: served.url,
    suite: 'trixie',
    arches: ['amd64', 's390x'],
    keyring: key.keyring,
    allowExpired: false,
    cache: new ShaCache(join(root, 'cache')),
    http: { timeoutMs: 5000, retries: 1 },
  };
  return { served, options };
}

t.test('the whole verified path against a local mirror', async (t) => {
  const { served, options } = await mirror(t);
  const rel = await fetchRelease(options);
  t.equal(rel.url, `${served.url}/dists/trixie/InRelease`);
  t.equal(rel.signers.length, 1);
  t.equal(rel.release.codename, 'trixie');
  const idx = await fetchPackagesIndex(options, rel, 's390x');
  t.equal(idx.cached, false);
  t.match(idx.url, /\/main\/binary-s390x\/by-hash\/SHA256\/[0-9a-f]{64}$/);
  const packages = parsePackagesIndex(idx.text, idx.url, 's390x');
  t.ok(packages.packages.has('s390-tools'));
  const again = await fetchPackagesIndex(options, rel, 's390x');
  t.equal(again.cached, true, 'the second time comes from the cache');
  t.equal(again.text, idx.text);

  const deb = await fetchDeb(options, packages.packages.get('tasksel-data')!);
  t.equal(deb.url, `${served.url}/pool/main/t/tasksel/tasksel-data_3.81_all.deb`);
  const desc = await descFromDeb(deb.path);
  t.match(desc, /^Task: /);
  t.match(desc, /\nTask: gnome-desktop\n/);
  t.equal((await fetchDeb(options, packages.packages.get('tasksel-data')!)).cached, true);
  t.same(
    served.requests.filter((r) => !r.includes('by-hash')),
    ['/dists/trixie/InRelease', '/pool/main/t/tasksel/tasksel-data_3.81_all.deb'],
  );
});

t.test('by-hash missing: falls back to the plain path; server errors are retried', async (t) => {
  const { served, options } = await mirror(t, { noByHash: true });
  served.fail.set('/dists/trixie/InRelease', [503]);
  const rel = await fetchRelease(options);
  const idx = await fetchPackagesIndex(options, rel, 'amd64');
  t.match(idx.url, /\/dists\/trixie\/main\/binary-amd64\/Packages\.xz$/);
  t.equal(served.requests.filter((r) => r === '/dists/trixie/InRelease').length, 2);
});

t.test('verification failures', async (t) => {
  const { options } = await mirror(t, { corrupt: 'amd64', validUntil: 'Fri, 06 Nov 2020 08:08:01 UTC' });
  const expired = (await fetchRelease(options).catch((e: unknown) => e)) as ToolError;
  t.equal(expired.code, 'expired');
  const rel = await fetchRelease({ ...options, allowExpired: true });
  t.match(rel.warnings, [/expired on Fri, 06 Nov 2020/]);
  const bad = (await fetchPackagesIndex(options, rel, 'amd64').catch((e: unknown) => e)) as ToolError;
  t.equal(bad.code, 'checksum');
  t.match(bad.summary, /binary-amd64\/by-hash\/SHA256\/[0-9a-f]+: checksum mismatch \(expected SHA256 [0-9a-f]{64}, \d+ bytes; got [0-9a-f]{64}, \d+ bytes\)/);
  const noArch = (await fetchPackagesIndex(options, rel, 'arm64').catch((e: unknown) => e)) as ToolError;
  t.match(noArch.summary, /lists no SHA256 for main\/binary-arm64\/Packages\.xz/);
  const arch = (await fetchRelease({ ...options, allowExpired: true, arches: ['riscv64'] }).catch((e: unknown) => e)) as ToolError;
  t.equal(arch.summary, 'trixie has no architecture riscv64 (it has: all amd64 s390x)');
  const debless = (await fetchDeb(options, { name: 'x' }).catch((e: unknown) => e)) as ToolError;
  t.match(debless.summary, /has no Filename or SHA256/);
});

t.test('a suite the mirror does not have, and a Release for another suite', async (t) => {
  const { options } = await mirror(t, { suite: 'trixie', codename: 'bookworm' });
  const wrong = (await fetchRelease(options).catch((e: unknown) => e)) as ToolError;
  t.equal(wrong.code, 'wrong-suite');
  const missing = (await fetchRelease({ ...options, suite: 'sarge' }).catch((e: unknown) => e)) as ToolError;
  t.equal(missing.summary, `${options.mirror}/dists/sarge/InRelease: not found: is 'sarge' a suite on ${options.mirror}?`);
});

t.test('an unreachable mirror is a clear error naming the URL', async (t) => {
  // A port nothing listens on: bind one, then close it.
  const port = await new Promise<number>((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
  const url = `http://127.0.0.1:${port}/debian/dists/trixie/InRelease`;
  const e = (await httpGet(url, { retries: 0 }).catch((e: unknown) => e)) as ToolError;
  t.equal(e.summary, `cannot fetch ${url}: ECONNREFUSED`);
  t.match(e.hint, /--mirror URL/);
  const slow = createHttpServer(() => undefined); // accepts, never answers
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    slow.closeAllConnections();
    slow.close();
  });
  const slowUrl = `http://127.0.0.1:${(slow.address() as { port: number }).port}/x`;
  const timeout = (await httpGet(slowUrl, { timeoutMs: 300, retries: 0 }).catch((e: unknown) => e)) as ToolError;
  t.equal(timeout.summary, `cannot fetch ${slowUrl}: no answer within 0.3 s`);
});

t.test('helpers', async (t) => {
  t.equal(suiteUrl('http://m/debian/', 'forky', 'InRelease'), 'http://m/debian/dists/forky/InRelease');
  const e = (await xzDecompress(Buffer.from('not xz'), 'X').catch((e: unknown) => e)) as ToolError;
  t.equal(e.code, 'command-failed');
  t.match(e.summary, /\(decompress X\)$/);
  const notTasksel = (await descFromDeb(fixture('nope.deb')).catch((e: unknown) => e)) as ToolError;
  t.equal(notTasksel.code, 'command-failed');
  const cache = new ShaCache(t.testdir({}));
  const e404 = (await fetchVerified(['http://127.0.0.1:1/a'], 'a'.repeat(64), 1, cache, { retries: 0 }).catch((e: unknown) => e)) as ToolError;
  t.match(e404.summary, /^cannot fetch http:\/\/127\.0\.0\.1:1\/a: /);
});
