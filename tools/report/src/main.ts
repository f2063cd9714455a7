/** The command line: write the report of a build directory, or print a schema. */
import { cli, RUN_ENV } from '@debian-atomic/lib';
import type { Io } from './commands.js';

export const TOOL = 'report';
export const DOCUMENTS = ['report', 'step', 'packages'] as const;

const commands = () => import('./commands.js');

/** Run the tool on argv; returns the exit code; throws ToolError for failures. */
export async function main(argv: string[], io: Io = process): Promise<number> {
  let code = 0;
  await cli(TOOL, '$0 [options] BUILD_DIR | $0 schema <document>', argv)
    .command(
      '$0 <build-dir>',
      'Write BUILD_DIR/report.json and report.html: the steps of the last make run (rebuilt or cache hit), the image size by package; the report JSON on stdout',
      (y) =>
        y
          .positional('build-dir', {
            type: 'string',
            demandOption: true,
            describe: 'build/<variant>: steps.ndjson, rootfs/, the stage outputs (rootfs.json, commit.json...)',
          })
          .option('steps', {
            type: 'string',
            requiresArg: true,
            describe: 'Step records (default: BUILD_DIR/steps.ndjson)',
          })
          .option('packages', {
            type: 'string',
            requiresArg: true,
            describe: 'Package manifest (default: BUILD_DIR/rootfs/usr/share/debian-atomic/packages.json)',
          })
          .option('run', {
            type: 'string',
            requiresArg: true,
            describe: `The run to report on (default: $${RUN_ENV}, else the last recorded run)`,
          })
          .option('top', {
            type: 'number',
            default: 15,
            describe: 'Packages shown by name; the rest are one "other" bar',
          })
          .option('output-dir', {
            type: 'string',
            requiresArg: true,
            describe: 'Where report.json and report.html go (default: BUILD_DIR)',
          })
          .example('$0 build/base', 'after make: build/base/report.html'),
      async (a) => void (code = await (await commands()).writeCommand(a, io)),
    )
    .command(
      'schema <document>',
      'Print the JSON Schema of a document',
      (y) => y.positional('document', { choices: DOCUMENTS, demandOption: true }),
      async (a) => void (code = await (await commands()).schemaCommand(a, io)),
    )
    .parseAsync();
  return code;
}
