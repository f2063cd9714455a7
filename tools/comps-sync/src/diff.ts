/**
 * What a sync would change, per task, and its rendering in comps-sync.py's words:
 *
 *   Syncing task gnome-desktop: +1, -1
 *     - gnome-core (mandatory, arches: all)
 *     + gnome-core (default, tasks: gnome-desktop, arches: all)
 */
import type { Note } from './tasks.js';
import { byCodePoint, KINDS, type GroupState, type Kind } from './tasksfile.js';

export interface Change {
  entry: string;
  kind: Kind;
  /** Sorted; the report says "all" when they are every requested arch. */
  arches: string[];
}

export interface Added extends Change {
  /** Every synced task whose members include the entry (as comps-sync.py's "groups"). */
  tasks: string[];
}

export interface TaskReport {
  task: string;
  /** skipped: listed in the exclude file's `tasks`, left as written. */
  status: 'in-sync' | 'drift' | 'skipped';
  /** Not in the file yet (asked for with --task). */
  new: boolean;
  added: Added[];
  removed: Change[];
  description?: { from: string | null; to: string | null };
  /** Only the order or spelling of the entry would change (unsorted lists, `a|b`). */
  reformat: boolean;
  unavailable: Note[];
  excluded: Note[];
  missingOn: string[];
}

export function diffStates(current: GroupState, desired: GroupState): { added: Change[]; removed: Change[] } {
  const added: Change[] = [];
  const removed: Change[] = [];
  for (const kind of KINDS) {
    const cur = current.members[kind];
    const want = desired.members[kind];
    for (const entry of [...new Set([...cur.keys(), ...want.keys()])].sort(byCodePoint)) {
      const c = cur.get(entry) ?? new Set<string>();
      const w = want.get(entry) ?? new Set<string>();
      const plus = [...w].filter((a) => !c.has(a)).sort(byCodePoint);
      const minus = [...c].filter((a) => !w.has(a)).sort(byCodePoint);
      if (plus.length) added.push({ entry, kind, arches: plus });
      if (minus.length) removed.push({ entry, kind, arches: minus });
    }
  }
  return { added, removed };
}

export function hasDrift(r: TaskReport): boolean {
  return r.added.length > 0 || r.removed.length > 0 || r.description !== undefined || r.reformat;
}

function archList(arches: readonly string[], all: readonly string[]): string {
  return arches.length === all.length && all.every((a) => arches.includes(a)) ? 'all' : arches.join(', ');
}

/** The human report of one task, for stderr. */
export function formatTaskReport(r: TaskReport, allArches: readonly string[], excludeFile?: string): string[] {
  if (r.status === 'skipped')
    return [`Skipping task ${r.task} (listed under 'tasks' in ${excludeFile ?? 'the exclude file'})`];
  const lines = [`Syncing task ${r.task}: +${r.added.length}, -${r.removed.length}${r.new ? ' (new)' : ''}`];
  for (const c of r.removed) lines.push(`  - ${c.entry} (${c.kind}, arches: ${archList(c.arches, allArches)})`);
  for (const c of r.added)
    lines.push(`  + ${c.entry} (${c.kind}, tasks: ${c.tasks.join(', ')}, arches: ${archList(c.arches, allArches)})`);
  if (r.description) {
    lines.push(
      `  ~ description: ${JSON.stringify(r.description.to)}${r.description.from === null ? '' : ` (was ${JSON.stringify(r.description.from)})`}`,
    );
  }
  if (r.reformat && !r.added.length && !r.removed.length && !r.description)
    lines.push('  ~ sorted/normalised (same packages)');
  for (const n of r.unavailable)
    lines.push(`  ! ${n.relation} (${n.kind}, not available on: ${archList(n.arches, allArches)})`);
  if (r.missingOn.length)
    lines.push(`  ! task not available on: ${r.missingOn.join(', ')} (its Key package is not in the index)`);
  return lines;
}
