import t from 'tap';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, ToolError } from '@debian-atomic/lib';
import { ShaCache } from '../src/cache.js';
import { loadFromMirror, loadOffline, pairPackagesFiles } from '../src/sources.js';
import { buildMirror, fixture, makeKey, serve } from './fixtures/mirror.js';

t.test('pairing --packages files with --arch', async (t) => {
  t.same(
    [...pairPackagesFiles(['a', 'b'], ['amd64', 's390x'])],
    [
      ['amd64', 'a'],
      ['s390x', 'b'],
    ],
  );
  t.same(
    [...pairPackagesFiles(['s390x=b', 'a'], ['amd64', 's390x'])],
    [
      ['s390x', 'b'],
      ['amd64', 'a'],
    ],
  );
  t.same([...pairPackagesFiles(['x=y'], ['amd64'])], [['amd64', 'x=y']], 'not an arch: a file name');
  t.throws(() => pairPackagesFiles(['a'], ['amd64', 's390x']), {
    message: '--packages: 1 file(s) for 2 arch(es) (amd64, s390x)',
  });
  t.throws(() => pairPackagesFiles(['arm64=a'], ['amd64']), {
    message: '--packages arm64=a: arm64 is not in --arch amd64',
  });
});

t.test('offline: desc or tasksel-data .deb, Packages or Packages.xz', async (t) => {
  const dir = t.testdir({});
  copyFileSync(fixture('trixie', 'Packages-s390x'), join(dir, 'Packages-s390x'));
  await run('xz', [join(dir, 'Packages-s390x')]);
  const s = await loadOffline(
    fixture('trixie', 'tasksel-data_3.81_all.deb'),
    [fixture('trixie', 'Packages-amd64'), join(dir, 'Packages-s390x.xz')],
    ['amd64', 's390x'],
  );
  t.ok(s.tasks.has('kde-desktop'), 'the full desc from the real .deb');
  t.same(
    s.indexes.map((i) => [i.arch, i.packages.has('s390-tools')]),
    [
      ['amd64', false],
      ['s390x', true],
    ],
  );
  t.same(s.source, {
    desc: fixture('trixie', 'tasksel-data_3.81_all.deb'),
    packages: { amd64: fixture('trixie', 'Packages-amd64'), s390x: join(dir, 'Packages-s390x.xz') },
  });
  const plain = await loadOffline(
    fixture('forky', 'debian-tasks.desc'),
    [fixture('forky', 'Packages-amd64')],
    ['amd64'],
  );
  t.equal(plain.tasks.size, 7);
  const missing = (await loadOffline(join(dir, 'nope.desc'), [fixture('forky', 'Packages-amd64')], ['amd64']).catch(
    (e: unknown) => e,
  )) as ToolError;
  t.match(missing.summary, /nope\.desc: cannot read: no such file$/);
  t.equal(missing.exitCode, 2);
  const notDeb = (await loadOffline(fixture('forky', 'Packages-amd64') + '.deb', [], []).catch(
    (e: unknown) => e,
  )) as ToolError;
  // Unreadable input is exit 2 (it was dpkg-deb's failure, exit 1, before the hostile-input pass).
  t.equal(notDeb.code, 'input');
  t.equal(notDeb.exitCode, 2);
  t.equal(notDeb.summary, `${fixture('forky', 'Packages-amd64')}.deb: cannot read tasksel-data package: no such file`);
  const dirAsFile = (await loadOffline(fixture('trixie'), [], []).catch((e: unknown) => e)) as ToolError;
  t.match(dirAsFile.summary, /trixie: cannot read: (is )?a directory/);
  t.equal(dirAsFile.exitCode, 2);
});

t.test('from a mirror: verified sources and their provenance', async (t) => {
  const key = await makeKey();
  t.teardown(() => key.close());
  const root = t.testdir({});
  await buildMirror(join(root, 'm'), key);
  const served = await serve(join(root, 'm'));
  t.teardown(() => served.close());
  const notes: string[] = [];
  const s = await loadFromMirror({
    mirror: served.url,
    suite: 'trixie',
    arches: ['amd64'],
    keyring: key.keyring,
    allowExpired: false,
    cache: new ShaCache(join(root, 'cache')),
    progress: (m) => notes.push(m),
  });
  t.ok(s.tasks.has('gnome-desktop'));
  t.equal(s.indexes.length, 1);
  t.match(s.source, {
    mirror: served.url,
    suite: 'trixie',
    release: {
      url: `${served.url}/dists/trixie/InRelease`,
      date: 'Sat, 12 Sep 2026 07:55:41 UTC',
      signers: [/^[0-9A-F]{40}$/],
    },
    packages: { amd64: { sha256: /^[0-9a-f]{64}$/ } },
    taskselData: { version: '3.81', sha256: 'd9914ef286d747f04dd630d0eb135573671a51834c77fcef1ae6390c48b4da2b' },
  });
  t.match(notes, [
    /^verified .*InRelease \(\d+\.\d s\)$/,
    /^fetched .*Packages|by-hash/,
    /^fetched .*tasksel-data_3\.81_all\.deb/,
  ]);
});

t.test('a suite without tasksel-data', async (t) => {
  const key = await makeKey();
  t.teardown(() => key.close());
  const root = t.testdir({});
  await buildMirror(join(root, 'm'), key);
  const served = await serve(join(root, 'm'));
  t.teardown(() => served.close());
  // s390x's excerpt has tasksel-data too; an index without it is an error naming the index.
  served.fail.set('/pool/main/t/tasksel/tasksel-data_3.81_all.deb', [404]);
  const e = (await loadFromMirror({
    mirror: served.url,
    suite: 'trixie',
    arches: ['amd64'],
    keyring: key.keyring,
    allowExpired: false,
    cache: new ShaCache(join(root, 'c')),
    http: { retries: 0 },
  }).catch((e: unknown) => e)) as ToolError;
  t.match(e.summary, /tasksel-data_3\.81_all\.deb: HTTP 404 Not Found$/);
});
