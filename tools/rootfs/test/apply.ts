import t from 'tap';
import { join } from 'node:path';
import { treefileForImage } from '../src/apply.js';
import { treefile } from './fixtures/treefile.js';

t.test('the treefile recorded in the image carries no host paths', async (t) => {
  const a = t.testdir({ 'motd.txt': 'hello\n', 'post.sh': '#!/bin/sh\ntrue\n' });
  const b = t.testdir({ 'motd.txt': 'hello\n', 'post.sh': '#!/bin/sh\ntrue\n' });
  const at = (dir: string) =>
    treefile({
      'add-files': [[join(dir, 'motd.txt'), '/usr/share/motd']],
      'postprocess-script': join(dir, 'post.sh'),
    } as never);
  const ia = await treefileForImage(at(a));
  const ib = await treefileForImage(at(b));
  t.same(ia, ib, 'two checkouts in different places record the same treefile');
  t.same(ia['add-files'], [
    ['sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03', '/usr/share/motd'],
  ]);
  t.match(ia['postprocess-script'], /^sha256:[0-9a-f]{64}$/);
  t.same(await treefileForImage(treefile()), treefile(), 'nothing to rewrite');
});
