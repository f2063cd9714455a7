/**
 * comps-sync: compare the package groups of variants/tasks/tasks.yaml with Debian's
 * tasksel tasks and report (or, with --save, write) the difference.
 * Human summary on stderr, the full diff as JSON on stdout.
 * Exit: 0 in sync (or saved), 1 drift, 2 bad usage or input.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  atomicWriteFile,
  cli,
  formatDiagnostic,
  inputError,
  parseYamlText,
  positionOf,
  Progress,
  suggest,
  usageError,
  warn,
  writeJson,
  type Diagnostic,
  type Io,
} from '@debian-atomic/lib';
import { ShaCache } from './cache.js';
import { diffStates, formatTaskReport, hasDrift, type TaskReport } from './diff.js';
import { Excludes, loadExcludes } from './exclude.js';
import { DEFAULT_KEYRING } from './release.js';
import { renderTasksFile } from './save.js';
import { loadFromMirror, loadOffline, type Sources } from './sources.js';
import { taskMembers, type TaskMembers } from './tasks.js';
import { TASK_NAME } from '@debian-atomic/lib/contracts/treefile';
import { ARCHES, entryOfState, KINDS, loadTasksFile, sameEntry, stateOfEntry, type TaskEntry } from './tasksfile.js';

export const TOOL = 'comps-sync';
export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

const USAGE = `$0 [--save] [--suite SUITE] [--arch amd64,arm64] [--mirror URL | --desc FILE --packages FILE,...] [--exclude FILE] TASKS_YAML

Sync the package groups in TASKS_YAML (variants/tasks/tasks.yaml) with Debian's tasksel
tasks: a task-* metapackage's Depends are the group's 'packages' (mandatory), its
Recommends its 'recommends' (default). Prints 'Syncing task X: +N, -M' per task on
stderr and the diff as JSON on stdout. Exit 1 when the file is out of sync.`;

/** A repeatable, comma-separated option (not yargs' greedy arrays, which would eat TASKS_YAML). */
function list(value: string | string[] | undefined): string[] {
  return [value ?? []]
    .flat()
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

export function parseArches(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of values
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(ARCHES as readonly string[]).includes(a)) {
      const s = suggest(a, ARCHES);
      throw usageError(
        `--arch: unknown architecture '${a}'${s ? ` (did you mean '${s}'?)` : ''}`,
        `one of ${ARCHES.join(', ')}`,
      );
    }
    if (!out.includes(a)) out.push(a);
  }
  if (out.length === 0) throw usageError('--arch: no architecture given');
  return out;
}

/** --timeout: seconds, as AbortSignal.timeout can take them (not NaN, not negative). */
export function seconds(value: string | string[]): number {
  const raw = String([value].flat().at(-1)).trim();
  const n = Number(raw);
  if (raw === '' || !(n > 0 && n <= 86_400))
    throw usageError(`--timeout ${raw}: expected a number of seconds greater than 0 (at most 86400)`);
  return n;
}

