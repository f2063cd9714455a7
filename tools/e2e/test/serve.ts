import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RepoServer } from '../src/serve.js';

function repoDir(t: Test, content: string): string {
  const dir = t.testdir({ config: '[core]\nmode=archive-z2\n', objects: { ab: { 'cdef.filez': content } } });
  return dir;
}

t.test('serves files with their size, 404 for the rest, and counts the bytes', async (t) => {
  const server = new RepoServer(repoDir(t, 'x'.repeat(1000)));
  const port = await server.listen();
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${port}`;
  const r = await fetch(`${base}/objects/ab/cdef.filez`);
  t.equal(r.status, 200);
  t.equal((await r.text()).length, 1000);
  t.equal((await fetch(`${base}/objects/ab/missing.filez`)).status, 404);
  t.equal((await fetch(`${base}/objects`)).status, 404, 'directories are not listed');
  t.equal((await fetch(`${base}/../../etc/passwd`)).status, 404, 'nothing outside the root');
  t.equal((await fetch(`${base}/config`, { method: 'POST' })).status, 405);
  const head = await fetch(`${base}/config`, { method: 'HEAD' });
  t.equal(head.headers.get('content-length'), '23');
  t.equal(server.bytes, 1000, 'only body bytes of GETs count');
  t.same(
    server.requests.map((q) => [q.path, q.status]),
    [
      ['/objects/ab/cdef.filez', 200],
      ['/objects/ab/missing.filez', 404],
      ['/objects', 404],
      ['/etc/passwd', 404],
      ['/config', 405],
      ['/config', 200],
    ],
  );
  server.reset();
  t.equal(server.bytes, 0);
});

t.test('throttles, reports progress, and can switch to another directory', async (t) => {
  const good = repoDir(t, 'g'.repeat(8192));
  const bad = join(good, 'tampered');
  mkdirSync(join(bad, 'objects/ab'), { recursive: true });
  writeFileSync(join(bad, 'objects/ab/cdef.filez'), 'bad');
  const server = new RepoServer(good);
  const port = await server.listen();
  t.teardown(() => server.close());
  server.throttle = 16 * 1024;
  const seen: number[] = [];
  server.onBytes = (n) => seen.push(n);
  const start = Date.now();
  t.equal((await (await fetch(`http://127.0.0.1:${port}/objects/ab/cdef.filez`)).text()).length, 8192);
  t.ok(Date.now() - start >= 400, 'about half a second for 8 KiB at 16 KiB/s');
  t.ok(seen.length > 1 && seen.at(-1) === 8192, 'progress after each chunk');
  server.root = bad;
  t.equal(await (await fetch(`http://127.0.0.1:${port}/objects/ab/cdef.filez`)).text(), 'bad');
});

t.test('serve-repo (make serve): serves a repository until interrupted, then prints the totals', async (t) => {
  const dir = repoDir(t, 'y'.repeat(100));
  const bin = join(import.meta.dirname, '../dist/serve-bin.js');
  const child = spawn(process.execPath, [bin, '--port', '0', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve) =>
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
      if (m) resolve(m[1]!);
    }),
  );
  t.equal((await (await fetch(`${url}objects/ab/cdef.filez`)).text()).length, 100);
  await new Promise((r) => setTimeout(r, 700));
  child.kill('SIGINT');
  const code = await new Promise((r) => child.once('exit', r));
  t.equal(code, 130, 'exits 130 when interrupted');
  t.match(stderr, /200 100 \/objects\/ab\/cdef\.filez/, 'logs each request with its bytes');
  t.match(stderr, /1 requests, 100 bytes/);

  const notRepo = spawnSync(process.execPath, [bin, t.testdir({})], { encoding: 'utf8' });
  t.equal(notRepo.status, 2, 'a directory without a config file is a usage error');
  t.match(notRepo.stderr, /not an OSTree repository/);
});

t.test('a client that goes away mid-file is not an error', async (t) => {
  const server = new RepoServer(repoDir(t, 'z'.repeat(64 * 1024)));
  const port = await server.listen();
  t.teardown(() => server.close());
  server.throttle = 16 * 1024;
  const ac = new AbortController();
  server.onBytes = (n) => n >= 4096 && ac.abort();
  const r = await fetch(`http://127.0.0.1:${port}/objects/ab/cdef.filez`, { signal: ac.signal });
  await r.text().catch(() => 'aborted');
  await new Promise((res) => setTimeout(res, 500));
  t.ok(
    server.bytes >= 4096 && server.bytes < 64 * 1024,
    `counted what was sent before the cut (${server.bytes} bytes)`,
  );
  t.equal((await fetch(`http://127.0.0.1:${port}/config`)).status, 200, 'the server still serves');
});
