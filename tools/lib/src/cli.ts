/**
 * The common frame of every tool: yargs with --quiet/--debug, usage errors → 2,
 * ToolError → its exit code with one clean line, SIGINT → cleanups then 130.
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT, formatError, ToolError, usageError } from './errors.js';
import { recordStepOnExit } from './steps.js';

const cleanups = new Set<() => void | Promise<void>>();

/** Register work to undo (temp dirs) if the tool is interrupted; returns the unregister function. */
export function onInterrupt(fn: () => void | Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

let interrupted = false;
async function handleSignal(tool: string, signal: string): Promise<void> {
  if (interrupted) return;
  interrupted = true;
  process.stderr.write(`${tool}: interrupted (${signal}), cleaning up\n`);
  for (const fn of [...cleanups].reverse()) {
    try {
      await fn();
    } catch {
      /* best effort: we are exiting */
    }
  }
  process.exit(EXIT.interrupted);
}

export interface CommonArgs {
  quiet: boolean;
  debug: boolean;
}

/** A yargs instance with the options every tool has. */
/** `--opt -` means stdin, as in most Unix tools; yargs would take the lone '-' as a positional. */
export function joinDashValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--') && !a.includes('=') && argv[i + 1] === '-') {
      out.push(`${a}=-`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function cli(tool: string, usage: string, argv: string[] = hideBin(process.argv)): Argv<CommonArgs> {
  return yargs(joinDashValues(argv))
    .scriptName(tool)
    .usage(usage)
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'No progress or warnings on stderr' })
    .option('debug', { type: 'boolean', default: false, describe: 'Show stack traces for errors' })
    .strict()
    .help()
    .alias('help', 'h')
    .version(false)
    .wrap(Math.min(100, process.stderr.columns || 100))
    .fail((msg, err) => {
      // yargs' own parse errors (an option without its value: "Not enough arguments following")
      // are usage errors too; anything else a command threw passes through as it was.
      if (err && err.name !== 'YError') throw err;
      throw usageError(msg ?? err?.message ?? 'invalid usage', `see '${tool} --help'`);
    }) as unknown as Argv<CommonArgs>;
}

/**
 * Run a tool's main function: it returns the exit code (0 ok, 1 findings).
 * All output discipline lives here so tools only return values or throw.
 */
export async function runTool(tool: string, main: () => Promise<number>): Promise<never> {
  process.on('SIGINT', () => void handleSignal(tool, 'SIGINT'));
  process.on('SIGTERM', () => void handleSignal(tool, 'SIGTERM'));
  recordStepOnExit(tool, process.argv.slice(2));
  const debug = process.argv.includes('--debug');
  let code: number;
  try {
    code = await main();
  } catch (err) {
    process.stderr.write(formatError(tool, err, debug));
    code = err instanceof ToolError ? err.exitCode : EXIT.failure;
  }
  // Let stdout drain before exiting (large JSON on a pipe).
  await new Promise<void>((resolve) =>
    process.stdout.writableLength === 0 ? resolve() : process.stdout.once('drain', () => resolve()),
  );
  process.exit(code);
}
