#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir, cli, inputError, Progress, runTool, writeJson } from '@debian-atomic/lib';
import { resolvedTreefileSchema } from '@debian-atomic/treefile-lint';
import { buildRootfs } from './build.js';

const TOOL = 'rootfs';

async function readInput(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw inputError(`${file}: cannot read: ${err.code === 'ENOENT' ? 'no such file' : String(err.code)}`);
  });
}

await runTool(TOOL, async () => {
  const argv = await cli(TOOL, `$0 --treefile resolved.json|- --output DIR [--cache DIR]\n\nBuild a Debian root filesystem from a resolved treefile (treefile-lint --resolve)\nwith mmdebstrap, then apply it: units, default target, add/remove files,\npostprocess scripts (in the tree, without network). Writes the package manifest\nand the treefile to /usr/share/debian-atomic/. The tree is built beside DIR and\nrenamed into place at the end.`)
    .option('treefile', { type: 'string', demandOption: true, describe: 'Resolved treefile JSON, or - for stdin' })
    .option('output', { type: 'string', demandOption: true, describe: 'Directory to create (replaced atomically)' })
    .option('cache', { type: 'string', describe: 'apt archive cache kept between builds', default: join(cacheDir(), 'apt') })
    .option('allow-expired', { type: 'boolean', default: false, describe: "Accept a Release file past its Valid-Until (a frozen mirror snapshot; testing suites expire within days)" })
    .example('treefile-lint --resolve variants/base.yaml | $0 --treefile - --output build/base/rootfs', '')
    .parseAsync();
  const text = await readInput(argv.treefile);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw inputError(`${argv.treefile}: not JSON (${(err as Error).message}); give the output of treefile-lint --resolve`);
  }
  const parsed = resolvedTreefileSchema.safeParse(data);
  if (!parsed.success) {
    const first = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw inputError(`${argv.treefile}: not a resolved treefile`, { detail: first.join('\n'), hint: 'run treefile-lint --resolve on the YAML first' });
  }
  const result = await buildRootfs(parsed.data, argv.output, argv.cache, new Progress(TOOL, { quiet: argv.quiet }), argv['allow-expired']);
  writeJson(result);
  return 0;
});
