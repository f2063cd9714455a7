import t from 'tap';
import { spawn, execFileSync } from 'node:child_process';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { bin, gpgKey, ostree, ostreeVersion, runCli, smallTree } from './fixtures/helpers.js';

const EPOCH = '1763812800'; // 2025-11-22T12:00:00Z
const env = { SOURCE_DATE_EPOCH: EPOCH };
const REF = 'debian/13/x86_64/test';

t.test('commits a tree with version, metadata and ref; unchanged content makes no commit', async (t) => {
  const dir = t.testdir({});
  const tree = await smallTree(join(dir, 'tree'), {
    ref: REF,
    'automatic-version-prefix': '13',
    'add-commit-metadata': { 'debian-atomic.variant': 'test', 'x.flag': true },
  });
  const repo = join(dir, 'repo');
  const first = runCli(['--repo', repo, tree], env);
  t.equal(first.status, 0, first.stderr);
  const r1 = first.json();
  t.match(r1, {
    ref: REF,
    changed: true,
    parent: null,
    version: '13.20251122.0',
    mode: 'archive',
    timestamp: 1763812800,
    signed: false,
    delta: null,
  });
  t.match(r1.commit, /^[0-9a-f]{64}$/);
  t.equal((await ostree(repo, 'rev-parse', REF)).trim(), r1.commit);
  t.match(await ostree(repo, 'ls', REF, '/usr/etc'), /os-release/);
  const meta = await ostree(repo, 'show', REF);
  t.match(meta, /Date:\s+2025-11-22 12:00:00 \+0000/);
  t.match(await ostree(repo, 'show', '--print-metadata-key=ostree.linux', REF), /6\.12\.0-1-amd64/);
  t.match(await ostree(repo, 'show', '--print-metadata-key=debian-atomic.variant', REF), /'test'/);
  t.match(await ostree(repo, 'show', '--print-metadata-key=x.flag', REF), /true/);

  const same = runCli(['--repo', repo, tree], env).json();
  t.match(same, { changed: false, commit: r1.commit, version: '13.20251122.0' });

  await writeFile(join(tree, 'usr/bin/hello'), '#!/bin/sh\necho hello, world\n');
  const second = runCli(['--repo', repo, '--delta', tree], env);
  t.equal(second.status, 0, second.stderr);
  const r2 = second.json();
  t.match(r2, { changed: true, parent: r1.commit, version: '13.20251122.1' });
  t.equal(r2.delta, `${r1.commit}-${r2.commit}`);
  t.match(await ostree(repo, 'static-delta', 'list'), new RegExp(`${r1.commit}-${r2.commit}`));
  await ostree(repo, 'fsck');
});

t.test(
  'mutate-os-release: the version lands in os-release, the tree is untouched, an unchanged tree makes no commit',
  async (t) => {
    const dir = t.testdir({});
    const tree = await smallTree(join(dir, 'tree'), {
      ref: REF,
      'automatic-version-prefix': '13',
      'mutate-os-release': '13',
    });
    await writeFile(
      join(tree, 'usr/lib/os-release'),
      'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION="13 (trixie)"\n',
    );
    const repo = join(dir, 'repo');
    const r1 = runCli(['--repo', repo, tree], env).json();
    t.match(r1, { changed: true, version: '13.20251122.0' });
    t.equal(
      await ostree(repo, 'cat', REF, '/usr/lib/os-release'),
      'PRETTY_NAME="Debian GNU/Linux 13.20251122.0 (trixie)"\nVERSION="13.20251122.0 (trixie)"\nOSTREE_VERSION=\'13.20251122.0\'\n',
    );
    t.equal(
      await readFile(join(tree, 'usr/lib/os-release'), 'utf8'),
      'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION="13 (trixie)"\n',
      'the tree is not modified',
    );
    t.match(await ostree(repo, 'ls', REF, '/usr/bin/hello'), /hello/, 'the tree itself is in the commit');
    const again = runCli(['--repo', repo, tree], env).json();
    t.match(again, { changed: false, commit: r1.commit, version: '13.20251122.0' });
    await writeFile(join(tree, 'usr/bin/hello'), 'changed');
    const r2 = runCli(['--repo', repo, tree], env).json();
    t.match(r2, { changed: true, parent: r1.commit, version: '13.20251122.1' });
    t.match(await ostree(repo, 'cat', REF, '/usr/lib/os-release'), /VERSION="13\.20251122\.1 \(trixie\)"/);
  },
);

