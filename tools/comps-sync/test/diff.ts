import t from 'tap';
import { diffStates, formatTaskReport, hasDrift, type TaskReport } from '../src/diff.js';
import { stateOfEntry } from '../src/tasksfile.js';

const arches = ['amd64', 's390x'];

t.test('added and removed entries, per kind and arch', async (t) => {
  const current = stateOfEntry(
    { packages: ['gnome-core', 'tasksel'], 'recommends-amd64': ['thunderbird'], 'recommends-riscv64': ['gone'] },
    arches,
  );
  const desired = stateOfEntry({ packages: ['tasksel'], recommends: ['gnome-core', 'thunderbird'] }, arches);
  const { added, removed } = diffStates(current, desired);
  t.same(added, [
    { entry: 'gnome-core', kind: 'default', arches: ['amd64', 's390x'] },
    { entry: 'thunderbird', kind: 'default', arches: ['s390x'] },
  ]);
  t.same(removed, [
    { entry: 'gnome-core', kind: 'mandatory', arches: ['amd64', 's390x'] },
    { entry: 'gone', kind: 'default', arches: ['riscv64'] },
  ]);
  t.same(diffStates(desired, desired), { added: [], removed: [] });
});

const base: TaskReport = {
  task: 'gnome-desktop',
  status: 'drift',
  new: false,
  added: [],
  removed: [],
  reformat: false,
  unavailable: [],
  excluded: [],
  missingOn: [],
};

t.test('the report reads like comps-sync.py', async (t) => {
  const r: TaskReport = {
    ...base,
    added: [
      { entry: 'gnome-core', kind: 'default', arches: ['amd64', 's390x'], tasks: ['gnome-desktop'] },
      {
        entry: 'ibus-mozc | ibus-anthy',
        kind: 'default',
        arches: ['amd64'],
        tasks: ['gnome-desktop', 'japanese-gnome-desktop'],
      },
    ],
    removed: [{ entry: 'gnome-core', kind: 'mandatory', arches: ['amd64', 's390x'] }],
    description: { from: 'Gnome', to: 'GNOME' },
    unavailable: [{ relation: 'thunderbird', kind: 'default', reason: 'not in the index', arches: ['s390x'] }],
    missingOn: ['s390x'],
  };
  t.ok(hasDrift(r));
  t.same(formatTaskReport(r, arches), [
    'Syncing task gnome-desktop: +2, -1',
    '  - gnome-core (mandatory, arches: all)',
    '  + gnome-core (default, tasks: gnome-desktop, arches: all)',
    '  + ibus-mozc | ibus-anthy (default, tasks: gnome-desktop, japanese-gnome-desktop, arches: amd64)',
    '  ~ description: "GNOME" (was "Gnome")',
    '  ! thunderbird (default, not available on: s390x)',
    '  ! task not available on: s390x (its Key package is not in the index)',
  ]);
  t.same(formatTaskReport({ ...base, status: 'in-sync' }, arches), ['Syncing task gnome-desktop: +0, -0']);
  t.notOk(hasDrift({ ...base, status: 'in-sync' }));
  t.same(formatTaskReport({ ...base, description: { from: null, to: 'GNOME' } }, arches).slice(1), [
    '  ~ description: "GNOME"',
  ]);
  t.same(formatTaskReport({ ...base, reformat: true }, arches).slice(1), ['  ~ sorted/normalised (same packages)']);
  t.ok(hasDrift({ ...base, reformat: true }));
  t.same(formatTaskReport({ ...base, status: 'skipped' }, arches, 'variants/tasks/tasks-exclude.yaml'), [
    "Skipping task gnome-desktop (listed under 'tasks' in variants/tasks/tasks-exclude.yaml)",
  ]);
  t.same(formatTaskReport({ ...base, status: 'skipped' }, arches), [
    "Skipping task gnome-desktop (listed under 'tasks' in the exclude file)",
  ]);
});
