import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { toolboxRun } from '@debian-atomic/lib';
import { z } from 'zod';
import {
  compareDebianVersions,
  DbDiffSchema,
  DbListSchema,
  diffPackages,
  formatPackageDiff,
  formatPackageList,
  packageDiffJson,
  packageListJson,
  packagesOfCommit,
  parseDpkgStatus,
  splitDebianVersion,
  type Pkg,
} from '../src/db.js';

// [a, b, expected sign of compare(a, b)]: dpkg's rules, one case per rule and the classic traps.
const VERSIONS: [string, string, -1 | 0 | 1][] = [
  ['1.0~rc1', '1.0', -1], // '~' sorts before the end of the string
  ['1:0.1', '2.0', 1], // the epoch wins
  ['1.0-1', '1.0-1+deb13u1', -1], // a stable update
  ['2.30-22', '2.30-3', 1], // revisions compare numerically, not as text
  ['2.30-3', '2.30-22', -1],
  ['1.0', '1.0', 0],
  ['1.0', '1.0-0', 0], // no revision is revision "0"
  ['0:1.0', '1.0', 0], // no epoch is epoch 0
  ['00:1.0', '1.0', 0],
  ['1.2', '1.10', -1],
  ['001', '1', 0], // leading zeros
  ['10:1.0', '2:9.0', 1], // epochs are numbers
  ['1.0~~', '1.0~~a', -1], // Debian policy's example: ~~ < ~~a < ~ < (end) < a
  ['1.0~~a', '1.0~', -1],
  ['1.0~', '1.0', -1],
  ['1.0', '1.0a', -1],
  ['1.0a', '1.0+', -1], // letters before non-letters
  ['1.0a', '1.0.', -1],
  ['1.0+', '1.0.', -1], // non-letters by ASCII: '+' (43) < '.' (46)
  ['1.0+dfsg-1', '1.0-1', 1],
  ['1.0-1', '1.0-1.1', -1],
  ['7.4.052-1', '7.4.052-1+b1', -1], // a binNMU
  ['2.36.1-8+deb11u1', '2.36.1-8+deb11u2', -1],
  ['1:2.30', '2.30-22', 1],
  ['1.00000000000000000000001', '1.2', -1], // a digit run is a number: 1 < 2
  ['12345678901234567890', '12345678901234567891', -1], // past 2^53
  ['99999999999999999999:1', '99999999999999999998:2', 1], // epochs past 2^53
  ['1.0-a-1', '1.0-a-2', -1], // the revision starts after the last '-'
  ['2025b-4', '2025a-1', 1],
  ['9.1.1230-2', '9.1.1230-2~bpo12+1', 1], // a backport sorts before the release
  ['1.0', '1.0.0', -1],
  ['A', 'a', -1], // letters by ASCII
  ['1.0ü', '1.0.', 1], // non-ASCII after everything ('ü' + 256 > '.' + 256)
];

t.test('compareDebianVersions: a table of dpkg cases, both ways round', async (t) => {
  for (const [a, b, want] of VERSIONS) {
    t.equal(compareDebianVersions(a, b), want, `${a} vs ${b}`);
    t.equal(compareDebianVersions(b, a), -want || 0, `${b} vs ${a}`);
  }
});

t.test('compareDebianVersions agrees with dpkg --compare-versions (when dpkg is there)', async (t) => {
  if (spawnSync('dpkg', ['--version']).status !== 0) return t.skip('no dpkg on this host');
  // The table, plus pseudo-random versions built from the characters that matter.
  const alphabet = ['0', '1', '2', '9', '10', '00', 'a', 'z', 'A', '~', '+', '.', '-', '~~'];
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const random = () => {
    let s = String(rand(3));
    for (let i = rand(6); i > 0; i--) s += alphabet[rand(alphabet.length)];
    if (s.endsWith('-')) s += '1';
    return (rand(4) === 0 ? `${rand(3)}:` : '') + s;
  };
  const pairs: [string, string][] = VERSIONS.filter(([a, b]) => !/[ü]|^9{5}|^A$/.test(a + b)).map(([a, b]) => [a, b]);
  for (let i = 0; i < 150; i++) pairs.push([random(), random()]);
  let disagree = 0;
  for (const [a, b] of pairs) {
    const lt = spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0;
    const eq = spawnSync('dpkg', ['--compare-versions', a, 'eq', b]).status === 0;
    const dpkg = lt ? -1 : eq ? 0 : 1;
    if (compareDebianVersions(a, b) !== dpkg) {
      disagree++;
      t.fail(`${a} vs ${b}: dpkg says ${dpkg}, we say ${compareDebianVersions(a, b)}`);
    }
  }
  t.equal(disagree, 0, `${pairs.length} pairs compared with dpkg`);
});

