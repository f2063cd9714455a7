/**
 * Live: the real deb.debian.org, the real Debian archive keyring, trixie and forky.
 * Not skipped offline: it fails, saying why. Downloads stay in the cache
 * (cacheDir()/comps-sync/by-sha256), so a rerun fetches only the two InRelease files.
 */
import t, { type Test } from 'tap';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { ToolError } from '@debian-atomic/lib';
import { ShaCache } from '../src/cache.js';
import { Excludes } from '../src/exclude.js';
import { HttpError } from '../src/fetch.js';
import { DEFAULT_KEYRING } from '../src/release.js';
import { main } from '../src/main.js';
import { loadFromMirror, type Sources } from '../src/sources.js';
import { taskMembers } from '../src/tasks.js';

const MIRROR = process.env.COMPS_SYNC_LIVE_MIRROR ?? 'http://deb.debian.org/debian';
t.setTimeout(15 * 60_000); // a slow mirror, a cold cache: ~20 MB

async function live(t: Test, suite: string, arches: string[], allowExpired = false): Promise<Sources> {
  const started = Date.now();
  try {
    const s = await loadFromMirror({
      mirror: MIRROR,
      suite,
      arches,
      keyring: DEFAULT_KEYRING,
      allowExpired,
      cache: new ShaCache(),
      http: { timeoutMs: 300_000 },
      progress: (m) => t.comment(m),
    });
    t.comment(`${suite} ${arches.join(',')}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return s;
  } catch (err) {
    if (err instanceof HttpError) {
      throw new Error(`the live test needs ${MIRROR} (set COMPS_SYNC_LIVE_MIRROR for another mirror): ${err.summary}`, {
        cause: err,
      });
    }
    throw err;
  }
}

t.test('trixie: signed by the Debian archive keys, gnome-core is mandatory', async (t) => {
  const s = await live(t, 'trixie', ['amd64', 'arm64']);
  const release = (s.source as { release: { signers: string[] } }).release;
  t.ok(release.signers.length >= 1, `good signatures from ${release.signers.join(', ')}`);
  t.same(
    s.indexes.map((i) => i.arch),
    ['amd64', 'arm64'],
  );
  t.ok(
    s.indexes.every((i) => i.packages.size > 50_000),
    'full indexes',
  );
  t.same(s.tasks.get('gnome-desktop')?.key, ['task-gnome-desktop']);
  const gnome = taskMembers(s.tasks.get('gnome-desktop')!, s.indexes, new Excludes());
  t.same([...gnome.state.members.mandatory.get('gnome-core')!].sort(), ['amd64', 'arm64']);
  t.ok(gnome.state.members.default.has('gnome'));
  const ssh = taskMembers(s.tasks.get('ssh-server')!, s.indexes, new Excludes());
  t.ok(ssh.state.members.mandatory.has('openssh-server'));
  const standard = taskMembers(s.tasks.get('standard')!, s.indexes, new Excludes());
  t.ok(standard.state.members.mandatory.size > 50, `standard: ${standard.state.members.mandatory.size} packages`);
});

t.test('forky: its own tasksel-data; gnome-core is a Recommends there', async (t) => {
  // Valid-Until is checked like apt does; a stale mirror snapshot would fail here, so
  // allow it (with the warning) — the signature and checksums are verified all the same.
  const s = await live(t, 'forky', ['amd64'], true);
  for (const w of s.warnings) t.comment(`warning: ${w}`);
  t.not((s.source as { taskselData: { version: string } }).taskselData.version, '3.81');
  const gnome = taskMembers(s.tasks.get('gnome-desktop')!, s.indexes, new Excludes());
  t.ok(gnome.state.members.default.has('gnome-core'), 'forky moved gnome-core from Depends to Recommends');
  t.notOk(gnome.state.members.mandatory.has('gnome-core'));
});

t.test('the tool end to end: check, save, in sync', async (t) => {
  const dir = t.testdir({ 'tasks.yaml': '# live\ntasks: {}\n' });
  const file = join(dir, 'tasks.yaml');
  const run = async (args: string[]) => {
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    let stderr = '';
    out.on('data', (c: Buffer) => (stdout += c.toString()));
    err.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await main([...args, '--mirror', MIRROR, file], { stdout: out, stderr: err }).catch((e: unknown) => {
      if (e instanceof ToolError && e.code === 'fetch') throw new Error(`the live test needs ${MIRROR}: ${e.summary}`);
      throw e;
    });
    return { code, json: JSON.parse(stdout) as { drift: boolean; source: { release: { signers: string[] } } }, stderr };
  };
  const check = await run(['--suite', 'trixie', '--task', 'ssh-server']);
  t.equal(check.code, 1);
  t.match(check.stderr, /^Syncing task ssh-server: \+3, -0 \(new\)\n  \+ openssh-server \(mandatory/m);
  t.ok(check.json.source.release.signers.length > 0);
  t.equal((await run(['--suite', 'trixie', '--task', 'ssh-server', '--save'])).code, 0);
  const again = await run(['--suite', 'trixie']);
  t.equal(again.code, 0);
  t.equal(again.json.drift, false);
});
