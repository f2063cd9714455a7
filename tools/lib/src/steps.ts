/**
 * Step records: with DEBIAN_ATOMIC_STEPS=FILE set (the Makefile sets it for a variant's stage
 * recipes), every tool run appends one NDJSON line to FILE when it exits: which tool, its
 * arguments, the make run it belongs to (DEBIAN_ATOMIC_RUN), when and how long, its exit code,
 * where its output went. tools/report turns these lines into the build's timeline.
 * Recording never changes what the tool prints on stdout or the code it exits with.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';

export const STEPS_ENV = 'DEBIAN_ATOMIC_STEPS';
export const RUN_ENV = 'DEBIAN_ATOMIC_RUN';

/** Enough of a command line to recognise it, not a copy of a huge one. */
const MAX_ARGS = 64;
const MAX_ARG_CHARS = 256;

export const StepRecordSchema = z
  .object({
    step: z.string().min(1).describe('The tool, with its subcommand if it has one: "rootfs", "hwdetect plan"'),
    tool: z.string().min(1),
    argv: z
      .array(z.string())
      .max(MAX_ARGS + 1)
      .describe('The arguments, each cut to 256 characters'),
    run: z.string().nullable().describe('DEBIAN_ATOMIC_RUN: the make invocation this run belongs to'),
    cwd: z.string(),
    start: z.iso.datetime().describe('When the process started'),
    end: z.iso.datetime(),
    seconds: z.number().nonnegative(),
    exit: z.number().int().describe('The exit code (130: interrupted)'),
    output: z.string().nullable().describe("The --output option's value"),
    stdout: z.string().nullable().describe('The file standard output went to (make redirects it), if a file'),
  })
  .strict();
export type StepRecord = z.infer<typeof StepRecordSchema>;

/** "hwdetect plan", "atomic status": a first argument that is a word is a subcommand; paths and options are not. */
export function stepName(tool: string, argv: readonly string[]): string {
  const first = argv[0];
  return first !== undefined && /^[a-z][a-z-]*$/.test(first) ? `${tool} ${first}` : tool;
}

function optionValue(argv: readonly string[], names: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    for (const n of names) {
      if (a === n && i + 1 < argv.length) return argv[i + 1]!;
      if (a.startsWith(`${n}=`)) return a.slice(n.length + 1);
    }
  }
  return null;
}

/** The regular file fd 1 is redirected to (`tool > build/base/rootfs.json.tmp`), else null. */
export function stdoutFile(): string | null {
  try {
    if (!fstatSync(1).isFile()) return null;
    return readlinkSync('/proc/self/fd/1');
  } catch {
    return null;
  }
}

export function stepRecord(o: {
  tool: string;
  argv: readonly string[];
  run: string | undefined;
  start: Date;
  end: Date;
  exit: number;
  stdout: string | null;
}): StepRecord {
  const clipped = o.argv
    .slice(0, MAX_ARGS)
    .map((a) => (a.length > MAX_ARG_CHARS ? `${a.slice(0, MAX_ARG_CHARS - 1)}…` : a));
  if (o.argv.length > MAX_ARGS) clipped.push(`… ${o.argv.length - MAX_ARGS} more`);
  return {
    step: stepName(o.tool, o.argv),
    tool: o.tool,
    argv: clipped,
    run: o.run || null,
    cwd: process.cwd(),
    start: o.start.toISOString(),
    end: o.end.toISOString(),
    seconds: Math.round(Math.max(0, o.end.getTime() - o.start.getTime())) / 1000,
    exit: o.exit,
    output: optionValue(o.argv, ['--output', '-o']),
    stdout: o.stdout,
  };
}

/**
 * One write(2) of one line on an O_APPEND descriptor: concurrent tools (make -j) never
 * interleave inside a line. A failure is one line on stderr, never the tool's exit code.
 */
export function appendStep(file: string, record: StepRecord, tool: string): boolean {
  try {
    mkdirSync(dirname(file), { recursive: true });
    const fd = openSync(file, 'a', 0o644);
    try {
      const line = Buffer.from(JSON.stringify(record) + '\n');
      if (writeSync(fd, line) !== line.length) throw new Error('short write');
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (err) {
    process.stderr.write(`${tool}: ${STEPS_ENV}=${file}: step not recorded: ${(err as Error).message}\n`);
    return false;
  }
}

/**
 * With DEBIAN_ATOMIC_STEPS set, record this process as a step when it exits (whatever the
 * path: a normal return, a ToolError, --help, SIGINT's 130). The start is the process's own.
 */
export function recordStepOnExit(tool: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const file = env[STEPS_ENV];
  if (!file) return;
  const start = new Date(performance.timeOrigin);
  // Read now: at exit, fd 1 may already be gone.
  const stdout = stdoutFile();
  process.once('exit', (code) => {
    appendStep(file, stepRecord({ tool, argv, run: env[RUN_ENV], start, end: new Date(), exit: code, stdout }), tool);
  });
}
