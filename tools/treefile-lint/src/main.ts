/** The command line of treefile-lint: parse arguments, run, render. Returns the exit code. */
import { access, constants } from 'node:fs/promises';
import {
  canonicalJson,
  cli,
  EXIT,
  formatDiagnostic,
  inputError,
  type Io,
  usageError,
  writeFileIfChanged,
  writeJson,
} from '@debian-atomic/lib';
import { lintTreefiles } from './lint.js';
import { resolveTreefile } from './resolve.js';
import { treefileJsonSchema } from './schema.js';

export const TOOL = 'treefile-lint';

const USAGE = `$0 [--resolve] [--schema] FILE...

Validate Debian Atomic treefiles (YAML), following their includes and tasks.
Without flags: prints a JSON summary [{file, ok, ref, errors}] on stdout and every
problem as file:line:col: message on stderr.
Exit status: 0 clean, 1 problems found, 2 usage error, or a FILE, include or tasks
file that cannot be read (missing, not a regular file, too large).`;

/** The problem of the first unreadable file, with the others as detail (exit 2). */
async function checkReadable(files: readonly string[]): Promise<void> {
  const problems: string[] = [];
  for (const file of files) {
    try {
      await access(file, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(`${file}: cannot read: ${code === 'ENOENT' ? 'no such file' : String(code ?? err)}`);
    }
  }
  if (problems.length) throw inputError(problems[0]!, { detail: problems.slice(1).join('\n') || undefined });
}

export async function main(argv: readonly string[], io: Io = process): Promise<number> {
  const args = await cli(TOOL, USAGE, [...argv])
    .option('resolve', {
      type: 'boolean',
      default: false,
      describe: 'Print the resolved treefile of FILE as canonical JSON (exactly one FILE)',
    })
    .option('schema', { type: 'boolean', default: false, describe: 'Print the JSON Schema of treefiles (no FILE)' })
    .option('output', {
      alias: 'o',
      type: 'string',
      requiresArg: true,
      describe:
        'With --resolve: write the resolved treefile to FILE (atomically, and only when its bytes change: make rebuilds what depends on it only then)',
    })
    // FILEs are positional: only options are strict.
    .strict(false)
    .strictOptions(true)
    // In-process callers (tests) keep running after --help; yargs has printed it.
    .exitProcess(false)
    .parseAsync();
  if (args.help) return EXIT.ok;
  const files = args._.map(String);

  if (args.schema) {
    if (files.length || args.resolve)
      throw usageError('--schema takes no FILE and no --resolve', `see '${TOOL} --help'`);
    writeJson(treefileJsonSchema(), io.stdout);
    return EXIT.ok;
  }
  if (files.length === 0) throw usageError('no FILE given', `see '${TOOL} --help'`);
  if (args.output !== undefined && !args.resolve)
    throw usageError('--output goes with --resolve', `see '${TOOL} --help'`);
  if (args.resolve && files.length !== 1)
    throw usageError(`--resolve takes exactly one FILE (got ${files.length})`, `see '${TOOL} --help'`);
  await checkReadable(files);

  if (args.resolve) {
    const result = await resolveTreefile(files[0]!, { require: 'always' });
    for (const d of result.diagnostics) io.stderr.write(formatDiagnostic(d) + '\n');
    if (result.unreadable) return EXIT.usage;
    if (!result.resolved) return EXIT.failure;
    if (args.output === undefined) writeJson(result.resolved, io.stdout);
    else await writeFileIfChanged(args.output, canonicalJson(result.resolved));
    return EXIT.ok;
  }

  const { reports, diagnostics, unreadable } = await lintTreefiles(files);
  for (const d of diagnostics) io.stderr.write(formatDiagnostic(d) + '\n');
  // An include that cannot be read is unreadable input, as an unreadable FILE is: no summary.
  if (unreadable) return EXIT.usage;
  writeJson(reports, io.stdout);
  return reports.every((r) => r.ok) ? EXIT.ok : EXIT.failure;
}
