#!/usr/bin/env node
import { join } from 'node:path';
import { cacheDir, cli, Progress, runTool, writeJson } from '@debian-atomic/lib';
import { buildRootfs } from './build.js';
import { checkOutputs, checkTreefileInputs, readTreefileInput } from './inputs.js';

const TOOL = 'rootfs';

await runTool(TOOL, async () => {
  const argv = await cli(TOOL, `$0 --treefile resolved.json|- --output DIR [--cache DIR]\n\nBuild a Debian root filesystem from a resolved treefile (treefile-lint --resolve)\nwith mmdebstrap, then apply it: units, default target, add/remove files,\npostprocess scripts (in the tree, without network). Writes the package manifest\nand the treefile to /usr/share/debian-atomic/. The tree is built beside DIR and\nrenamed into place at the end.`)
    .option('treefile', { type: 'string', demandOption: true, describe: 'Resolved treefile JSON, or - for stdin' })
    .option('output', { type: 'string', demandOption: true, describe: 'Directory to create (replaced atomically)' })
    .option('cache', { type: 'string', describe: 'apt archive cache kept between builds', default: join(cacheDir(), 'apt') })
    .option('allow-expired', { type: 'boolean', default: false, describe: "Accept a Release file past its Valid-Until (a frozen mirror snapshot; testing suites expire within days)" })
    .example('treefile-lint --resolve variants/base.yaml | $0 --treefile - --output build/base/rootfs', '')
    .parseAsync();
  // Every input is checked before any build work: a bad one is found in seconds, not after mmdebstrap.
  await checkOutputs(argv.output, argv.cache);
  const tf = await readTreefileInput(argv.treefile);
  await checkTreefileInputs(tf);
  const result = await buildRootfs(tf, argv.output, argv.cache, new Progress(TOOL, { quiet: argv.quiet }), argv['allow-expired']);
  writeJson(result);
  return 0;
});
