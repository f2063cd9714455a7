/** The command line: subcommands, their options, and lazily imported implementations. */
import { cli, type Io } from '@debian-atomic/lib';
import type { Argv } from 'yargs';

export const TOOL = 'hwdetect';
/** `requiresArg` everywhere: it also lets "-" (stdin) be an option's value. */
export const LIST_CHOICES = ['kernel-args', 'modules', 'initramfs-drivers', 'packages', 'components'] as const;

const commands = () => import('./commands.js');

function roots<T>(y: Argv<T>) {
  return y
    .option('sysfs', { type: 'string', default: '/sys', describe: 'sysfs tree to read (a capture, extracted)' })
    .option('proc', { type: 'string', default: '/proc', describe: 'procfs tree to read' });
}

const output = {
  alias: 'o',
  type: 'string',
  requiresArg: true,
  describe: 'Write the JSON to FILE (atomically) instead of stdout',
} as const;

/** Run the tool on argv; returns the exit code (0 ok, 1 findings); throws ToolError for failures. */
export async function main(argv: string[], io: Io = process): Promise<number> {
  let code = 0;
  await cli(TOOL, '$0 <command> [options]', argv)
    .command(
      'probe',
      'Read hardware facts from sysfs and procfs; JSON on stdout',
      (y) => roots(y).option('output', output),
      async (a) => void (code = await (await commands()).probeCommand(a, io)),
    )
    .command(
      'plan',
      "What to apply for a variant's policy: on this machine, on given facts, or on any hardware (image builds)",
      (y) =>
        roots(y)
          .option('policy', {
            type: 'string',
            requiresArg: true,
            describe: 'Policy YAML (variants/hardware/hwdetect-<variant>.yaml)',
          })
          .option('treefile', {
            type: 'string',
            requiresArg: true,
            describe:
              'Image build: plan its hwdetect-policy for any hardware (a resolved treefile, treefile-lint --resolve); needs --output-treefile and -o',
          })
          .option('output-treefile', {
            type: 'string',
            requiresArg: true,
            describe:
              "With --treefile: the treefile with the plan's packages and components (rewritten only when it changes)",
          })
          .conflicts('treefile', ['policy', 'facts', 'any-hardware', 'list'])
          .option('facts', {
            type: 'string',
            requiresArg: true,
            describe: "Facts JSON from 'hwdetect probe' ('-' for stdin); default: probe this machine",
          })
          .option('any-hardware', { type: 'boolean', describe: 'Plan an image for any hardware the policy covers' })
          .conflicts('facts', 'any-hardware')
          .option('list', { choices: LIST_CHOICES, describe: 'Print only these names, one per line' })
          .option('output', output),
      async (a) => void (code = await (await commands()).planCommand(a, io)),
    )
    .command(
      'apply',
      'Write a plan into a root filesystem: kargs.d, modules-load.d, dracut.conf.d (and enable the boot-time check if the policy says so)',
      (y) =>
        y
          .option('plan', {
            type: 'string',
            requiresArg: true,
            demandOption: true,
            describe: "Plan JSON from 'hwdetect plan' ('-' for stdin)",
          })
          .option('root', {
            type: 'string',
            requiresArg: true,
            demandOption: true,
            describe: 'Root filesystem to write into',
          })
          .option('install-self', {
            type: 'boolean',
            describe:
              'Enabled policy: copy this hwdetect into the root (default: expect the debian-atomic-hwdetect package there)',
          })
          .option('install-deb', {
            type: 'string',
            requiresArg: true,
            describe:
              "Enabled policy: install this debian-atomic-hwdetect .deb into the root first, with the root's own dpkg (image builds)",
          })
          .conflicts('install-deb', 'install-self')
          .option('if-planned', {
            type: 'boolean',
            describe: 'A missing --plan file (a treefile without hwdetect-policy) applies nothing',
          }),
      async (a) => void (code = await (await commands()).applyCommand(a, io)),
    )
    .command(
      'check',
      'Boot-time check: probe, plan, keep both in --state-dir, report kernel arguments that differ (exit 1)',
      (y) =>
        roots(y)
          .option('policy', {
            type: 'string',
            requiresArg: true,
            default: '/usr/share/hwdetect/policy.json',
            describe: 'Policy (YAML or JSON)',
          })
          .option('state-dir', {
            type: 'string',
            default: '/run/hwdetect',
            describe: 'Where facts.json, plan.json and report.json go',
          }),
      async (a) => void (code = await (await commands()).checkCommand(a, io)),
    )
    .command(
      'schema <document>',
      'Print the JSON Schema of a document',
      (y) => y.positional('document', { choices: ['policy', 'facts', 'plan'] as const, demandOption: true }),
      async (a) => void (code = await (await commands()).schemaCommand(a, io)),
    )
    .demandCommand(1, 'a command is needed')
    .parseAsync();
  return code;
}
