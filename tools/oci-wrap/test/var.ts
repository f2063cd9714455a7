/** The image's /var from tmpfiles.d lines (var.ts): what a container run from the image finds. */
import t from 'tap';
import { presentVar } from '../src/var.js';
import type { TreeFile } from '../src/tree.js';

const accounts = {
  users: new Map([
    ['root', 0],
    ['_apt', 42],
  ]),
  groups: new Map([
    ['root', 0],
    ['adm', 4],
  ]),
};
const file = (path: string): TreeFile => ({ path, symlink: false, size: 1, checksum: 'a'.repeat(64) });
const names = (r: ReturnType<typeof presentVar>) =>
  r.entries.map((e) => `${e.type[0]} ${e.name}${e.linkname ? ` -> ${e.linkname}` : ''}`);

t.test('d, L and C lines, parents, owners by name or number', async (t) => {
  const r = presentVar(
    new Map([
      [
        'debian-atomic-var.conf',
        'd /var/lib/apt/lists/partial 0700 _apt root -\nd /var/log/x 2755 1001 adm -\nL /var/lib/dpkg - - - - ../../usr/lib/sysimage/dpkg\nC /var/lib/pam/seen - - - -\nC /var/lib/missing - - - -\n',
      ],
    ]),
    accounts,
    [file('usr/share/factory/var/lib/pam/seen'), file('usr/bin/x')],
  );
  t.same(names(r), [
    'd var/lib',
    'd var/lib/apt',
    'd var/lib/apt/lists',
    'd var/lib/apt/lists/partial',
    's var/lib/dpkg -> ../../usr/lib/sysimage/dpkg',
    'd var/lib/pam',
    'd var/log',
    'd var/log/x',
  ]);
  t.match(
    r.entries.find((e) => e.name === 'var/lib/apt/lists/partial'),
    { mode: 0o700, uid: 42, gid: 0 },
  );
  t.match(
    r.entries.find((e) => e.name === 'var/log/x'),
    { mode: 0o2755, uid: 1001, gid: 4 },
  );
  t.match(
    r.entries.find((e) => e.name === 'var/lib'),
    { mode: 0o755, uid: 0, gid: 0 },
    'a parent without a line',
  );
  t.same(
    [...r.copies.keys()],
    ['var/lib/pam/seen'],
    'C copies the factory file; one without a factory file is left out',
  );
});

t.test('precedence, masking by name order, escapes, specifiers, paths outside /var', async (t) => {
  const r = presentVar(
    new Map([
      [
        '00-first.conf',
        'd /var/tmp 1777 root root 30d\n# a comment\n\nd /var/%h 0755 - - -\nd /var/with\\x20space 0755 - - -\n',
      ],
      [
        '50-later.conf',
        'd /var/tmp 0755 root root -\nd /run/foo 0755 root root -\nd /var/../etc 0755 - - -\nL+ /var/run - - - - ../run\nd /var/run/sub 0755 - - -\nq /var/q 0711 - - -\nx /var/ignored\n',
      ],
    ]),
    accounts,
    [],
  );
  t.same(names(r), ['d var/q', 's var/run -> ../run', 'd var/tmp', 'd var/with space']);
  t.match(
    r.entries.find((e) => e.name === 'var/tmp'),
    { mode: 0o1777 },
    'the first file by name wins',
  );
  t.match(
    r.entries.find((e) => e.name === 'var/q'),
    { mode: 0o711 },
  );
});

t.test('an empty configuration presents nothing', async (t) => {
  t.same(presentVar(new Map(), accounts, []), { entries: [], copies: new Map() });
});