t.test('splitDebianVersion: epoch before the first colon, revision after the last hyphen', async (t) => {
  t.same(splitDebianVersion('1:2.30-22+deb13u1'), { epoch: '1', upstream: '2.30', revision: '22+deb13u1' });
  t.same(splitDebianVersion('2.2.1'), { epoch: '0', upstream: '2.2.1', revision: '' });
  t.same(splitDebianVersion('1:2:3-a-b'), { epoch: '1', upstream: '2:3-a', revision: 'b' });
  t.same(splitDebianVersion('x:1'), { epoch: '0', upstream: 'x:1', revision: '' }, 'a non-numeric epoch is not one');
});

const para = (name: string, version: string, o: { arch?: string; status?: string; extra?: string } = {}) =>
  `Package: ${name}\nStatus: ${o.status ?? 'install ok installed'}\nPriority: optional\n${o.extra ?? ''}Architecture: ${o.arch ?? 'amd64'}\nVersion: ${version}\nDescription: ${name}\n the ${name} package\n .\n more text: with a colon\n`;

t.test('parseDpkgStatus: installed packages only, sorted, with name, version, architecture', async (t) => {
  const text = [
    para('tzdata', '2025b-4', { arch: 'all' }),
    para('libc6', '2.41-12', { extra: 'Multi-Arch: same\n' }),
    para('vim-tiny', '2:9.1.1230-2', { status: 'deinstall ok config-files' }),
    para('hello', '2.10-3', { status: 'hold ok installed' }),
    para('libc6', '2.41-12', { arch: 'i386', extra: 'Multi-Arch: same\n' }),
    para('broken', '1.0-1', { status: 'install ok half-installed' }),
    para('gone', '1.0-1', { status: 'deinstall ok installed' }),
    'Package: nothing\nStatus: purge ok not-installed\n',
  ].join('\n');
  t.same(parseDpkgStatus(text, 'status'), [
    { name: 'gone', version: '1.0-1', architecture: 'amd64' },
    { name: 'hello', version: '2.10-3', architecture: 'amd64' },
    { name: 'libc6', version: '2.41-12', architecture: 'amd64' },
    { name: 'libc6', version: '2.41-12', architecture: 'i386' },
    { name: 'tzdata', version: '2025b-4', architecture: 'all' },
  ]);
  t.same(parseDpkgStatus(text.replaceAll('\n', '\r\n'), 'status').length, 5, 'CRLF line ends');
  t.same(parseDpkgStatus('\n\n' + text + '\n\n\n', 'status').length, 5, 'extra blank lines');
  t.same(parseDpkgStatus('', 'status'), [], 'an empty database');
  t.same(
    parseDpkgStatus('Package: a\nstatus: install ok installed\nVERSION: 1\narchitecture: all\n', 'status'),
    [{ name: 'a', version: '1', architecture: 'all' }],
    'field names are case-insensitive',
  );
});

