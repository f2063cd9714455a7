/** mmdebstrap/apt failures, turned into one clear error naming what was wrong. */
import { ToolError } from '@debian-atomic/lib';
import type { ResolvedTreefile } from '@debian-atomic/treefile-lint';

export function explainMmdebstrapFailure(stderr: string, tf: ResolvedTreefile, fallback: ToolError): ToolError {
  const where = `${tf.suite}/${tf.architecture}`;
  const unknown = [...stderr.matchAll(/E: Unable to locate package (\S+)/g)].map((m) => m[1]!);
  if (unknown.length)
    return new ToolError(
      'unknown-package',
      `unknown package${unknown.length > 1 ? 's' : ''} ${[...new Set(unknown)].join(', ')} (not in ${where} of ${tf.repos.map((r) => r.mirror).join(', ')})`,
      {
        hint: 'check the names in the treefile (apt-cache policy NAME on a machine with that suite)',
      },
    );
  const noCandidate = /E: Package '([^']+)' has no installation candidate/.exec(stderr);
  if (noCandidate)
    return new ToolError(
      'unknown-package',
      `package ${noCandidate[1]} has no installation candidate in ${where} (excluded, or only referenced)`,
    );
  const broken = /The following packages have unmet dependencies:([\s\S]*?)E: /.exec(stderr);
  if (broken)
    return new ToolError('unmet-dependencies', `packages have unmet dependencies in ${where}`, {
      detail: broken[1]!.trim(),
      hint: 'an exclude-packages entry may be needed by another package',
    });
  const key =
    /(NO_PUBKEY \S+|is not signed|The following signatures couldn't be verified[^\n]*|keyring[^\n]*(not found|No such file)[^\n]*|signed-by[^\n]*No such file[^\n]*)/i.exec(
      stderr,
    );
  if (key)
    return new ToolError('bad-keyring', `the repository signature could not be verified: ${key[1]}`, {
      hint: `check the repos' keyring (${tf.repos.map((r) => r.keyring ?? 'default').join(', ')})`,
    });
  const expired = /Release file for (\S+) is expired/.exec(stderr);
  if (expired)
    return new ToolError('release-expired', `the mirror's Release file is expired: ${expired[1]}`, {
      hint: 'the mirror is stale (or replayed); --allow-expired accepts it anyway',
    });
  const fetch =
    /(Could not resolve '[^']+'|Failed to fetch \S+[^\n]*|Could not connect to [^\n]+|Unable to connect to [^\n]+|Temporary failure resolving '[^']+')/.exec(
      stderr,
    );
  if (fetch)
    return new ToolError('mirror-unreachable', `cannot reach the mirror: ${fetch[1]}`, {
      hint: `mirror(s): ${tf.repos.map((r) => r.mirror).join(', ')}`,
    });
  const release =
    /E: The repository '([^']+)' does not have a Release file/.exec(stderr) ??
    /(\S+\/dists\/\S+\/(In)?Release)\s+404/.exec(stderr);
  if (release) return new ToolError('no-such-suite', `the mirror has no suite ${tf.suite}: ${release[1]}`);
  const dpkg = /dpkg: error processing package (\S+) \(([^)]+)\):\n([^\n]*)/.exec(stderr);
  if (dpkg) {
    const before = stderr.slice(0, dpkg.index).trimEnd().split('\n').slice(-8).join('\n');
    return new ToolError(
      'package-script-failed',
      `package ${dpkg[1]} failed to ${dpkg[2]!.replace(/^--/, '')}: ${dpkg[3]!.trim()}`,
      { detail: before },
    );
  }
  const errors = stderr.split('\n').filter((l) => /^(E|W): /.test(l) && !/RealFileExists/.test(l));
  if (errors.length) return new ToolError(fallback.code, fallback.summary, { detail: errors.slice(-12).join('\n') });
  return fallback;
}