t.test('reproducible: same tree and SOURCE_DATE_EPOCH give the same checksum in fresh repos', async (t) => {
  const dir = t.testdir({});
  const tree = await smallTree(join(dir, 'tree'), { ref: REF });
  const a = runCli(['--repo', join(dir, 'a'), tree], env).json();
  const b = runCli(['--repo', join(dir, 'b'), tree], env).json();
  t.equal(a.commit, b.commit);
  // No ostree.sizes (compressed sizes only an archive repository has): the mode does not change the commit.
  const c = runCli(['--repo', join(dir, 'c'), '--mode', 'bare-user', tree], env).json();
  t.equal(c.mode, 'bare-user');
  t.equal(c.commit, a.commit, 'a bare-user repository makes the same commit as an archive one');
  await t.rejects(ostree(join(dir, 'a'), 'show', '--print-metadata-key=ostree.sizes', a.commit), 'no ostree.sizes');
  const e = runCli(['--repo', join(dir, 'e'), tree], { SOURCE_DATE_EPOCH: '1763812801' }).json();
  t.not(e.commit, a.commit, 'the timestamp is part of the commit');

  // A new archive repository compresses at zlib level 1 unless told: the commit is the same.
  t.equal((await ostree(join(dir, 'a'), 'config', 'get', 'archive.zlib-level')).trim(), '1');
  const z = runCli(['--repo', join(dir, 'z'), '--zlib-level', '9', tree], env).json();
  t.equal(z.commit, a.commit, 'the compression level does not change the commit');
  t.equal((await ostree(join(dir, 'z'), 'config', 'get', 'archive.zlib-level')).trim(), '9');
  const kept = runCli(['--repo', join(dir, 'z'), '--zlib-level', '2', tree], env).json();
  t.equal(kept.changed, false);
  t.equal(
    (await ostree(join(dir, 'z'), 'config', 'get', 'archive.zlib-level')).trim(),
    '9',
    "an existing repository's level is its own",
  );
  const bad = runCli(['--repo', join(dir, 'bad'), '--zlib-level', '0', tree], env);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /--zlib-level 0: expected a whole number from 1 to 9/);
});

t.test('GPG-signed commits: a pull that verifies accepts the right key and refuses another', async (t) => {
  const dir = t.testdir({});
  const tree = await smallTree(join(dir, 'tree'), { ref: REF });
  // gpg-agent's socket path must stay short: GnuPG homes under /tmp, not in the long fixture path.
  const gnupg = mkdtempSync('/tmp/da-gpg-');
  const gnupgOther = mkdtempSync('/tmp/da-gpg-');
  t.teardown(() => {
    rmSync(gnupg, { recursive: true, force: true });
    rmSync(gnupgOther, { recursive: true, force: true });
  });
  const { keyId, pubKey } = await gpgKey(gnupg, 'Debian Atomic Test <test@example.invalid>');
  const other = await gpgKey(gnupgOther, 'Someone Else <else@example.invalid>');
  const repo = join(dir, 'repo');
  const r = runCli(['--repo', repo, '--gpg-sign', keyId, '--gpg-homedir', gnupg, tree], env);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.json().signed, true);
  for (const [name, key, ok] of [
    ['good', pubKey, true],
    ['bad', other.pubKey, false],
  ] as const) {
    const client = join(dir, `client-${name}`);
    const keyCopy = join(dir, `${name}.asc`);
    await writeFile(keyCopy, await readFile(key));
    await ostree(client, 'init', '--mode=bare-user');
    await ostree(client, 'remote', 'add', '--set=gpg-verify=true', 'origin', `file://${repo}`);
    await ostree(client, 'remote', 'gpg-import', 'origin', '-k', keyCopy);
    const pull = ostree(client, 'pull', 'origin', REF);
    if (ok) t.ok(await pull, 'pull with the signing key verifies');
    else
      t.match(
        await pull.catch((e: unknown) => e),
        { detail: /Can't check signature: public key not found/ },
        'pull with another key is refused',
      );
  }
  const noGpg = runCli(['--repo', repo, '--gpg-homedir', gnupg, tree], env);
  t.equal(noGpg.status, 2);
});

