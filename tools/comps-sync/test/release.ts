import t from 'tap';
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
  t.same(r.sha256.get('main/binary-arm64/Packages.xz'), { sha256: 'be16b37b2f740f066ea93d35d56f04f94d63693e5a3eb421b052bf86fae75bcd', size: 9614192 });
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
  t.throws(() => checkRelease({ ...r, validUntil: 'someday' }, 'forky', 'U', after, false), { message: /unreadable Valid-Until/ });
  t.same(checkRelease({ ...r, validUntil: undefined }, 'forky', 'U', after, false), []);
  t.throws(() => checkRelease({ ...r, codename: undefined, suite: undefined }, 'forky', 'U', after, false), { message: 'U: is for an unnamed suite, not forky' });
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

  const other = (await verifyInRelease(Buffer.from(signed), DEFAULT_KEYRING, 'URL').catch((e: unknown) => e)) as ToolError;
  t.equal(other.code, 'unverified');
  t.match(other.summary, /^URL: cannot verify: signed only by keys not in \/usr\/share\/keyrings\/debian-archive-keyring\.gpg: [0-9A-F]{16}$/);
  t.match(other.hint, /--keyring/);

  const unsigned = (await verifyInRelease(Buffer.from(RELEASE), key.keyring, 'URL').catch((e: unknown) => e)) as ToolError;
  t.equal(unsigned.summary, 'URL: cannot verify: not a signed file');

  const noRing = (await verifyInRelease(Buffer.from(signed), '/nonexistent/ring.gpg', 'URL').catch((e: unknown) => e)) as ToolError;
  t.equal(noRing.summary, 'keyring /nonexistent/ring.gpg not found');
  t.equal(noRing.exitCode, 2);
});
