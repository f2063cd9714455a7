import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseTaskDescs } from '../src/desc.js';
import { Excludes } from '../src/exclude.js';
import { parsePackagesIndex } from '../src/packages.js';
import { taskMembers } from '../src/tasks.js';
import type { GroupState } from '../src/tasksfile.js';
import { fixture } from './fixtures/mirror.js';

function load(suite: string, arches = ['amd64', 's390x']) {
  const desc = parseTaskDescs(readFileSync(fixture(suite, 'debian-tasks.desc'), 'utf8'), `${suite}.desc`);
  const indexes = arches.map((a) =>
    parsePackagesIndex(readFileSync(fixture(suite, `Packages-${a}`), 'utf8'), `${suite}/Packages-${a}`, a),
  );
  return { desc, indexes };
}

/** kind → entry → "arch,arch" for readable assertions. */
function plain(s: GroupState) {
  const side = (m: Map<string, Set<string>>) =>
    Object.fromEntries([...m].map(([e, on]) => [e, [...on].sort().join(',')]));
  return { description: s.description, mandatory: side(s.members.mandatory), default: side(s.members.default) };
}

t.test('Depends → mandatory, Recommends → default (trixie ssh-server)', async (t) => {
  const { desc, indexes } = load('trixie');
  const m = taskMembers(desc.get('ssh-server')!, indexes, new Excludes());
  t.same(plain(m.state), {
    description: 'SSH server',
    mandatory: { tasksel: 'amd64,s390x', 'openssh-server': 'amd64,s390x' },
    default: { 'openssh-client': 'amd64,s390x' },
  });
  t.same(m.unavailable, []);
  t.same(m.missingOn, []);
});

t.test('forky moved gnome-core from Depends to Recommends', async (t) => {
  const trixie = load('trixie', ['amd64']);
  const forky = load('forky', ['amd64']);
  const a = taskMembers(trixie.desc.get('gnome-desktop')!, trixie.indexes, new Excludes());
  const b = taskMembers(forky.desc.get('gnome-desktop')!, forky.indexes, new Excludes());
  t.same(plain(a.state), {
    description: 'GNOME',
    mandatory: { tasksel: 'amd64', 'task-desktop': 'amd64', 'gnome-core': 'amd64' },
    default: { gnome: 'amd64' },
  });
  t.same(plain(b.state), {
    description: 'GNOME',
    mandatory: { tasksel: 'amd64', 'task-desktop': 'amd64' },
    default: { 'gnome-core': 'amd64', gnome: 'amd64' },
  });
});

t.test('arch-specific members and alternatives reduced to what exists there', async (t) => {
  const { desc, indexes } = load('trixie');
  const m = taskMembers(desc.get('japanese-gnome-desktop')!, indexes, new Excludes());
  t.same(plain(m.state).default, {
    thunderbird: 'amd64',
    'thunderbird-l10n-ja': 'amd64,s390x',
    'ibus-mozc | ibus-anthy': 'amd64',
    'ibus-anthy': 's390x',
  });
  t.same(m.unavailable, [{ relation: 'thunderbird', kind: 'default', reason: 'not in the index', arches: ['s390x'] }]);
  // forky builds thunderbird for s390x
  const forky = load('forky');
  t.same(plain(taskMembers(forky.desc.get('japanese-gnome-desktop')!, forky.indexes, new Excludes()).state).default, {
    'ibus-mozc | ibus-anthy': 'amd64',
    'ibus-anthy': 's390x',
  });
});

t.test('the standard task: priority required/important/standard outside lib*', async (t) => {
  const { desc, indexes } = load('trixie');
  const m = taskMembers(desc.get('standard')!, indexes, new Excludes());
  t.same(plain(m.state), {
    description: 'standard system utilities',
    mandatory: {
      bash: 'amd64,s390x',
      less: 'amd64,s390x',
      'openssh-client': 'amd64,s390x',
      dmidecode: 'amd64',
      's390-tools': 's390x',
    },
    default: {},
  });
});

t.test('excludes: global, per task, patterns, one alternative', async (t) => {
  const { desc, indexes } = load('trixie');
  const ex = new Excludes({
    packages: ['tasksel'],
    patterns: ['thunderbird(-.*)?'],
    'per-task': { 'japanese-gnome-desktop': { packages: ['ibus-mozc'] }, 'ssh-server': null },
  });
  const m = taskMembers(desc.get('japanese-gnome-desktop')!, indexes, ex);
  t.same(plain(m.state), {
    description: 'Japanese GNOME desktop',
    mandatory: {},
    default: { 'ibus-anthy': 'amd64,s390x' },
  });
  t.same(
    m.excluded.map((n) => [n.relation, n.reason, n.arches.join(',')]),
    [
      ['tasksel (= 3.81)', 'excluded: tasksel', 'amd64,s390x'],
      ['thunderbird', 'excluded by /thunderbird(-.*)?/', 'amd64,s390x'],
      ['thunderbird-l10n-ja', 'excluded by /thunderbird(-.*)?/', 'amd64,s390x'],
    ],
  );
  const std = taskMembers(
    desc.get('standard')!,
    indexes,
    new Excludes({ 'per-task': { standard: { patterns: ['s390-.*', 'bash'] } } }),
  );
  t.same(Object.keys(plain(std.state).mandatory).sort(), ['dmidecode', 'less', 'openssh-client']);
  t.equal(std.excluded.length, 2);
});

t.test('a task whose Key package is missing on an arch; mandatory wins over default', async (t) => {
  const { desc, indexes } = load('trixie');
  const m = taskMembers(desc.get('japanese')!, indexes, new Excludes());
  t.same(m.missingOn, ['amd64', 's390x']);
  t.equal(m.state.description, 'japanese', 'no Description anywhere: the name');
  const both = parsePackagesIndex(
    'Package: task-x\nDepends: a, b\nRecommends: a | c, b, d\n\nPackage: a\n\nPackage: b\n\nPackage: d\n',
    'P',
    'amd64',
  );
  const x = taskMembers(
    {
      name: 'x',
      key: ['task-x'],
      packages: undefined,
      description: 'X',
      parent: undefined,
      section: undefined,
      file: 'd',
      line: 1,
    },
    [both],
    new Excludes(),
  );
  t.same(plain(x.state), { description: 'X', mandatory: { a: 'amd64', b: 'amd64' }, default: { d: 'amd64' } });
});

t.test('unsupported Packages methods are a positioned error', async (t) => {
  const d = {
    name: 'odd',
    key: [],
    packages: 'list',
    description: undefined,
    parent: undefined,
    section: undefined,
    file: 'x.desc',
    line: 7,
  };
  t.throws(() => taskMembers(d, [], new Excludes()), {
    message: "x.desc:7:1: task 'odd': Packages method 'list' is not supported (only Key packages and 'standard')",
  });
});
