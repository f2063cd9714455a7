import t from 'tap';
import { join, resolve } from 'node:path';
import { ToolError } from '@debian-atomic/lib';
import { expandTasks, firstAlternative, loadTasksFile, TasksFiles } from '../src/tasks.js';

const variants = resolve(import.meta.dirname, '../../../variants/tasks');

t.test('the first alternative is what gets installed', async (t) => {
  t.equal(firstAlternative('network-manager-gnome | network-manager'), 'network-manager-gnome');
  t.equal(firstAlternative('a|b'), 'a');
  t.equal(firstAlternative('vim'), 'vim');
});

t.test('expandTasks: mandatory + default, per architecture, sorted and unique', async (t) => {
  const out = expandTasks([
    {
      description: 'one',
      packages: ['b', 'a | z'],
      recommends: ['c'],
      'packages-arm64': ['uboot-x'],
      'recommends-amd64': ['microcode-y'],
    },
    { description: 'two', packages: ['a'], recommends: ['b', 'd'] },
  ]);
  t.same(out, { packages: ['a', 'b', 'c', 'd'], 'packages-arm64': ['uboot-x'], 'packages-amd64': ['microcode-y'] });
  t.same(expandTasks([]), {});
  t.same(expandTasks([{ description: 'empty', packages: [] }]), {});
});

t.test('the seeded variants/tasks/tasks.yaml is valid and has the four tasks', async (t) => {
  const tf = await loadTasksFile(join(variants, 'tasks.yaml'));
  t.same(tf.diagnostics, []);
  t.same([...tf.tasks.keys()].sort(), ['gnome-desktop', 'kde-desktop', 'ssh-server', 'standard']);
  t.same(tf.tasks.get('ssh-server')?.packages, ['openssh-server']);
});

t.test('an invalid task keeps the valid ones and is reported in the tasks file', async (t) => {
  const dir = t.testdir({
    'tasks.yaml':
      'tasks:\n  good:\n    description: Good\n    packages: [vim]\n  bad:\n    description: Bad\n    packages: [Vim]\n    recomends: []\n',
    'syntax.yaml': 'tasks: [\n',
    'notmap.yaml': 'tasks: 3\n',
  });
  const tf = await loadTasksFile(join(dir, 'tasks.yaml'));
  t.same([...tf.tasks.keys()], ['good']);
  t.same(tf.names, ['good', 'bad']);
  t.same(
    tf.diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`),
    [
      '7:16: tasks.bad.packages.0: not a valid task entry (a package name, or alternatives "a | b") (found the string "Vim")',
      "8:5: unknown key 'recomends' (did you mean 'recommends'?)",
    ],
  );
  const syntax = await loadTasksFile(join(dir, 'syntax.yaml'));
  t.equal(syntax.tasks.size, 0);
  t.match(syntax.diagnostics[0]?.message, /^YAML syntax: /);
  const notmap = await loadTasksFile(join(dir, 'notmap.yaml'));
  t.same(notmap.names, []);
  t.match(notmap.diagnostics[0]?.message, /tasks: expected record, found number 3/);
});

t.test('TasksFiles reads each file once and keeps read errors as values', async (t) => {
  const dir = t.testdir({ 'tasks.yaml': 'tasks: {}\n' });
  const files = new TasksFiles();
  const a = await files.get(join(dir, 'tasks.yaml'));
  const b = await files.get(join(dir, '.', 'tasks.yaml'));
  t.equal(a, b);
  const missing = await files.get(join(dir, 'nope.yaml'));
  t.ok(missing instanceof ToolError);
  t.match((missing as ToolError).summary, /nope\.yaml: cannot read: no such file/);
});
