/**
 * Tasks: named package groups (variants/tasks/tasks.yaml, kept by comps-sync from Debian's
 * tasksel data) that a treefile's `tasks` expands into `packages` / `packages-<arch>`.
 */
import { resolve } from 'node:path';
import { documentValue, schemaDiagnostics, syntaxDiagnostics, ToolError, type Diagnostic } from '@debian-atomic/lib';
import {
  DEBIAN_ARCHES,
  LIMITS,
  tasksFileKeys,
  tasksFileSchema,
  taskSchema,
  type PackageKey,
  type Task,
} from './schema.js';
import { loadYaml } from './yaml.js';

export interface TasksFile {
  file: string;
  /** Tasks that validated, by name. */
  tasks: Map<string, Task>;
  /** Every task name in the file, valid or not (an invalid task is reported there, not as unknown). */
  names: string[];
  diagnostics: Diagnostic[];
}

/** Read and validate a tasks file. Throws the lib's input error (exit 2) when it cannot be read. */
export async function loadTasksFile(file: string): Promise<TasksFile> {
  const y = await loadYaml(file, LIMITS.fileBytes);
  const syntax = syntaxDiagnostics(y);
  if (y.doc.errors.length) return { file, tasks: new Map(), names: [], diagnostics: syntax };
  const { data, diagnostics } = schemaDiagnostics(y, tasksFileSchema, tasksFileKeys);
  const tasks = new Map<string, Task>();
  let names: string[] = [];
  if (data) {
    names = Object.keys(data.tasks);
    for (const [name, task] of Object.entries(data.tasks)) tasks.set(name, task);
  } else {
    // Keep what is valid so one broken task does not hide the others.
    const raw = documentValue(y).value;
    const rawTasks = isRecord(raw) && isRecord(raw.tasks) ? raw.tasks : {};
    names = Object.keys(rawTasks);
    for (const [name, value] of Object.entries(rawTasks)) {
      const parsed = taskSchema.safeParse(value);
      if (parsed.success) tasks.set(name, parsed.data);
    }
  }
  return { file, tasks, names, diagnostics: [...syntax, ...diagnostics] };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The package an entry installs: the first of its alternatives. */
export function firstAlternative(entry: string): string {
  return entry.split('|')[0]!.trim();
}

/** Mandatory + default packages of tasks, by package key; each list sorted and unique. */
export function expandTasks(tasks: readonly Task[]): Partial<Record<PackageKey, string[]>> {
  const sets = new Map<PackageKey, Set<string>>();
  const add = (key: PackageKey, entries: readonly string[] | undefined) => {
    if (!entries?.length) return;
    const set = sets.get(key) ?? new Set<string>();
    for (const e of entries) set.add(firstAlternative(e));
    sets.set(key, set);
  };
  for (const task of tasks) {
    add('packages', task.packages);
    add('packages', task.recommends);
    for (const arch of DEBIAN_ARCHES) {
      add(`packages-${arch}`, task[`packages-${arch}`]);
      add(`packages-${arch}`, task[`recommends-${arch}`]);
    }
  }
  const out: Partial<Record<PackageKey, string[]>> = {};
  for (const [key, set] of sets) out[key] = [...set].sort();
  return out;
}

/** The tasks files of one run, each read once (a resolution reports its diagnostics itself). */
export class TasksFiles {
  private readonly cache = new Map<string, Promise<TasksFile | ToolError>>();

  get(file: string): Promise<TasksFile | ToolError> {
    const key = resolve(file);
    let loading = this.cache.get(key);
    if (!loading) {
      loading = loadTasksFile(file).catch((err: unknown) => {
        if (err instanceof ToolError) return err;
        throw err;
      });
      this.cache.set(key, loading);
    }
    return loading;
  }
}
