import t from 'tap';
import { readFileSync } from 'node:fs';
import { ToolError } from '@debian-atomic/lib';
import {
  isAvailable,
  PACKAGES_LIMITS,
  PackagesIndexReader,
  parsePackagesIndex,
  relationsOf,
  type PackagesLimits,
} from '../src/packages.js';
import { fixture } from './fixtures/mirror.js';

t.test('a real trixie excerpt', async (t) => {
  const idx = parsePackagesIndex(readFileSync(fixture('trixie', 'Packages-amd64'), 'utf8'), 'Packages-amd64', 'amd64');
  t.equal(idx.arch, 'amd64');
  const task = idx.packages.get('task-gnome-desktop')!;
  t.equal(task.version, '3.81');
  t.equal(task.synopsis, 'GNOME');
  t.equal(task.depends?.value, 'tasksel (= 3.81), task-desktop, gnome-core');
  t.equal(task.recommends?.value, 'gnome');
  const data = idx.packages.get('tasksel-data')!;
  t.equal(data.filename, 'pool/main/t/tasksel/tasksel-data_3.81_all.deb');
  t.equal(data.sha256, 'd9914ef286d747f04dd630d0eb135573671a51834c77fcef1ae6390c48b4da2b');
  t.equal(data.size, 17988);
  t.equal(idx.packages.get('bash')!.priority, 'required');
  t.equal(idx.packages.get('libc6')!.section, 'libs');
  t.ok(isAvailable(idx, 'ibus-mozc'));
  t.notOk(isAvailable(idx, 's390-tools'));
  t.notOk(isAvailable(idx, 'firefox'));
});

t.test('virtual packages (Provides) are available; duplicates keep the first', async (t) => {
  const idx = parsePackagesIndex(
    'Package: mawk\nVersion: 1\nProvides: awk\n\nPackage: mawk\nVersion: 2\n',
    'P',
    'amd64',
  );
  t.ok(isAvailable(idx, 'awk'));
  t.equal(idx.packages.get('mawk')!.version, '1');
  t.equal(idx.packages.get('mawk')!.size, undefined);
});

t.test('errors are positioned', async (t) => {
  const noName = t.throws(() => parsePackagesIndex('Version: 1\n', 'P', 'amd64')) as unknown as ToolError;
  t.equal(noName.summary, "P:1:1: stanza without a 'Package' field");
  const idx = parsePackagesIndex('Package: task-x\nDepends: a,\n b (>= 1,\n c\n', 'P', 'amd64');
  const e = t.throws(() => relationsOf(idx.packages.get('task-x')!.depends!, 'P')) as unknown as ToolError;
  t.equal(e.summary, 'P:3:2: Depends: malformed relation "b (>= 1"');
  const first = t.throws(() =>
    relationsOf(parsePackagesIndex('Package: y\nDepends: a (\n', 'P', 'amd64').packages.get('y')!.depends!, 'P'),
  ) as unknown as ToolError;
  t.equal(first.summary, 'P:2:10: Depends: malformed relation "a ("');
  t.throws(() => parsePackagesIndex('Package: p\nProvides: Bad Name\n', 'P', 'amd64'), {
    message: /P:2:\d+: Provides: malformed relation/,
  });
});

t.test('streamed in chunks; bounded in stanzas', async (t) => {
  const text = readFileSync(fixture('trixie', 'Packages-amd64'), 'utf8');
  const r = new PackagesIndexReader('P', 'amd64');
  for (let i = 0; i < text.length; i += 1000) r.push(text.slice(i, i + 1000));
  t.same(r.end(), parsePackagesIndex(text, 'P', 'amd64'));
  const limited = (limits: Partial<PackagesLimits>, text: string) => {
    const r = new PackagesIndexReader('P', 'amd64', { ...PACKAGES_LIMITS, ...limits });
    return (
      t.throws(() => {
        r.push(text);
        r.end();
      }) as unknown as ToolError
    ).summary;
  };
  t.equal(
    limited({ stanzas: 2 }, 'Package: a\n\nPackage: b\n\nPackage: c\n'),
    "P:5:1: more than 2 stanzas (is this one architecture's Packages index?)",
  );
  t.equal(
    limited({ kept: 10 }, 'Package: a\nDepends: b, c\n\nPackage: d\nDepends: e, f, g, h, i\n'),
    "P:4:1: more than 10 characters of package data (is this one architecture's Packages index?)",
  );
  t.equal(
    limited({ provides: 3 }, 'Package: a\nProvides: b, c\n\nPackage: d\nProvides: e, f\n'),
    "P:4:1: more than 3 Provides entries (is this one architecture's Packages index?)",
  );
  t.equal(PACKAGES_LIMITS.bytes, 512 << 20);
});
