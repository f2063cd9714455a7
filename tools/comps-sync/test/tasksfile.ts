import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emptyState, entryOfState, loadTasksFile, sameEntry, stateOfEntry } from '../src/tasksfile.js';

t.test("load a tasks file (the format is treefile-lint's)", async (t) => {
  const dir = t.testdir({
    'tasks.yaml': `# header
tasks:
  ssh-server:
    description: SSH server
    packages: [openssh-server]
    recommends-s390x: [s390-tools]
  gnome-desktop:
    description: GNOME
`,
  });
  const f = await loadTasksFile(join(dir, 'tasks.yaml'));
  t.same([...f.tasks.keys()], ['ssh-server', 'gnome-desktop']);
  t.same(f.tasks.get('ssh-server'), {
    description: 'SSH server',
    packages: ['openssh-server'],
    'recommends-s390x': ['s390-tools'],
  });
  t.equal(f.loaded.text.slice(0, 8), '# header');
  const empty = await loadTasksFile(join(t.testdir({ 't.yaml': 'tasks: {}\n' }), 't.yaml'));
  t.equal(empty.tasks.size, 0);
});

t.test('malformed tasks files give positioned errors', async (t) => {
  const dir = t.testdir({});
  const cases: [string, string, string?][] = [
    [
      'tasks:\n  a:\n    description: A\n    recomends: [x]\n',
      "t.yaml:4:5: unknown key 'recomends' (did you mean 'recommends'?)",
    ],
    [
      'tasks:\n  a:\n    description: A\n    packages-amd46: [x]\n',
      "t.yaml:4:5: unknown key 'packages-amd46' (did you mean 'packages-amd64'?)",
    ],
    [
      'tasks:\n  a:\n    description: A\n    packages: [1]\n',
      't.yaml:4:16: tasks.a.packages.0: expected string, found number 1',
    ],
    [
      'tasks:\n  a:\n    description: A\n    packages: [Vim]\n',
      't.yaml:4:16: tasks.a.packages.0: not a valid task entry (a package name, or alternatives "a | b") (found the string "Vim")',
    ],
    ['tasks:\n  a:\n    packages: [vim]\n', "t.yaml:3:5: missing required key 'description' (expected string)"],
    [
      'task:\n  a: {}\n',
      "t.yaml:1:1: missing required key 'tasks' (expected record)",
      "t.yaml:1:1: unknown key 'task' (did you mean 'tasks'?)",
    ],
    ['tasks: [a\n', 't.yaml:2:1: YAML syntax: '],
    ['', "t.yaml:1:1: empty file: expected a mapping with a 'tasks' key"],
    ['# only a comment\n', "t.yaml:1:1: empty file: expected a mapping with a 'tasks' key"],
  ];
  for (const [text, message, detail] of cases) {
    writeFileSync(join(dir, 't.yaml'), text);
    const e = (await loadTasksFile(join(dir, 't.yaml')).catch((e: unknown) => e)) as {
      summary: string;
      detail?: string;
      exitCode: number;
    };
    const summary = e.summary.replace(dir + '/', '');
    if (message.endsWith(': ')) t.ok(summary.startsWith(message), summary);
    else t.equal(summary, message, JSON.stringify(text));
    if (detail) t.equal(e.detail?.replace(dir + '/', ''), detail);
    t.equal(e.exitCode, 2);
  }
});

t.test('entries ↔ states', async (t) => {
  const arches = ['amd64', 's390x'];
  const entry = {
    description: 'D',
    packages: ['b', 'a|c'],
    'packages-amd64': ['m'],
    recommends: ['r'],
    'recommends-s390x': ['z'],
    'recommends-riscv64': ['old'],
  };
  const st = stateOfEntry(entry, arches);
  t.same(
    [...st.members.mandatory].map(([e, on]) => [e, [...on]]),
    [
      ['b', ['amd64', 's390x']],
      ['a | c', ['amd64', 's390x']],
      ['m', ['amd64']],
    ],
  );
  t.same([...st.members.default.get('old')!], ['riscv64']);
  t.same(entryOfState(st, arches), {
    description: 'D',
    packages: ['a | c', 'b'],
    'packages-amd64': ['m'],
    recommends: ['r'],
    'recommends-s390x': ['z'],
    'recommends-riscv64': ['old'],
  });
  t.same(entryOfState(emptyState(), arches), {});
  t.same(stateOfEntry(null, arches), emptyState());
  const canonical = entryOfState(stateOfEntry({ description: 'D', packages: ['a'] }, arches), arches);
  t.ok(sameEntry({ description: 'D', packages: ['a'] }, canonical));
  t.notOk(sameEntry({ packages: ['a'], description: 'D' }, canonical), 'key order matters');
  t.notOk(sameEntry({ description: 'D', packages: ['a', 'a'] }, canonical));
  t.notOk(sameEntry({ description: 'E', packages: ['a'] }, canonical));
  t.notOk(sameEntry(null, canonical));
  t.notOk(sameEntry({ description: 'D', packages: ['a'], recommends: [] }, canonical), 'empty lists are left out');
});
