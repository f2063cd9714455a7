/** The command line of rootfs: check every input, build, print the result. Returns the exit code. */
import { dirname, join, resolve } from 'node:path';
import { cacheDir, cli, type Io, Progress, writeJson } from '@debian-atomic/lib';
import { buildRootfs } from './build.js';
import { checkOutputs, checkTreefileInputs, readTreefileInput } from './inputs.js';
import { installDebsMain } from './install-debs.js';

export const TOOL = 'rootfs';

export async function main(argv: string[], io: Io = process): Promise<number> {
  if (argv[0] === 'install-debs') return installDebsMain(argv.slice(1), TOOL, io.stdout);
  const args = await cli(
    TOOL,
    `$0 --treefile resolved.json|- --output DIR [--cache DIR]\n\nBuild a Debian root filesystem from a resolved treefile (treefile-lint --resolve)\nwith mmdebstrap, then apply it: units, default target, add/remove files,\npostprocess scripts (in the tree, without network). Writes the package manifest\nand the treefile to /usr/share/debian-atomic/. The tree is built beside DIR and\nrenamed into place at the end.\n\n$0 install-debs --root DIR DEB...: install this run's .debs into the tree (see --help there).`,
    argv,
  )
    .option('treefile', { type: 'string', demandOption: true, describe: 'Resolved treefile JSON, or - for stdin' })
    .option('output', { type: 'string', demandOption: true, describe: 'Directory to create (replaced atomically)' })
    .option('cache', {
      type: 'string',
      describe: 'apt archive cache kept between builds',
      default: join(cacheDir(), 'apt'),
    })
    .option('allow-expired', {
      type: 'boolean',
      default: false,
      describe:
        'Accept a Release file past its Valid-Until (a frozen mirror snapshot; testing suites expire within days)',
    })
    .option('incremental', {
      type: 'boolean',
      default: false,
      describe:
        "Start from the cached tree of the same inputs and apt-install only the added packages (mkosi's --incremental; the tree is not byte-identical to a cold build)",
    })
    .option('trees', {
      type: 'string',
      describe: 'Where --incremental keeps its trees (default: trees/ beside --cache)',
    })
    .example('treefile-lint --resolve variants/treefiles/base.yaml | $0 --treefile - --output build/base/rootfs', '')
    .parseAsync();
  // Every input is checked before any build work: a bad one is found in seconds, not after mmdebstrap.
  const trees = args.trees ?? join(dirname(resolve(args.cache)), 'trees');
  await checkOutputs(args.output, args.cache, args.incremental ? trees : undefined);
  const tf = await readTreefileInput(args.treefile, io.stdin);
  await checkTreefileInputs(tf);
  const result = await buildRootfs(
    tf,
    args.output,
    args.cache,
    new Progress(TOOL, { quiet: args.quiet }),
    args['allow-expired'],
    args.incremental ? { trees, note: (m: string) => args.quiet || io.stderr.write(`${TOOL}: ${m}\n`) } : undefined,
  );
  writeJson(result, io.stdout);
  return 0;
}
