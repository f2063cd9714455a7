/**
 * Derived images: the tiny image with filesystem layers added (as podman adds them for a
 * Containerfile's RUN), imported as a new commit on top of the tiny commit.
 */
import t from 'tap';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BASE_KEY, derivedPath, DERIVED_TMPFILES, LAYERS_KEY, MANIFEST_DIGEST_KEY } from '../src/derived.js';
import { importImage } from '../src/import.js';
import { deriveImage, tarOf, type Item } from './fixtures/layout.js';
import { ociWrap, ostreeIn, REF, tinyCommit } from './fixtures/tiny.js';

t.test('where a layer entry goes', async (t) => {
  const cases: [string, string | { filtered: string }][] = [
    ['usr/bin/x', 'usr/bin/x'],
    ['etc/x.conf', 'usr/etc/x.conf'],
    ['etc', 'usr/etc'],
    ['etcc/x', { filtered: 'etcc' }],
    ['var/lib/foo', 'var/lib/foo'],
    ['var/lib/dpkg', 'usr/lib/sysimage/dpkg'],
    ['var/lib/dpkg/status', 'usr/lib/sysimage/dpkg/status'],
    ['var/lib/dpkgx', 'var/lib/dpkgx'],
    ['tmp', 'tmp'],
    ['tmp/x', { filtered: 'tmp' }],
    ['run/lock/x', { filtered: 'run' }],
    ['boot/vmlinuz', { filtered: 'boot' }],
    ['opt/x', { filtered: 'opt' }],
    ['', ''],
  ];
  for (const [name, want] of cases) t.same(derivedPath(name), typeof want === 'string' ? { path: want } : want, name);
});

const PASSWD =
  'root:x:0:0:root:/root:/bin/sh\n_svc:x:120:120:Service:/nonexistent:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/sh\n';
const GROUP = 'root:x:0:\nshadow:x:42:\n_svc:x:120:\nalice:x:1000:\n';
const STATUS = 'Package: hello\nVersion: 1\n\nPackage: added\nVersion: 2\n';

const LAYER1: Item[] = [
  { name: 'usr/', type: 'directory', mode: 0o755 },
  { name: 'usr/bin/', type: 'directory', mode: 0o755 },
  { name: 'usr/bin/added', mode: 0o755, content: '#!/bin/sh\necho added\n' },
  { name: 'usr/bin/added2', type: 'link', linkname: 'usr/bin/added' },
  { name: 'usr/bin/added-link', type: 'symlink', linkname: 'added' },
  { name: 'usr/bin/suid', mode: 0o4755, gid: 42, content: 'suid' },
  { name: 'usr/share/hello/.wh.empty', content: '' },
  { name: 'etc/', type: 'directory', mode: 0o755 },
  { name: 'etc/added.conf', content: 'key=value\n' },
  { name: 'etc/added-hl.conf', type: 'link', linkname: 'etc/added.conf' },
  { name: 'etc/passwd', content: PASSWD },
  { name: 'etc/group', content: GROUP },
  { name: 'var/', type: 'directory', mode: 0o755 },
  { name: 'var/lib/', type: 'directory', mode: 0o755 },
  { name: 'var/lib/foo/', type: 'directory', mode: 0o750, uid: 120, gid: 120 },
  { name: 'var/lib/foo/data', content: 'state\n', uid: 120 },
  { name: 'var/lib/foo/current', type: 'symlink', linkname: 'data' },
  { name: 'var/log/', type: 'directory', mode: 0o755 },
  { name: 'var/log/apt/', type: 'directory', mode: 0o755 },
  { name: 'var/log/apt/history.log', content: 'log\n' },
  { name: 'var/lib/dpkg/status', content: STATUS },
  { name: 'tmp/junk', content: 'x' },
  { name: 'boot/extra', content: 'x' },
  { name: 'opt/tool/bin', content: 'x' },
];
const LAYER2: Item[] = [
  { name: 'usr/lib/shim/.wh..wh..opq', content: '' },
  { name: 'usr/lib/shim/new.efi', content: 'new' },
  { name: 'var/lib/dpkg', type: 'symlink', linkname: '../../usr/lib/sysimage/dpkg' },
  { name: 'usr/lib/sysimage/dpkg/info/added.list', content: '/usr/bin/added\n' },
];