t.test('parseDpkgStatus: a damaged or hostile database is refused with file:line', async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      'no version',
      'Package: a\nStatus: install ok installed\nArchitecture: amd64\n',
      /^c:\/s:1: installed package with no Version field$/,
    ],
    [
      'no architecture',
      'Package: a\nStatus: install ok installed\nVersion: 1\n',
      /^c:\/s:1: installed package with no Architecture field$/,
    ],
    [
      'escape in a version',
      'Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\x1b[31m\n',
      /^c:\/s:4: Version: "1\\u001b\[31m" is not valid$/,
    ],
    [
      'space in a name',
      'Package: a b\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n',
      /^c:\/s:1: Package: "a b" is not valid$/,
    ],
    [
      'a version continued',
      'Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n 2\n',
      /^c:\/s:4: Version: "1\\n2" is not valid$/,
    ],
    [
      'duplicate field',
      'Package: a\nVersion: 1\nVersion: 2\n',
      /^c:\/s:3: duplicate field 'Version' \(first at line 2\)$/,
    ],
    [
      'twice installed',
      para('a', '1') + '\n' + para('a', '2'),
      /^c:\/s:11: a:amd64 is installed twice \(first at line 1\)$/,
    ],
    [
      'not a field',
      'Package: a\nthis is not deb822\n',
      /^c:\/s:2: expected 'Field: value', found "this is not deb822"$/,
    ],
    ['continuation first', ' orphan\n', /^c:\/s:1: continuation line outside a paragraph$/],
    ['long junk', 'x'.repeat(100), /found "x{40}"…$/],
  ];
  for (const [what, text, message] of cases) {
    t.throws(() => parseDpkgStatus(text, 'c:/s'), { code: 'input', exitCode: 2, summary: message }, what);
  }
});

const pkgs = (...list: [string, string, string?][]): Pkg[] =>
  list.map(([name, version, architecture]) => ({ name, version, architecture: architecture ?? 'amd64' }));

t.test(
  'diffPackages: added, removed, upgraded, downgraded, sorted; arch-qualified where a name has two architectures',
  async (t) => {
    const from = pkgs(
      ['tzdata', '2025b-4', 'all'],
      ['nano', '8.4-1'],
      ['libc6', '2.41-12'],
      ['base-files', '13.8'],
      ['zlib1g', '1:1.3.dfsg+really1.3.1-1'],
      ['foo', '1.0-1', 'all'],
    );
    const to = pkgs(
      ['base-files', '13.8+deb13u1'],
      ['libc6', '2.41-12', 'i386'],
      ['libc6', '2.41-12'],
      ['tree', '2.2.1-1'],
      ['tzdata', '2025a-1', 'all'],
      ['zlib1g', '1:1.3.dfsg+really1.3.1-1'],
      ['foo', '1.0-1', 'amd64'],
      ['aaa', '1'],
    );
    t.same(diffPackages(from, to), {
      added: pkgs(['aaa', '1'], ['libc6:i386', '2.41-12', 'i386'], ['tree', '2.2.1-1']),
      removed: pkgs(['nano', '8.4-1']),
      upgraded: [{ name: 'base-files', architecture: 'amd64', from: '13.8', to: '13.8+deb13u1' }],
      downgraded: [{ name: 'tzdata', architecture: 'all', from: '2025b-4', to: '2025a-1' }],
    });
    t.same(diffPackages(to, to), { added: [], removed: [], upgraded: [], downgraded: [] }, 'nothing changed');
    t.same(diffPackages([], to).added.length, to.length, 'from nothing');
    t.same(
      diffPackages(pkgs(['x', '1.0']), pkgs(['x', '1.0-0'])),
      { added: [], removed: [], upgraded: [], downgraded: [] },
      'equal versions spelled differently',
    );
  },
);

t.test('rendering: rpm-ostree-like text, JSON that follows its schema', async (t) => {
  const diff = diffPackages(
    pkgs(['nano', '8.4-1'], ['base-files', '13.8'], ['tzdata', '2025b-4', 'all']),
    pkgs(['base-files', '13.8+deb13u1'], ['tree', '2.2.1-1'], ['tzdata', '2025a-1', 'all']),
  );
  const from = { commit: 'a'.repeat(64), description: 'booted deployment' };
  const to = { commit: 'b'.repeat(64) };
  t.equal(
    formatPackageDiff(diff, from, to),
    `ostree diff commit from: booted deployment (${'a'.repeat(64)})\nostree diff commit to:   ${'b'.repeat(64)}\n` +
      'Upgraded:\n  base-files 13.8 -> 13.8+deb13u1\nDowngraded:\n  tzdata 2025b-4 -> 2025a-1\nRemoved:\n  nano 8.4-1\nAdded:\n  tree 2.2.1-1\n',
  );
  t.match(formatPackageDiff(diffPackages([], []), from, to), /\nNo package changes\.\n$/);
  const json = packageDiffJson(diff, from, to);
  t.same(DbDiffSchema.parse(JSON.parse(JSON.stringify(json))), json);
  t.same(Object.keys(json), ['from', 'to', 'added', 'removed', 'upgraded', 'downgraded']);
  t.equal(json.from, 'a'.repeat(64));
  t.ok(z.toJSONSchema(DbDiffSchema), 'publishable as JSON Schema');

  const list = pkgs(['base-files', '13.8+deb13u1'], ['tree', '2.2.1-1'], ['tzdata', '2025a-1', 'all']);
  t.equal(
    formatPackageList(list, { commit: 'c'.repeat(64), description: 'ref debian/13/x86_64/desktop' }),
    `ostree commit: ref debian/13/x86_64/desktop (${'c'.repeat(64)})\n  base-files  13.8+deb13u1  amd64\n  tree        2.2.1-1       amd64\n  tzdata      2025a-1       all\n`,
  );
  t.equal(formatPackageList([], { commit: 'c' }), 'ostree commit: c\n');
  t.same(DbListSchema.parse(packageListJson(list, { commit: 'c' })), { commit: 'c', packages: list });
});

