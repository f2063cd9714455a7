import t, { type Test } from 'tap';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '@debian-atomic/lib';
import { ShaCache } from '../src/cache.js';
import { gzipSync } from 'node:zlib';
import {
  DESC_PATH,
  descFromDeb,
  fetchDeb,
  fetchPackagesIndex,
  fetchRelease,
  fetchVerified,
  httpGet,
  suiteUrl,
  type MirrorOptions,
} from '../src/fetch.js';
import { xzText } from '../src/stream.js';
import { deb, DESC_DIRS, DESC_MEMBER, tar } from './fixtures/deb.js';
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
  const packages = idx.index;
  t.equal(packages.file, idx.url);
  t.ok(packages.packages.has('s390-tools'));
  const again = await fetchPackagesIndex(options, rel, 's390x');
  t.equal(again.cached, true, 'the second time comes from the cache');
  t.same(again.index, idx.index, 'and gives the same index');

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
  t.match(
    bad.summary,
    /binary-amd64\/by-hash\/SHA256\/[0-9a-f]+: checksum mismatch \(expected SHA256 [0-9a-f]{64}, \d+ bytes; got [0-9a-f]{64}, \d+ bytes\)/,
  );
  const noArch = (await fetchPackagesIndex(options, rel, 'arm64').catch((e: unknown) => e)) as ToolError;
  t.match(noArch.summary, /lists no SHA256 for main\/binary-arm64\/Packages\.xz/);
  const arch = (await fetchRelease({ ...options, allowExpired: true, arches: ['riscv64'] }).catch(
    (e: unknown) => e,
  )) as ToolError;
  t.equal(arch.summary, 'trixie has no architecture riscv64 (it has: all amd64 s390x)');
  const debless = (await fetchDeb(options, { name: 'x' }).catch((e: unknown) => e)) as ToolError;
  t.match(debless.summary, /has no Filename or SHA256/);
});

t.test('a suite the mirror does not have, and a Release for another suite', async (t) => {
  const { options } = await mirror(t, { suite: 'trixie', codename: 'bookworm' });
  const wrong = (await fetchRelease(options).catch((e: unknown) => e)) as ToolError;
  t.equal(wrong.code, 'wrong-suite');
  const missing = (await fetchRelease({ ...options, suite: 'sarge' }).catch((e: unknown) => e)) as ToolError;
  t.equal(
    missing.summary,
    `${options.mirror}/dists/sarge/InRelease: not found: is 'sarge' a suite on ${options.mirror}?`,
  );
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
  const e = (await xzText({ data: Buffer.from('not xz'), name: 'X' }, 'Packages index', 1 << 20, () => undefined).catch(
    (e: unknown) => e,
  )) as ToolError;
  t.equal(e.code, 'input', 'not xz: unreadable input, exit 2');
  t.equal(e.exitCode, 2);
  t.equal(e.summary, 'X: not xz data (File format not recognized)');
  const notTasksel = (await descFromDeb(fixture('nope.deb')).catch((e: unknown) => e)) as ToolError;
  t.equal(notTasksel.code, 'input');
  t.equal(notTasksel.summary, `${fixture('nope.deb')}: cannot read tasksel-data package: no such file`);
  const cache = new ShaCache(t.testdir({}));
  const e404 = (await fetchVerified(['http://127.0.0.1:1/a'], 'a'.repeat(64), 1, cache, { retries: 0 }).catch(
    (e: unknown) => e,
  )) as ToolError;
  t.match(e404.summary, /^cannot fetch http:\/\/127\.0\.0\.1:1\/a: /);
});

