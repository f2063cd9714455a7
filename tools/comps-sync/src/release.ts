/**
 * The root of trust: dists/<suite>/InRelease, checked with gpgv against the
 * Debian archive keyring as apt does (at least one good signature from the
 * keyring, no bad one), then its SHA256 list pins every index we read.
 */
import { resolve } from 'node:path';
import { run, ToolError } from '@debian-atomic/lib';
import { parseDeb822, positionedError } from './deb822.js';
import { openRegularFile } from '@debian-atomic/lib';

export const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

export interface ReleaseFile {
  suite: string | undefined;
  codename: string | undefined;
  date: string | undefined;
  validUntil: string | undefined;
  architectures: string[];
  acquireByHash: boolean;
  /** path (main/binary-amd64/Packages.xz) → checksum and size. */
  sha256: Map<string, { sha256: string; size: number }>;
}

export interface VerifiedRelease {
  text: string;
  /** Primary key fingerprints of the good signatures. */
  signers: string[];
}

/**
 * Verify a clearsigned InRelease and return the signed text only (never the
 * bytes around the signature block). `source` names it in errors (its URL).
 */
export async function verifyInRelease(signed: Uint8Array, keyring: string, source: string): Promise<VerifiedRelease> {
  const ring = resolve(keyring); // gpgv reads a bare name relative to ~/.gnupg
  // gpgv would block on a FIFO and read /dev/zero forever: a keyring is a regular file.
  try {
    await (await openRegularFile(ring, 'keyring')).close();
  } catch (err) {
    if (err instanceof ToolError && / no such file$/.test(err.summary)) {
      throw new ToolError('keyring', `keyring ${ring} not found`, {
        hint: 'install debian-archive-keyring, or pass --keyring FILE',
        exitCode: 2,
      });
    }
    throw err;
  }
  const res = await run('gpgv', ['--status-fd', '2', '--keyring', ring, '--output', '-', '-'], {
    input: signed,
    allowExitCodes: [1, 2],
    providedBy: 'gpgv',
    what: `verify ${source}`,
  });
  const status = res.stderr
    .split('\n')
    .filter((l) => l.startsWith('[GNUPG:] '))
    .map((l) => l.slice(9).split(' '));
  const bad = status.filter((s) => s[0] === 'BADSIG');
  const signers: string[] = [];
  let good = false;
  for (const s of status) {
    if (s[0] === 'NEWSIG') good = false;
    else if (s[0] === 'GOODSIG') good = true;
    else if (s[0] === 'VALIDSIG' && good) signers.push(s[s.length - 1]!);
  }
  if (bad.length > 0) {
    throw new ToolError(
      'bad-signature',
      `${source}: BAD signature from ${bad.map((s) => s.slice(2).join(' ')).join(', ')}`,
      {
        hint: 'the file was altered or corrupted in transit; do not use this mirror until it is fixed',
      },
    );
  }
  if (signers.length === 0) {
    const missing = status.filter((s) => s[0] === 'NO_PUBKEY').map((s) => s[1]);
    const why = missing.length
      ? `signed only by keys not in ${ring}: ${missing.join(', ')}`
      : status.some((s) => s[0] === 'NODATA')
        ? 'not a signed file'
        : 'no good signature';
    throw new ToolError('unverified', `${source}: cannot verify: ${why}`, {
      hint: missing.length ? 'a newer debian-archive-keyring may have the key; pass it with --keyring FILE' : undefined,
      detail:
        res.stderr
          .split('\n')
          .filter((l) => l.startsWith('gpgv:'))
          .join('\n') || undefined,
    });
  }
  return { text: res.stdout, signers };
}

export function parseRelease(text: string, file: string): ReleaseFile {
  const st = parseDeb822(text, file)[0];
  const f = (k: string) => st?.fields.get(k)?.value;
  const sha256 = new Map<string, { sha256: string; size: number }>();
  const sums = st?.fields.get('sha256');
  // " <sha256> <size> <path>", one per continuation line (the first line is empty).
  sums?.value.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const m = /^([0-9a-f]{64})\s+(\d{1,15})\s+(\S+)$/.exec(line.trim());
    if (!m) {
      throw positionedError({
        file,
        line: sums.line + i,
        col: i === 0 ? sums.col : 2,
        message: `malformed SHA256 entry ${JSON.stringify(line.trim().slice(0, 120))} (expected: SHA256 size path)`,
      });
    }
    sha256.set(m[3]!, { sha256: m[1]!, size: Number(m[2]) });
  });
  if (sha256.size === 0)
    throw new ToolError('release', `${file}: no SHA256 checksums in the Release file`, { exitCode: 2 });
  return {
    suite: f('suite'),
    codename: f('codename'),
    date: f('date'),
    validUntil: f('valid-until'),
    architectures: (f('architectures') ?? '').split(/\s+/).filter(Boolean),
    acquireByHash: f('acquire-by-hash') === 'yes',
    sha256,
  };
}

/** apt's checks: the suite asked for, not yet expired (a stale or replayed Release). */
export function checkRelease(
  rel: ReleaseFile,
  suite: string,
  source: string,
  now: Date,
  allowExpired: boolean,
): string[] {
  const warnings: string[] = [];
  if (rel.codename !== suite && rel.suite !== suite) {
    throw new ToolError(
      'wrong-suite',
      `${source}: is for ${rel.codename ?? rel.suite ?? 'an unnamed suite'}, not ${suite}`,
      {
        hint: 'the mirror answered with another suite; check --mirror and --suite',
      },
    );
  }
  if (rel.validUntil) {
    const until = Date.parse(rel.validUntil);
    if (Number.isNaN(until)) throw new ToolError('release', `${source}: unreadable Valid-Until: ${rel.validUntil}`);
    if (until < now.getTime()) {
      const msg = `${source}: expired on ${rel.validUntil} (the mirror's copy of ${suite} is stale)`;
      if (!allowExpired)
        throw new ToolError('expired', msg, {
          hint: 'use an up-to-date mirror, or pass --allow-expired to use it anyway (signatures are still checked)',
        });
      warnings.push(msg);
    }
  }
  return warnings;
}