// --- real commits in a real (archive) repository ---

async function ostree(repo: string, args: string[], binds: string[] = []): Promise<string> {
  return (await toolboxRun('ostree', [`--repo=${repo}`, ...args], { binds: [repo, ...binds] })).stdout.trim();
}

function writeTree(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  for (const d of ['usr/bin', 'etc', 'var']) mkdirSync(join(root, d), { recursive: true });
}

async function commitTree(repo: string, tree: string, branch: string): Promise<string> {
  return ostree(
    repo,
    [
      'commit',
      `--branch=${branch}`,
      `--tree=dir=${tree}`,
      '--owner-uid=0',
      '--owner-gid=0',
      '--no-xattrs',
      '--timestamp=2025-11-22T12:00:00Z',
    ],
    [tree],
  );
}

const STATUS = 'usr/lib/sysimage/dpkg/status';

t.test('packagesOfCommit and diffPackages on two real commits', async (t) => {
  const dir = t.testdir({});
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  await ostree(repo, ['init', '--mode=archive']);

  const v1 = [
    para('base-files', '13.8'),
    para('libc6', '2.41-12', { extra: 'Multi-Arch: same\n' }),
    para('nano', '8.4-1'),
    para('vim-tiny', '2:9.1.1230-2', { status: 'deinstall ok config-files' }),
  ].join('\n');
  writeTree(join(dir, 'v1'), { [STATUS]: v1, 'usr/bin/nano': 'nano\n' });
  const c1 = await commitTree(repo, join(dir, 'v1'), 'debian/13/x86_64/tiny');

  const v2 = [
    para('base-files', '13.8+deb13u1'),
    para('libc6', '2.41-12', { extra: 'Multi-Arch: same\n' }),
    para('tree', '2.2.1-1'),
    para('libc6', '2.41-12', { arch: 'i386', extra: 'Multi-Arch: same\n' }),
  ].join('\n');
  writeTree(join(dir, 'v2'), { [STATUS]: v2, 'usr/bin/tree': 'tree\n' });
  const c2 = await commitTree(repo, join(dir, 'v2'), 'debian/13/x86_64/tiny');
  t.not(c1, c2);

  const p1 = await packagesOfCommit(repo, c1);
  t.same(
    p1,
    pkgs(['base-files', '13.8'], ['libc6', '2.41-12'], ['nano', '8.4-1']),
    'installed only (vim-tiny is config-files)',
  );
  const p2 = await packagesOfCommit(repo, 'debian/13/x86_64/tiny');
  t.same(
    p2.map((p) => `${p.name}:${p.architecture}`),
    ['base-files:amd64', 'libc6:amd64', 'libc6:i386', 'tree:amd64'],
    'a ref works as well as a checksum',
  );

  const diff = diffPackages(p1, p2);
  t.same(diff, {
    added: pkgs(['libc6:i386', '2.41-12', 'i386'], ['tree', '2.2.1-1']),
    removed: pkgs(['nano', '8.4-1']),
    upgraded: [{ name: 'base-files', architecture: 'amd64', from: '13.8', to: '13.8+deb13u1' }],
    downgraded: [],
  });
  t.equal(
    formatPackageDiff(
      diff,
      { commit: c1, description: 'rollback deployment' },
      { commit: c2, description: 'booted deployment' },
    ),
    `ostree diff commit from: rollback deployment (${c1})\nostree diff commit to:   booted deployment (${c2})\n` +
      'Upgraded:\n  base-files 13.8 -> 13.8+deb13u1\nRemoved:\n  nano 8.4-1\nAdded:\n  libc6:i386 2.41-12\n  tree 2.2.1-1\n',
  );
  t.same(packageDiffJson(diff, { commit: c1 }, { commit: c2 }).from, c1);

  await t.rejects(
    packagesOfCommit(repo, c1, { maxBytes: 100 }),
    {
      code: 'input',
      summary: new RegExp(`^${c1}:/usr/lib/sysimage/dpkg/status: \\d+ bytes, larger than 100: refusing to read it$`),
    },
    'a bound on the size, checked before reading',
  );
  await t.rejects(packagesOfCommit(repo, 'no/such/ref'), {
    code: 'input',
    summary: `no/such/ref: no such commit or ref in ${repo}`,
  });
  await t.rejects(packagesOfCommit(repo, 'f'.repeat(64)), {
    code: 'input',
    summary: `${'f'.repeat(64)}: no such commit or ref in ${repo}`,
  });
  await t.rejects(packagesOfCommit(repo, '--help'), {
    code: 'input',
    summary: '"--help": not a commit checksum or ref',
  });
  await t.rejects(packagesOfCommit(join(dir, 'nothing'), c1), {
    code: 'input',
    summary: `${join(dir, 'nothing')}: not an OSTree repository (no config file)`,
  });
});

