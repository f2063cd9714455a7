/**
 * tasksel task → package group. A task's Key package (task-gnome-desktop) is a
 * metapackage: its Depends are the group's mandatory members, its Recommends the
 * default ones (comps' mandatory/default). `Packages: standard` (the "standard"
 * task) is tasksel's built-in method: every main package of priority required,
 * important or standard outside the lib* sections.
 *
 * Computed per architecture from that architecture's index: alternatives keep
 * only what exists there (in order), so `ibus-mozc | ibus-anthy` is
 * `ibus-anthy` on s390x.
 */
import { positionedError } from './deb822.js';
import type { TaskDesc } from './desc.js';
import type { Excludes } from './exclude.js';
import { isAvailable, relationsOf, type PackagesIndex } from './packages.js';
import { alternativesOn, joinAlternatives } from './relations.js';
import { emptyState, type GroupState, type Kind } from './tasksfile.js';

/** A relation that yields nothing on some arches, and why. */
export interface Note {
  relation: string;
  kind: Kind;
  reason: string;
  arches: string[];
}

export interface TaskMembers {
  task: string;
  state: GroupState;
  /** Relations with no alternative on an arch (e.g. fonts-kacst, not in the suite). */
  unavailable: Note[];
  /** Relations the exclude file removed. */
  excluded: Note[];
  /** Arches whose index lacks a Key package: tasksel does not offer the task there. */
  missingOn: string[];
}

const STANDARD_PRIORITIES = new Set(['required', 'important', 'standard']);

export function taskMembers(desc: TaskDesc, indexes: readonly PackagesIndex[], excludes: Excludes): TaskMembers {
  const state = emptyState(describe(desc, indexes));
  const notes = { unavailable: new Map<string, Note>(), excluded: new Map<string, Note>() };
  const note = (which: keyof typeof notes, relation: string, kind: Kind, reason: string, arch: string) => {
    const id = `${kind}\0${relation}\0${reason}`;
    const n = notes[which].get(id) ?? { relation, kind, reason, arches: [] };
    n.arches.push(arch);
    notes[which].set(id, n);
  };
  const add = (kind: Kind, entry: string, arch: string) => {
    const on = state.members[kind].get(entry) ?? new Set<string>();
    on.add(arch);
    state.members[kind].set(entry, on);
  };
  const missingOn: string[] = [];

  if (desc.packages !== undefined && desc.packages !== 'standard') {
    throw positionedError({
      file: desc.file,
      line: desc.line,
      col: 1,
      message: `task '${desc.name}': Packages method '${desc.packages}' is not supported (only Key packages and 'standard')`,
    });
  }

  for (const index of indexes) {
    const arch = index.arch;
    if (desc.packages === 'standard') {
      for (const pkg of index.packages.values()) {
        if (!STANDARD_PRIORITIES.has(pkg.priority ?? '') || /^lib|\//.test(pkg.section ?? '')) continue;
        const why = excludes.reason(desc.name, pkg.name);
        if (why) note('excluded', pkg.name, 'mandatory', why, arch);
        else add('mandatory', pkg.name, arch);
      }
    }
    for (const keyName of desc.key) {
      const key = index.packages.get(keyName);
      if (!key) {
        if (!missingOn.includes(arch)) missingOn.push(arch);
        continue;
      }
      for (const [kind, field] of [
        ['mandatory', key.depends],
        ['default', key.recommends],
      ] as const) {
        if (!field) continue;
        for (const rel of relationsOf(field, index.file)) {
          const alts = alternativesOn(rel, arch);
          if (alts.length === 0) continue; // restricted to other arches
          const reasons = alts.map((a) => excludes.reason(desc.name, a));
          const kept = alts.filter((_, i) => !reasons[i]);
          if (kept.length === 0) {
            note('excluded', rel.text, kind, reasons.join('; '), arch);
            continue;
          }
          const available = kept.filter((a) => isAvailable(index, a));
          if (available.length === 0) {
            note('unavailable', rel.text, kind, 'not in the index', arch);
            continue;
          }
          add(kind, joinAlternatives(available), arch);
        }
      }
    }
  }

  // As in comps-sync.py: mandatory wins when both name a package.
  for (const [entry, on] of state.members.mandatory) {
    const def = state.members.default.get(entry);
    if (!def) continue;
    for (const a of on) def.delete(a);
    if (def.size === 0) state.members.default.delete(entry);
  }
  return {
    task: desc.name,
    state,
    unavailable: [...notes.unavailable.values()],
    excluded: [...notes.excluded.values()],
    missingOn,
  };
}

/** tasksel shows the desc file's Description, else the Key package's; the name if neither exists. */
function describe(desc: TaskDesc, indexes: readonly PackagesIndex[]): string {
  if (desc.description) return desc.description;
  for (const keyName of desc.key) {
    for (const index of indexes) {
      const synopsis = index.packages.get(keyName)?.synopsis;
      if (synopsis) return synopsis;
    }
  }
  return desc.name;
}