export async function main(argv: string[], io: Io = process): Promise<number> {
  const args = await cli(TOOL, USAGE, argv)
    .option('save', {
      type: 'boolean',
      default: false,
      describe: 'Rewrite TASKS_YAML (atomically, comments kept) instead of only reporting',
    })
    .option('suite', { type: 'string', default: 'trixie', describe: 'Debian suite (codename) to sync with' })
    .option('mirror', { type: 'string', default: DEFAULT_MIRROR, describe: 'Debian mirror' })
    .option('arch', {
      type: 'string',
      default: 'amd64',
      coerce: list,
      describe: 'Architectures, comma-separated or repeated',
    })
    .option('desc', { type: 'string', describe: 'Offline: debian-tasks.desc, or a tasksel-data .deb' })
    .option('packages', {
      type: 'string',
      coerce: list,
      describe: 'Offline: Packages[.xz] per --arch, in order (or ARCH=FILE); comma-separated or repeated',
    })
    .option('task', {
      type: 'string',
      coerce: list,
      describe: 'Also sync these tasks (added to TASKS_YAML by --save); comma-separated or repeated',
    })
    .option('exclude', {
      type: 'string',
      describe: 'Exclude file (default: tasks-exclude.yaml beside TASKS_YAML, if any)',
    })
    .option('keyring', { type: 'string', default: DEFAULT_KEYRING, describe: 'Keyring that signs the suite (gpgv)' })
    .option('allow-expired', {
      type: 'boolean',
      default: false,
      describe: 'Use a Release past its Valid-Until (stale mirror); signatures are still checked',
    })
    .option('timeout', { type: 'string', default: '120', describe: 'Seconds per download before giving up' })
    .demandCommand(1, 1, 'give the tasks file (variants/tasks/tasks.yaml)', 'give one tasks file')
    .parseAsync();

  const file = String(args._[0]);
  const arches = parseArches(args.arch);
  const timeout = seconds(args.timeout);
  const offline = args.desc !== undefined || args.packages !== undefined;
  if (offline && (args.desc === undefined || !args.packages?.length))
    throw usageError('--desc and --packages go together (offline mode needs both)');
  const progress = new Progress(TOOL, { quiet: args.quiet });

  const tasksFile = await loadTasksFile(file);
  for (const name of args.task ?? []) {
    if (!TASK_NAME.test(name)) throw usageError(`--task ${name}: not a task name (lower-case letters, digits and '-')`);
    if (!tasksFile.tasks.has(name)) tasksFile.tasks.set(name, null);
  }
  const excludeFile =
    args.exclude ??
    (existsSync(join(dirname(file), 'tasks-exclude.yaml')) ? join(dirname(file), 'tasks-exclude.yaml') : undefined);
  const excludes = excludeFile ? await loadExcludes(excludeFile) : new Excludes();

  const sources: Sources = offline
    ? await loadOffline(args.desc!, args.packages!, arches)
    : await loadFromMirror({
        mirror: args.mirror,
        suite: args.suite,
        arches,
        keyring: args.keyring,
        allowExpired: args['allow-expired'],
        cache: new ShaCache(),
        http: { timeoutMs: timeout * 1000 },
        progress: (m) => progress.step(m),
      });
  for (const w of sources.warnings) warn(TOOL, w, args.quiet, io.stderr);
  const where = offline ? args.desc! : `${args.suite}'s tasksel-data`;

  // Every task to sync must exist: a misspelt name is an input error, positioned.
  const unknown: Diagnostic[] = [];
  const members = new Map<string, TaskMembers>();
  for (const name of tasksFile.tasks.keys()) {
    if (excludes.tasks.has(name)) continue;
    const desc = sources.tasks.get(name);
    if (!desc) {
      const s = suggest(name, [...sources.tasks.keys()]);
      const message = `task '${name}' is not in ${where}${s ? ` (did you mean '${s}'?)` : ''}`;
      if (tasksFile.tasks.get(name) === null) throw usageError(`--task: ${message}`);
      unknown.push({ file, ...positionOf(tasksFile.loaded, ['tasks', name], true), message });
      continue;
    }
    members.set(name, taskMembers(desc, sources.indexes, excludes));
  }
  if (unknown.length)
    throw inputError(formatDiagnostic(unknown[0]!), {
      detail: unknown.slice(1).map(formatDiagnostic).join('\n') || undefined,
    });

  // comps-sync.py's "groups": which synced tasks carry an entry.
  const carriers = new Map<string, string[]>();
  for (const m of members.values()) {
    for (const kind of KINDS)
      for (const e of m.state.members[kind].keys()) carriers.set(e, [...new Set([...(carriers.get(e) ?? []), m.task])]);
  }

  const reports: TaskReport[] = [];
  const updates = new Map<string, TaskEntry>();
  for (const [name, entry] of tasksFile.tasks) {
    const m = members.get(name);
    if (!m) {
      reports.push({
        task: name,
        status: 'skipped',
        new: false,
        added: [],
        removed: [],
        reformat: false,
        unavailable: [],
        excluded: [],
        missingOn: [],
      });
      continue;
    }
    const current = stateOfEntry(entry, arches);
    const { added, removed } = diffStates(current, m.state);
    const canonical = entryOfState(m.state, arches);
    const same = sameEntry(entry, canonical);
    const report: TaskReport = {
      task: name,
      status: same ? 'in-sync' : 'drift',
      new: entry === null,
      added: added.map((c) => ({ ...c, tasks: (carriers.get(c.entry) ?? [name]).sort() })),
      removed,
      reformat: false,
      unavailable: m.unavailable,
      excluded: m.excluded,
      missingOn: m.missingOn,
    };
    if ((current.description ?? null) !== (m.state.description ?? null))
      report.description = { from: current.description ?? null, to: m.state.description ?? null };
    report.reformat = !same && !hasDrift(report);
    reports.push(report);
    if (!same) updates.set(name, canonical);
  }

  const newText = renderTasksFile(tasksFile.loaded, updates);
  checkRendered(file, newText, updates, arches);
  const drift = newText !== tasksFile.loaded.text;

  for (const r of reports) for (const line of formatTaskReport(r, arches, excludeFile)) io.stderr.write(line + '\n');
  for (const u of excludes.unused([...members.keys()]))
    warn(TOOL, `${excludeFile}: ${u} excludes nothing (stale?)`, args.quiet, io.stderr);

  let saved = false;
  if (args.save && drift) {
    await atomicWriteFile(file, newText);
    saved = true;
    io.stderr.write(`Wrote ${file}\n`);
  }
  writeJson(
    {
      file,
      exclude: excludeFile ?? null,
      arches,
      source: sources.source,
      drift,
      saved,
      tasks: reports,
    },
    io.stdout,
  );
  return drift && !args.save ? 1 : 0;
}

/** The rewritten file must say exactly what we meant: re-read it and compare. */
function checkRendered(
  file: string,
  text: string,
  updates: ReadonlyMap<string, TaskEntry>,
  arches: readonly string[],
): void {
  if (updates.size === 0) return;
  const y = parseYamlText(file, text);
  const tasks = (y.doc.toJS() as { tasks?: Record<string, TaskEntry | null> } | null)?.tasks ?? {};
  for (const [name, entry] of updates) {
    if (y.doc.errors.length || !sameEntry(tasks[name] ?? null, entryOfState(stateOfEntry(entry, arches), arches))) {
      throw new Error(`rewriting ${file} went wrong for task '${name}' (please report; the file was not written)`);
    }
  }
}
