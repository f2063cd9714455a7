/** The command line of oci-wrap: wrap one commit into an OCI layout. Returns the exit code. */
import { cli, type Io, Progress, refOrCommitRecord, usageError, writeJson } from '@debian-atomic/lib';
import { parseOciRef } from './oci.js';
import { wrapCommit } from './wrap.js';

export const TOOL = 'oci-wrap';

export async function main(argv: string[], io: Io = process): Promise<number> {
  const args = await cli(
    TOOL,
    `$0 --repo REPO --ref REF|--commit FILE --output oci:DIR[:TAG] [--max-layers N] [--previous oci:DIR[:TAG]]\n\nWrap an OSTree commit into a bootable OCI image in the ostree container format\n(the layout bootc and rpm-ostree use): the ostree objects and the real paths, one\nlayer per large Debian package, the kernel in its own layer, the commit layer first.`,
    argv,
  )
    .option('repo', {
      type: 'string',
      demandOption: true,
      describe: 'Archive-mode OSTree repository holding the commit',
    })
    .option('ref', { type: 'string', describe: 'Ref (or commit) to wrap' })
    .option('commit', {
      type: 'string',
      requiresArg: true,
      describe: "Instead of --ref: the ref of ostree-commit's record (build/<variant>/commit.json)",
    })
    .option('output', {
      type: 'string',
      demandOption: true,
      describe: 'oci:DIR[:TAG] (TAG defaults to latest); other tags in DIR are kept',
    })
    .option('max-layers', { type: 'number', default: 64, describe: 'At most this many layers (minimum 4)' })
    .option('previous', {
      type: 'string',
      describe: 'oci:DIR[:TAG] of the previous image: keep its package → layer assignment',
    })
    .option('gzip-level', { type: 'number', default: 1, describe: 'gzip level for the layers (1 fast … 9 small)' })
    .example('$0 --repo build/repo --ref debian/13/x86_64/base --output oci:build/base/oci:latest', '')
    .parseAsync();
  const ref = await refOrCommitRecord(args.ref, args.commit);
  if (ref === undefined) throw usageError('give --ref or --commit', `see '${TOOL} --help'`);
  if (!Number.isInteger(args['gzip-level']) || args['gzip-level'] < 0 || args['gzip-level'] > 9)
    throw usageError(`--gzip-level must be 0…9 (got ${args['gzip-level']})`);
  const out = parseOciRef(args.output);
  const result = await wrapCommit({
    repo: args.repo,
    ref,
    dir: out.dir,
    tag: out.tag,
    maxLayers: args['max-layers'],
    previous: args.previous ? parseOciRef(args.previous) : undefined,
    gzipLevel: args['gzip-level'],
    progress: new Progress(TOOL, { quiet: args.quiet }),
  });
  writeJson(result, io.stdout);
  return 0;
}
