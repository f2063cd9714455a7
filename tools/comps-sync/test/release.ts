import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ToolError } from '@debian-atomic/lib';
import { checkRelease, DEFAULT_KEYRING, parseRelease, verifyInRelease } from '../src/release.js';
import { makeKey } from './fixtures/mirror.js';

const RELEASE = `Origin: Debian
Suite: testing
Codename: forky
Date: Fri, 30 Oct 2026 08:08:01 UTC
Valid-Until: Fri, 06 Nov 2026 08:08:01 UTC
Acquire-By-Hash: yes
Architectures: all amd64 arm64
SHA256:
 7778d3e3f303b7ddb8ce0fe7c8d57473a076c6bf2e8f241f75421d2396352498  9678380 main/binary-amd64/Packages.xz
 be16b37b2f740f066ea93d35d56f04f94d63693e5a3eb421b052bf86fae75bcd  9614192 main/binary-arm64/Packages.xz
`;

t.test('parse a Release file', async (t) => {
  const r = parseRelease(RELEASE, 'InRelease');
  t.equal(r.codename, 'forky');
  t.equal(r.suite, 'testing');
  t.equal(r.acquireByHash, true);
  t.same(r.architectures, ['all', 'amd64', 'arm64']);
  t.same(r.sha256.get('main/binary-arm64/Packages.xz'), {
    sha256: 'be16b37b2f740f066ea93d35d56f04f94d63693e5a3eb421b052bf86fae75bcd',
    size: 9614192,
  });
  t.throws(() => parseRelease('Origin: Debian\n', 'R'), { message: 'R: no SHA256 checksums in the Release file' });
});

t.test('suite and Valid-Until checks', async (t) => {
  const r = parseRelease(RELEASE, 'InRelease');
  const before = new Date('2026-11-01T00:00:00Z');
  const after = new Date('2026-11-22T00:00:00Z');
  t.same(checkRelease(r, 'forky', 'U', before, false), []);
  t.same(checkRelease(r, 'testing', 'U', before, false), [], 'the suite name works too');
  const wrong = t.throws(() => checkRelease(r, 'trixie', 'U', before, false)) as unknown as ToolError;
  t.equal(wrong.summary, 'U: is for forky, not trixie');
  const expired = t.throws(() => checkRelease(r, 'forky', 'U', after, false)) as unknown as ToolError;
  t.equal(expired.code, 'expired');
  t.match(expired.summary, /expired on Fri, 06 Nov 2026 08:08:01 UTC/);
  t.match(expired.hint, /--allow-expired/);
  t.match(checkRelease(r, 'forky', 'U', after, true), [/expired/]);
  t.throws(() => checkRelease({ ...r, validUntil: 'someday' }, 'forky', 'U', after, false), {
    message: /unreadable Valid-Until/,
  });
  t.same(checkRelease({ ...r, validUntil: undefined }, 'forky', 'U', after, false), []);
  t.throws(() => checkRelease({ ...r, codename: undefined, suite: undefined }, 'forky', 'U', after, false), {
    message: 'U: is for an unnamed suite, not forky',
  });
});

t.test('gpgv verification (a throwaway key, real gpg)', async (t) => {
  const key = await makeKey();
  t.teardown(() => key.close());
  const signed = await key.clearsign(RELEASE);
  const ok = await verifyInRelease(Buffer.from(signed), key.keyring, 'InRelease');
  t.equal(ok.text, RELEASE);
  t.equal(ok.signers.length, 1);
  t.match(ok.signers[0], /^[0-9A-F]{40}$/);

  // bytes outside the signed block never reach the parser
  const padded = await verifyInRelease(Buffer.from(signed + 'Codename: evil\n'), key.keyring, 'InRelease');
  t.equal(padded.text, RELEASE);

  const tampered = Buffer.from(signed.replace('Codename: forky', 'Codename: evil'));
  const bad = (await verifyInRelease(tampered, key.keyring, 'URL').catch((e: unknown) => e)) as ToolError;
  t.equal(bad.code, 'bad-signature');
  t.match(bad.summary, /^URL: BAD signature from comps-sync test/);

  const other = (await verifyInRelease(Buffer.from(signed), DEFAULT_KEYRING, 'URL').catch(
    (e: unknown) => e,
  )) as ToolError;
  t.equal(other.code, 'unverified');
  t.match(
    other.summary,
    /^URL: cannot verify: signed only by keys not in \/usr\/share\/keyrings\/debian-archive-keyring\.gpg: [0-9A-F]{16}$/,
  );
  t.match(other.hint, /--keyring/);

  const unsigned = (await verifyInRelease(Buffer.from(RELEASE), key.keyring, 'URL').catch(
    (e: unknown) => e,
  )) as ToolError;
  t.equal(unsigned.summary, 'URL: cannot verify: not a signed file');

  const noRing = (await verifyInRelease(Buffer.from(signed), '/nonexistent/ring.gpg', 'URL').catch(
    (e: unknown) => e,
  )) as ToolError;
  t.equal(noRing.summary, 'keyring /nonexistent/ring.gpg not found');
  t.equal(noRing.exitCode, 2);
});

t.test('malformed SHA256 lists are positioned input errors', async (t) => {
  const bad = (sums: string) =>
    t.throws(() => parseRelease(`Codename: forky\nSHA256:\n${sums}`, 'R')) as unknown as ToolError;
  const nonHex = bad(` ${'z'.repeat(64)} 12 main/binary-amd64/Packages.xz\n`);
  t.equal(
    nonHex.summary,
    `R:3:2: malformed SHA256 entry "${'z'.repeat(64)} 12 main/binary-amd64/Packages.xz" (expected: SHA256 size path)`,
  );
  t.equal(nonHex.exitCode, 2);
  t.match(
    bad(` ${'a'.repeat(64)} 12 main/binary-amd64/Packages.xz\n ${'b'.repeat(64)} -5 main/x\n`).summary,
    /^R:4:2: malformed SHA256 entry/,
  );
  t.match(bad(` ${'a'.repeat(64)} 1e9 main/x\n`).summary, /^R:3:2: /, 'a size is digits');
  t.match(bad(` ${'a'.repeat(64)} 12\n`).summary, /^R:3:2: /, 'no path');
  const inline = t.throws(() => parseRelease(`SHA256: ${'a'.repeat(64)}\n`, 'R')) as unknown as ToolError;
  t.equal(inline.summary, `R:1:9: malformed SHA256 entry "${'a'.repeat(64)}" (expected: SHA256 size path)`);
  const none = t.throws(() => parseRelease('Origin: Debian\n', 'R')) as unknown as ToolError;
  t.equal(none.exitCode, 2);
});

t.test('the keyring must be a regular file (gpgv would block on a FIFO)', async (t) => {
  const dir = t.testdir({ sub: {} });
  execFileSync('mkfifo', [join(dir, 'ring.gpg')]);
  const fifo = (await verifyInRelease(Buffer.from('x'), join(dir, 'ring.gpg'), 'URL').catch(
    (e: unknown) => e,
  )) as ToolError;
  t.equal(fifo.summary, `${join(dir, 'ring.gpg')}: cannot read keyring: a FIFO, expected a regular file`);
  t.equal(fifo.exitCode, 2);
  const sub = (await verifyInRelease(Buffer.from('x'), join(dir, 'sub'), 'URL').catch((e: unknown) => e)) as ToolError;
  t.equal(sub.summary, `${join(dir, 'sub')}: cannot read keyring: is a directory, expected a regular file`);
});
