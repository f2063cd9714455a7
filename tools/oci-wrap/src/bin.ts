#!/usr/bin/env node
import { cli, Progress, runTool, usageError, writeJson } from '@debian-atomic/lib';
import { parseOciRef } from './oci.js';
import { wrapCommit } from './wrap.js';

const TOOL = 'oci-wrap';

await runTool(TOOL, async () => {
  const argv = await cli(TOOL, `$0 --repo REPO --ref REF --output oci:DIR[:TAG] [--max-layers N] [--previous oci:DIR[:TAG]]\n\nWrap an OSTree commit into a bootable OCI image in the ostree container format\n(the layout bootc and rpm-ostree use): the ostree objects and the real paths, one\nlayer per large Debian package, the kernel in its own layer, the commit layer first.`)
    .option('repo', { type: 'string', demandOption: true, describe: 'Archive-mode OSTree repository holding the commit' })
    .option('ref', { type: 'string', demandOption: true, describe: 'Ref (or commit) to wrap' })
    .option('output', { type: 'string', demandOption: true, describe: 'oci:DIR[:TAG] (TAG defaults to latest); other tags in DIR are kept' })
    .option('max-layers', { type: 'number', default: 64, describe: 'At most this many layers (minimum 4)' })
    .option('previous', { type: 'string', describe: 'oci:DIR[:TAG] of the previous image: keep its package → layer assignment' })
    .option('gzip-level', { type: 'number', default: 1, describe: 'gzip level for the layers (1 fast … 9 small)' })
    .example('$0 --repo build/repo --ref debian/13/x86_64/base --output oci:build/base/oci:latest', '')
    .parseAsync();
  if (!Number.isInteger(argv['gzip-level']) || argv['gzip-level'] < 0 || argv['gzip-level'] > 9) throw usageError(`--gzip-level must be 0…9 (got ${argv['gzip-level']})`);
  const out = parseOciRef(argv.output);
  const result = await wrapCommit({
    repo: argv.repo,
    ref: argv.ref,
    dir: out.dir,
    tag: out.tag,
    maxLayers: argv['max-layers'],
    previous: argv.previous ? parseOciRef(argv.previous) : undefined,
    gzipLevel: argv['gzip-level'],
    progress: new Progress(TOOL, { quiet: argv.quiet }),
  });
  writeJson(result);
  return 0;
});
