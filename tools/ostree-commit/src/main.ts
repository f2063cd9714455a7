/** The command line of ostree-commit: the options and SOURCE_DATE_EPOCH checked, then one commit. Returns the exit code. */
import { cli, type Io, Progress, usageError, writeJson } from '@debian-atomic/lib';
import { commitTree, REPO_MODES, type RepoMode } from './commit.js';

export const TOOL = 'ostree-commit';

export async function main(argv: string[], io: Io = process): Promise<number> {
  const args = await cli(
    TOOL,
    `$0 --repo REPO [--ref REF] [--mode archive|bare-user] [--gpg-sign KEYID --gpg-homedir DIR] [--delta] DIR\n\nCommit an OSTree-ready tree (see usr-unify) to REPO with the real ostree.\nThe ref and version prefix come from the tree's /usr/share/debian-atomic/treefile.json\nunless given; the timestamp is SOURCE_DATE_EPOCH. Prints {ref, commit, parent, version, ...}.`,
    argv,
  )
    .option('repo', { type: 'string', demandOption: true, describe: 'OSTree repository (created if missing)' })
    .option('ref', { type: 'string', describe: 'Branch to commit to (default: the treefile ref)' })
    .option('mode', {
      choices: REPO_MODES,
      default: 'archive' as RepoMode,
      describe: 'Mode for a new repository (archive can be served over HTTP)',
    })
    .option('zlib-level', {
      type: 'number',
      default: 1,
      describe:
        "zlib level (1-9) of a new archive repository's objects (archive.zlib-level; ostree's default is 6: twice the commit time for 4 % smaller objects)",
    })
    .option('sign-key', {
      type: 'string',
      describe: 'ed25519 secret key file (base64, as ostree sign uses; needs an ostree built with ed25519)',
    })
    .option('gpg-sign', { type: 'string', describe: 'GPG key id to sign the commit and summary with' })
    .option('gpg-homedir', { type: 'string', describe: 'GnuPG home directory holding that key' })
    .option('delta', { type: 'boolean', default: false, describe: 'Generate a static delta from the parent commit' })
    .option('subject', { type: 'string', describe: 'Commit subject' })
    .demandCommand(1, 1, 'DIR is required', 'exactly one DIR')
    .example('$0 --repo build/repo build/base/rootfs', 'commit to the treefile ref')
    .parseAsync();
  const epochText = process.env.SOURCE_DATE_EPOCH ?? String(Math.floor(Date.now() / 1000));
  const epoch = Number(epochText);
  // Up to the year 9999: a larger number makes no date (and no version) at all.
  if (!/^\d{1,12}$/.test(epochText) || epoch > 253402300799)
    throw usageError(`SOURCE_DATE_EPOCH=${epochText.slice(0, 40)}: expected seconds since 1970 (at most 253402300799)`);
  const zlibLevel = args['zlib-level'];
  if (!Number.isInteger(zlibLevel) || zlibLevel < 1 || zlibLevel > 9)
    throw usageError(`--zlib-level ${String(zlibLevel)}: expected a whole number from 1 to 9`);
  const result = await commitTree({
    repo: args.repo,
    tree: String(args._[0]),
    ref: args.ref,
    mode: args.mode,
    zlibLevel,
    signKey: args['sign-key'],
    gpgSign: args['gpg-sign'],
    gpgHomedir: args['gpg-homedir'],
    delta: args.delta,
    epoch,
    subject: args.subject,
    progress: new Progress(TOOL, { quiet: args.quiet }),
  });
  writeJson(result, io.stdout);
  return 0;
}