/** `ostree ls -R` of a commit: path → [mode and owner, checksum]. */
async function listing(repo: string, commit: string): Promise<Map<string, { meta: string; checksum: string }>> {
  const out = await ostreeIn(repo, 'ls', '-R', '-C', commit);
  const m = new Map<string, { meta: string; checksum: string }>();
  for (const line of out.split('\n')) {
    const r = /^([dl-][0-7]{5} +\d+ +\d+) +\d+ ([0-9a-f]{64})(?: [0-9a-f]{64})? (\/.*?)(?: -> .*)?$/.exec(line);
    if (r) m.set(r[3]!, { meta: r[1]!.replace(/ +/g, ' '), checksum: r[2]! });
  }
  return m;
}

async function tinyImage(t: typeof import('tap').default): Promise<{ dir: string; layout: string; base: string }> {
  const dir = t.testdir();
  const base = await tinyCommit(dir, join(dir, 'repo'));
  const r = ociWrap(['--repo', join(dir, 'repo'), '--ref', REF, '--output', `oci:${dir}/image:base`]);
  if (r.status !== 0) throw new Error(r.stderr);
  return { dir, layout: join(dir, 'image'), base };
}

t.test('derived layers become a commit on top of the base commit', async (t) => {
  const { dir, layout, base } = await tinyImage(t);
  await deriveImage(layout, 'base', 'derived', [tarOf(LAYER1), tarOf(LAYER2)], {
    created: '2026-01-02T03:04:05Z',
    labels: { 'org.opencontainers.image.version': '13.derived.1' },
  });
  const repo = join(dir, 'imported');
  const r = await importImage({ source: `oci:${layout}:derived`, repo });
  t.match(r, { base, derived: 2, layers: 8, ref: REF, filtered: { boot: 1, opt: 1, tmp: 1 } });
  const commit = r.commit;
  t.not(commit, base);
  t.equal((await ostreeIn(repo, 'rev-parse', REF)).trim(), commit);
  t.equal((await ostreeIn(repo, 'rev-parse', `${commit}^`)).trim(), base, 'the base commit is the parent');
  t.match(await ostreeIn(repo, 'show', commit), /Date: +2026-01-02 03:04:05 \+0000/, 'dated by the image config');
  t.match(await ostreeIn(repo, 'show', '--print-metadata-key=version', commit), /13\.derived\.1/);
  t.match(await ostreeIn(repo, 'show', `--print-metadata-key=${BASE_KEY}`, commit), base);
  t.match(
    await ostreeIn(repo, 'show', `--print-metadata-key=${LAYERS_KEY}`, commit),
    /^'sha256:[0-9a-f]{64},sha256:[0-9a-f]{64}'/,
  );
  t.match(await ostreeIn(repo, 'show', '--print-metadata-key=ostree.bootable', commit), /true/, 'still bootable');
  t.equal(
    (await ostreeIn(repo, 'show', '--print-metadata-key=ostree.ref-binding', commit)).trim(),
    `['${REF}']`,
    "bound to the base's ref, so a pull by that ref takes it (disk-image --oci)",
  );
  t.equal(
    (await ostreeIn(repo, 'show', `--print-metadata-key=${MANIFEST_DIGEST_KEY}`, commit)).trim(),
    `'${r.digest}'`,
    'the manifest digest, as ostree-ext records it',
  );

  const ls = await listing(repo, commit);
  const cat = (p: string) => ostreeIn(repo, 'cat', commit, p);
  t.equal(await cat('/usr/bin/added'), '#!/bin/sh\necho added\n');
  t.equal(ls.get('/usr/bin/added')?.meta, '-00755 0 0');
  t.equal(ls.get('/usr/bin/added2')?.checksum, ls.get('/usr/bin/added')?.checksum, 'hardlink');
  t.equal(ls.get('/usr/bin/added-link')?.meta, 'l00777 0 0');
  t.equal(ls.get('/usr/bin/suid')?.meta, '-04755 0 42', 'setuid and group kept');
  t.equal(ls.get('/usr/bin/chage')?.meta, '-02755 0 42', 'the base files keep their owners');
  t.equal(await cat('/usr/bin/hello'), '#!/bin/sh\necho hello 1\n', 'base content kept');
  t.notOk(ls.has('/usr/share/hello/empty'), 'whiteout removed the base file');
  t.notOk(ls.has('/usr/share/hello/.wh.empty'), 'no whiteout file left');
  t.same(
    [...ls.keys()].filter((p) => p.startsWith('/usr/lib/shim/')),
    ['/usr/lib/shim/new.efi'],
    "opaque directory: the lower content gone, the layer's own kept",
  );

  t.equal(await cat('/usr/etc/added.conf'), 'key=value\n', '/etc → /usr/etc');
  t.equal(
    ls.get('/usr/etc/added-hl.conf')?.checksum,
    ls.get('/usr/etc/added.conf')?.checksum,
    'hardlink in /etc remapped',
  );
  t.notOk(
    [...ls.keys()].some((p) => p.startsWith('/etc')),
    'no /etc',
  );
  t.match(await cat('/usr/etc/passwd'), /^alice:x:1000:1000::\/var\/home\/alice:\/bin\/sh$/m, 'homes in /var/home');
  const sysusers = await cat('/usr/lib/sysusers.d/debian-atomic.conf');
  t.match(sysusers, /^u _svc 120:_svc Service/m, 'the added system user is a sysusers entry');
  t.notMatch(sysusers, /alice/, 'a regular user is not');

  t.equal(await cat('/usr/lib/sysimage/dpkg/status'), STATUS, 'var/lib/dpkg → the database in /usr');
  t.equal(
    await cat('/usr/lib/sysimage/dpkg/info/added.list'),
    '/usr/bin/added\n',
    'written through the /var/lib/dpkg link',
  );
  t.notOk(ls.get('/usr/lib/sysimage/dpkg')?.meta.startsWith('l'), 'the database is still a directory');

  t.same(
    [...ls.keys()].filter((p) => p.startsWith('/var/')),
    [],
    '/var is empty',
  );
  t.equal(await cat('/usr/share/factory/var/lib/foo/data'), 'state\n', '/var files in /usr/share/factory');
  t.notOk(ls.has('/usr/share/factory/var/log/apt/history.log'), 'logs dropped');
  t.equal(
    await cat(`/${DERIVED_TMPFILES}`),
    [
      '# Generated by oci-wrap: what the derived layers put in /var, recreated at boot by systemd-tmpfiles.',
      'd /var/lib 0755 root root -',
      'd /var/lib/foo 0750 _svc _svc -',
      'L /var/lib/foo/current - - - - data',
      'C /var/lib/foo/data - - - -',
      'd /var/log 0755 root root -',
      'd /var/log/apt 0755 root root -',
      '',
    ].join('\n'),
  );
  t.same(
    [...ls.keys()].filter((p) => /^\/(tmp|boot|opt|run)\//.test(p)),
    [],
    '/tmp, /boot, /opt content dropped',
  );

  // The same layers again, in a new layout: the same commit.
  const again = await importImage({ source: `oci:${layout}:derived`, repo: join(dir, 'again') });
  t.equal(again.commit, commit, 'reproducible');
});

t.test('hostile derived layers: refused, nothing left', async (t) => {
  const { dir, layout } = await tinyImage(t);
  const cases: [string, Item[][], RegExp][] = [
    ['traversal', [[{ name: '../outside', content: 'x' }]], /path traversal/],
    [
      'write through an absolute symlink',
      [
        [
          { name: 'usr/lib/evil', type: 'symlink', linkname: '/' },
          { name: 'usr/lib/evil/etc/x', content: 'x' },
        ],
      ],
      /goes through the symlink usr\/lib\/evil/,
    ],
    [
      'through a symlink of an earlier derived layer',
      [[{ name: 'etc/evil', type: 'symlink', linkname: '/etc' }], [{ name: 'etc/evil/.wh.passwd', content: '' }]],
      /goes through the symlink etc\/evil/,
    ],
    [
      'a whiteout through a base symlink',
      [[{ name: 'etc/os-release/.wh.x', content: '' }]],
      /goes through the symlink etc\/os-release/,
    ],
    [
      "a dropped entry's name is still checked",
      [
        [
          { name: 'bin/.wh.hello', content: '' },
          { name: '../x', content: '' },
        ],
      ],
      /path traversal/,
    ],
    [
      'a symlink climbing out',
      [[{ name: 'usr/x', type: 'symlink', linkname: '../../../..' }]],
      /symlink escapes the root/,
    ],
    [
      'a hardlink to a base file',
      [[{ name: 'usr/bin/h', type: 'link', linkname: 'usr/bin/hello' }]],
      /not a file of the same layer/,
    ],
  ];
  for (const [i, [what, layers, why]] of cases.entries()) {
    await deriveImage(layout, 'base', `bad${i}`, layers.map(tarOf));
    const repo = join(dir, `repo-${i}`);
    await t.rejects(
      importImage({ source: `oci:${layout}:bad${i}`, repo }),
      { code: 'unsafe-entry', message: why },
      what,
    );
    await t.rejects(stat(repo), `${what}: no repository left`);
  }
  await t.rejects(stat(join(dir, 'outside')), 'nothing written outside');
});
