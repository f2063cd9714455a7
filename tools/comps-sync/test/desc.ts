import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseTaskDescs } from '../src/desc.js';
import { fixture } from './fixtures/mirror.js';

t.test('tasks of a real debian-tasks.desc excerpt', async (t) => {
  const file = fixture('trixie', 'debian-tasks.desc');
  const tasks = parseTaskDescs(readFileSync(file, 'utf8'), file);
  t.same(
    [...tasks.keys()],
    ['desktop', 'gnome-desktop', 'japanese', 'japanese-desktop', 'japanese-gnome-desktop', 'ssh-server', 'standard'],
  );
  const gnome = tasks.get('gnome-desktop')!;
  t.same(gnome.key, ['task-gnome-desktop']);
  t.equal(gnome.parent, 'desktop');
  t.equal(gnome.section, 'user');
  t.equal(gnome.description, undefined);
  t.equal(gnome.packages, undefined);
  t.equal(gnome.line, 8);
  const standard = tasks.get('standard')!;
  t.same(standard.key, []);
  t.equal(standard.packages, 'standard');
  t.equal(standard.description, 'standard system utilities');
});

t.test('malformed desc files', async (t) => {
  t.throws(() => parseTaskDescs('Key: task-a\n', 'd'), { message: "d:1:1: stanza without a 'Task' field" });
  t.throws(() => parseTaskDescs('Task: a\n\nTask: a\n', 'd'), {
    message: "d:3:1: task 'a' defined twice (first at line 1)",
  });
  t.throws(() => parseTaskDescs('\n# nothing\n', 'd'), { message: /d:1:1: no Task stanzas/ });
});