t.test('ed25519 signing: verified where ostree supports it, a clear error where it does not', async (t) => {
  const dir = t.testdir({});
  const tree = await smallTree(join(dir, 'tree'), { ref: REF });
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, 'key.pem')]);
  const pub = execFileSync('openssl', ['pkey', '-outform', 'DER', '-pubout', '-in', join(dir, 'key.pem')]).subarray(
    -32,
  );
  const seed = execFileSync('openssl', ['pkey', '-outform', 'DER', '-in', join(dir, 'key.pem')]).subarray(-32);
  await mkdir(join(dir, 'keys'));
  await writeFile(join(dir, 'keys/secret'), Buffer.concat([seed, pub]).toString('base64') + '\n', { mode: 0o600 });
  await writeFile(join(dir, 'keys/public'), pub.toString('base64') + '\n');
  const features = await ostreeVersion();
  const r = runCli(['--repo', join(dir, 'repo'), '--sign-key', join(dir, 'keys/secret'), tree], env);
  if (features.includes('sign-ed25519')) {
    t.equal(r.status, 0, r.stderr);
    const verify = await ostree(
      join(dir, 'repo'),
      'sign',
      '--verify',
      '--sign-type=ed25519',
      `--keys-file=${join(dir, 'keys/public')}`,
      String(r.json().commit),
    );
    t.match(verify, /verified/i);
  } else {
    t.equal(r.status, 1);
    t.match(r.stderr, /built without ed25519 signing/);
    t.match(r.stderr, /hint: sign with GPG instead/);
    t.equal(await ostree(join(dir, 'repo'), 'refs').catch(() => ''), '', 'nothing was committed');
  }
});

t.test('clear errors for bad input', async (t) => {
  const dir = t.testdir({});
  const noRef = await smallTree(join(dir, 'noref'));
  const r = runCli(['--repo', join(dir, 'repo'), noRef], env);
  t.equal(r.status, 2);
  t.match(r.stderr, /^ostree-commit: no ref: give --ref/);
  const withEtc = await smallTree(join(dir, 'etc'), { ref: REF });
  await mkdir(join(withEtc, 'etc'));
  const e = runCli(['--repo', join(dir, 'repo'), withEtc], env);
  t.equal(e.status, 1);
  t.match(e.stderr, /\/etc is a directory: run usr-unify/);
  t.equal(runCli(['--repo', join(dir, 'repo'), join(dir, 'missing')], env).status, 2);
  t.equal(runCli([join(dir, 'x')]).status, 2, '--repo is required');
  const badEpoch = runCli(['--repo', join(dir, 'repo'), noRef], { SOURCE_DATE_EPOCH: 'yesterday' });
  t.equal(badEpoch.status, 2);
  t.match(badEpoch.stderr, /SOURCE_DATE_EPOCH=yesterday/);
  t.notMatch(r.stderr + e.stderr, /\n\s+at /);
});

t.test('SIGKILL mid-commit leaves the ref where it was', async (t) => {
  const dir = t.testdir({});
  const tree = await smallTree(join(dir, 'tree'), { ref: REF });
  const repo = join(dir, 'repo');
  const v1 = runCli(['--repo', repo, tree], env).json();
  // Enough incompressible content that the archive commit takes seconds.
  for (let i = 0; i < 400; i++) {
    await mkdir(join(tree, 'usr/share/blob', String(i % 20)), { recursive: true });
    await writeFile(join(tree, 'usr/share/blob', String(i % 20), `f${i}`), randomBytes(256 * 1024));
  }
  const child = spawn('node', [bin, '--repo', repo, tree], {
    env: { ...process.env, ...env },
    detached: true,
    stdio: 'ignore',
  });
  await new Promise((r) => setTimeout(r, 1500));
  const alive = child.exitCode === null;
  process.kill(-child.pid!, 'SIGKILL');
  await new Promise((r) => child.on('exit', r));
  t.ok(alive, 'the commit was still running when killed');
  t.equal((await ostree(repo, 'rev-parse', REF)).trim(), v1.commit, 'ref unchanged');
  await ostree(repo, 'fsck');
  const v2 = runCli(['--repo', repo, tree], env);
  t.equal(v2.status, 0, 'a rerun completes');
  t.equal(v2.json().parent, v1.commit);
  t.ok((await readFile(join(tree, 'usr/bin/hello'))).length > 0);
});
