import t from 'tap';
import { linkTargetWithin } from '../src/tree.js';

t.test('symlink targets are resolved inside the tree or rejected', async (t) => {
  t.equal(linkTargetWithin('bin', 'usr/bin'), 'usr/bin');
  t.equal(linkTargetWithin('usr/sbin/init', '../lib/systemd/systemd'), 'usr/lib/systemd/systemd');
  t.equal(linkTargetWithin('etc/os-release', '../usr/lib/os-release'), 'usr/lib/os-release');
  t.equal(linkTargetWithin('etc/x', '/usr/share/x'), 'usr/share/x', 'absolute targets are inside the tree');
  t.equal(linkTargetWithin('etc/x', '../../outside'), null);
  t.equal(linkTargetWithin('a', '..'), null);
  t.equal(linkTargetWithin('a/b/c', '../../../../etc/passwd'), null);
  t.equal(linkTargetWithin('a/b/c', '../../x/../../y'), null, 'climbing out and back is still out');
  t.equal(linkTargetWithin('a/b/c', './d/../e'), 'a/b/e');
});
