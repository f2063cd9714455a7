/**
 * variants/tasks/tasks.yaml: the package groups comps-sync maintains and treefile-lint
 * expands (`tasks: [gnome-desktop]` in a treefile).
 *
 *   tasks:
 *     ssh-server:
 *       description: SSH server
 *       packages: [openssh-server]      # mandatory (task-* Depends) on every arch
 *       packages-s390x: [...]           # mandatory on some arches only
 *       recommends: [openssh-client]    # default (task-* Recommends)
 *       recommends-amd64: [...]
 */
import {
  formatDiagnostic,
  inputError,
  readYamlFile,
  schemaDiagnostics,
  syntaxDiagnostics,
  type LoadedYaml,
} from '@debian-atomic/lib';
// The format is treefile-lint's (it expands `tasks:`): one schema for both tools.
import { DEBIAN_ARCHES, tasksFileKeys, tasksFileSchema } from '@debian-atomic/lib/contracts/treefile';
import { normaliseEntry } from './relations.js';

export const ARCHES = DEBIAN_ARCHES;
export type Kind = 'mandatory' | 'default';
export const KINDS: readonly Kind[] = ['mandatory', 'default'];
/** The tasks.yaml key of each kind: `packages`, `recommends` (and `-<arch>`). */
export const KEY_OF: Record<Kind, 'packages' | 'recommends'> = { mandatory: 'packages', default: 'recommends' };

export type TaskEntry = { description?: string | undefined } & { [key: string]: string[] | string | undefined };

/** What a task holds: per kind, each entry (`a | b` for alternatives) and the arches it is on. */
export interface GroupState {
  description: string | undefined;
  members: Record<Kind, Map<string, Set<string>>>;
}

export function emptyState(description?: string): GroupState {
  return { description, members: { mandatory: new Map(), default: new Map() } };
}

export interface TasksFile {
  loaded: LoadedYaml;
  /** Tasks in file order; null for a task asked for on the command line (--task) and not yet in the file. */
  tasks: Map<string, TaskEntry | null>;
}

export async function loadTasksFile(file: string): Promise<TasksFile> {
  const loaded = await readYamlFile(file);
  const diags = syntaxDiagnostics(loaded);
  let data: { tasks: Record<string, unknown> } | undefined;
  if (diags.length === 0 && loaded.doc.contents === null) {
    diags.push({ file, line: 1, col: 1, message: "empty file: expected a mapping with a 'tasks' key" });
  } else if (diags.length === 0) {
    const res = schemaDiagnostics(loaded, tasksFileSchema, tasksFileKeys);
    diags.push(...res.diagnostics);
    data = res.data;
  }
  if (diags.length > 0 || !data) {
    throw inputError(formatDiagnostic(diags[0]!), {
      detail: diags.slice(1).map(formatDiagnostic).join('\n') || undefined,
    });
  }
  return { loaded, tasks: new Map(Object.entries(data.tasks).map(([name, entry]) => [name, entry as TaskEntry])) };
}

/** The state a tasks.yaml entry describes: `packages` is on every requested arch, `packages-<arch>` on that one. */
export function stateOfEntry(entry: TaskEntry | null, arches: readonly string[]): GroupState {
  const state = emptyState(entry?.description);
  if (!entry) return state;
  for (const kind of KINDS) {
    const key = KEY_OF[kind];
    for (const [k, v] of Object.entries(entry)) {
      if (!Array.isArray(v)) continue;
      let on: readonly string[];
      if (k === key) on = arches;
      else if (k.startsWith(`${key}-`)) on = [k.slice(key.length + 1)];
      else continue;
      for (const raw of v) {
        const e = normaliseEntry(raw);
        const set = state.members[kind].get(e) ?? new Set<string>();
        for (const a of on) set.add(a);
        state.members[kind].set(e, set);
      }
    }
  }
  return state;
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The canonical tasks.yaml entry for a state: keys in a fixed order, lists sorted, empty ones left out. */
export function entryOfState(state: GroupState, arches: readonly string[]): TaskEntry {
  const out: TaskEntry = {};
  if (state.description !== undefined) out.description = state.description;
  const sortedArches = [...arches].sort(byCodePoint);
  for (const kind of KINDS) {
    const key = KEY_OF[kind];
    const everywhere: string[] = [];
    const perArch = new Map<string, string[]>();
    for (const [e, on] of state.members[kind]) {
      if (arches.every((a) => on.has(a))) everywhere.push(e);
      else for (const a of on) perArch.set(a, [...(perArch.get(a) ?? []), e]);
    }
    if (everywhere.length) out[key] = everywhere.sort(byCodePoint);
    for (const a of [...sortedArches, ...[...perArch.keys()].filter((a) => !arches.includes(a)).sort(byCodePoint)]) {
      const list = perArch.get(a);
      if (list?.length) out[`${key}-${a}`] = list.sort(byCodePoint);
    }
  }
  return out;
}

/** Same keys in the same order with the same lists: nothing to rewrite. */
export function sameEntry(a: TaskEntry | null, b: TaskEntry): boolean {
  if (!a) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return kb.every((k) => {
    const va = a[k];
    const vb = b[k];
    if (Array.isArray(va) && Array.isArray(vb)) return va.length === vb.length && va.every((x, i) => x === vb[i]);
    return va === vb;
  });
}

export { byCodePoint };