t.test('downloads are bounded: by Content-Length, and as they stream', async (t) => {
  const server = createHttpServer((req, res) => {
    if (req.url === '/announced') {
      res.writeHead(200, { 'content-length': 1000 }).end('x'.repeat(1000));
    } else {
      res.writeHead(200); // chunked: no length given up front
      res.write('y'.repeat(60_000));
      res.end('y'.repeat(60_000));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const announced = (await httpGet(`${base}/announced`, { maxBytes: 999, retries: 0 }).catch(
    (e: unknown) => e,
  )) as ToolError;
  t.equal(announced.summary, `${base}/announced: larger than 999 bytes, refusing it`);
  t.equal((await httpGet(`${base}/announced`, { maxBytes: 1000 })).length, 1000);
  const streamed = (await httpGet(`${base}/streamed`, { maxBytes: 100_000, retries: 3 }).catch(
    (e: unknown) => e,
  )) as ToolError;
  t.equal(
    streamed.summary,
    `${base}/streamed: larger than 100000 bytes, refusing it`,
    'not retried: a refusal, not network trouble',
  );
  const cache = new ShaCache(t.testdir({}));
  const listed = (await fetchVerified([`${base}/streamed`], 'a'.repeat(64), 10, cache).catch(
    (e: unknown) => e,
  )) as ToolError;
  t.equal(listed.summary, `${base}/streamed: larger than 65546 bytes (its checksum was listed with 10), refusing it`);
  const near = (await fetchVerified([`${base}/announced`], 'a'.repeat(64), 999, cache).catch(
    (e: unknown) => e,
  )) as ToolError;
  t.match(
    near.summary,
    /announced: checksum mismatch \(expected SHA256 a{64}, 999 bytes; got [0-9a-f]{64}, 1000 bytes\)/,
    'a little over: the checksum mismatch is reported',
  );
});

t.test('a Packages entry and a Release entry are checked before anything is fetched', async (t) => {
  const { options } = await mirror(t);
  const entry = {
    name: 'tasksel-data',
    filename: 'pool/main/t/tasksel/tasksel-data_3.81_all.deb',
    sha256: 'd9914ef286d747f04dd630d0eb135573671a51834c77fcef1ae6390c48b4da2b',
    size: 17988,
    line: 7,
  };
  const bad = async (e: Partial<typeof entry> & { size?: number }, index?: string) =>
    ((await fetchDeb(options, { ...entry, ...e }, index).catch((e: unknown) => e)) as ToolError).summary;
  t.equal(
    await bad({ sha256: 'D9914EF2' }, 'P'),
    'P:7:1: tasksel-data: SHA256 is not a SHA256 (64 hex digits): "D9914EF2"',
  );
  t.equal(
    await bad({ sha256: '../x' }),
    'the Packages entry of tasksel-data: SHA256 is not a SHA256 (64 hex digits): "../x"',
  );
  t.equal(await bad({ size: NaN }, 'P'), 'P:7:1: tasksel-data: Size is not a size of at most 67108864 bytes: NaN');
  t.equal(
    await bad({ size: 1e12 }, 'P'),
    'P:7:1: tasksel-data: Size is not a size of at most 67108864 bytes: 1000000000000',
  );
  t.equal(
    await bad({ filename: 'pool/../../etc/passwd' }, 'P'),
    'P:7:1: tasksel-data: Filename is not a path in the archive: "pool/../../etc/passwd"',
  );
  t.equal(
    await bad({ filename: '/etc/passwd' }, 'P'),
    'P:7:1: tasksel-data: Filename is not a path in the archive: "/etc/passwd"',
  );
  t.equal(
    await bad({ filename: 'pool/a b.deb' }, 'P'),
    'P:7:1: tasksel-data: Filename is not a path in the archive: "pool/a b.deb"',
  );
  t.equal((await fetchDeb(options, entry)).cached, false, 'the real entry passes');

  const rel = await fetchRelease(options);
  rel.release.sha256.set('main/binary-amd64/Packages.xz', { sha256: 'a'.repeat(64), size: 1 << 30 });
  const huge = (await fetchPackagesIndex(options, rel, 'amd64').catch((e: unknown) => e)) as ToolError;
  t.equal(
    huge.summary,
    `${rel.url}: lists main/binary-amd64/Packages.xz with 1073741824 bytes, more than the 67108864 a Packages.xz may have`,
  );
});

t.test('descFromDeb: never unpacked, never through a link', async (t) => {
  const desc = await descFromDeb(fixture('trixie', 'tasksel-data_3.81_all.deb'));
  t.match(desc, /^Task: /);
  const dir = t.testdir({
    'gz.deb': deb(gzipSync(tar([...DESC_DIRS, { path: DESC_MEMBER, data: 'Task: gz\n' }])), true),
    'link.deb': deb(tar([...DESC_DIRS, { path: DESC_MEMBER, type: '2', linkname: '/etc/passwd' }])),
    'none.deb': deb(tar(DESC_DIRS)),
    'cut.deb': deb(tar(DESC_DIRS, false)),
    'garbage.deb': 'not a deb',
  });
  t.equal(await descFromDeb(join(dir, 'gz.deb')), 'Task: gz\n');
  const err = async (f: string) => ((await descFromDeb(join(dir, f)).catch((e: unknown) => e)) as ToolError).summary;
  t.equal(
    await err('link.deb'),
    `${join(dir, 'link.deb')}: /${DESC_PATH} is a symbolic link (to /etc/passwd), expected a regular file`,
  );
  t.equal(await err('none.deb'), `${join(dir, 'none.deb')}: has no /${DESC_PATH} (is it tasksel-data?)`);
  t.equal(await err('cut.deb'), `${join(dir, 'cut.deb')}: damaged data.tar (it ends before its end-of-archive blocks)`);
  t.equal(
    await err('garbage.deb'),
    `${join(dir, 'garbage.deb')}: not a .deb (dpkg-deb: unexpected end of file in archive magic version number)`,
  );
  writeFileSync(join(dir, 'garbage.deb'), 'this is not a Debian package at all\n');
  t.equal(
    await err('garbage.deb'),
    `${join(dir, 'garbage.deb')}: not a .deb (dpkg-deb: it is not a Debian format archive)`,
  );
});