t.test(
  'packagesOfCommit: a plain tree keeps the database in /var/lib/dpkg; none, or a symlink, is refused',
  async (t) => {
    const dir = t.testdir({});
    const repo = join(dir, 'repo');
    mkdirSync(repo);
    await ostree(repo, ['init', '--mode=archive']);

    writeTree(join(dir, 'plain'), { 'var/lib/dpkg/status': para('hello', '2.10-3') });
    const plain = await commitTree(repo, join(dir, 'plain'), 'plain');
    t.same(await packagesOfCommit(repo, plain), pkgs(['hello', '2.10-3']));

    // usr-unify leaves a symlink /var/lib/dpkg -> /usr/lib/sysimage/dpkg: /usr is read first.
    writeTree(join(dir, 'unified'), { [STATUS]: para('hello', '2.10-4') });
    mkdirSync(join(dir, 'unified/var/lib'), { recursive: true });
    symlinkSync('../../usr/lib/sysimage/dpkg', join(dir, 'unified/var/lib/dpkg'));
    t.same(
      await packagesOfCommit(repo, await commitTree(repo, join(dir, 'unified'), 'unified')),
      pkgs(['hello', '2.10-4']),
    );

    writeTree(join(dir, 'none'), { 'usr/bin/hello': 'hello\n' });
    const none = await commitTree(repo, join(dir, 'none'), 'none');
    await t.rejects(packagesOfCommit(repo, none), {
      code: 'input',
      summary: `${none}: no dpkg database in the commit (neither /usr/lib/sysimage/dpkg/status nor /var/lib/dpkg/status)`,
    });

    writeTree(join(dir, 'link'), { 'usr/share/status': para('hello', '1') });
    mkdirSync(join(dir, 'link/usr/lib/sysimage/dpkg'), { recursive: true });
    symlinkSync('/etc/shadow', join(dir, 'link', STATUS));
    const link = await commitTree(repo, join(dir, 'link'), 'link');
    await t.rejects(packagesOfCommit(repo, link), {
      code: 'input',
      summary: new RegExp(`^${link}:/usr/lib/sysimage/dpkg/status: not a regular file`),
    });

    writeTree(join(dir, 'bad'), { [STATUS]: 'Package: x\nStatus: install ok installed\nVersion: 1\n' });
    const bad = await commitTree(repo, join(dir, 'bad'), 'bad');
    await t.rejects(packagesOfCommit(repo, bad), {
      code: 'input',
      summary: `${bad}:/usr/lib/sysimage/dpkg/status:1: installed package with no Architecture field`,
    });
  },
);
