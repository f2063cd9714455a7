import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAdminStatus, parseShowDate, readDeployments, splitKernelArgs, stagedKernelArgs } from '../src/sysroot.js';
import { BASE_KARGS, makeWorld, OS, REF, REMOTE } from './fixtures/sysroot.js';

t.test('readDeployments on a real sysroot: order, origin, kernel arguments, version, time, pinned', async (t) => {
  const w = await makeWorld(t);
  const v1 = await w.commit({ version: '1' });
  await w.install();
  let ds = await readDeployments(w.sysroot);
  t.equal(ds.length, 1);
  t.match(ds[0], {
    osname: OS,
    checksum: v1,
    serial: 0,
    booted: false,
    staged: false,
    pinned: false,
    version: '1',
    origin: { kind: 'ostree', refspec: `${REMOTE}:${REF}` },
    kernelArgs: BASE_KARGS,
    index: 0,
  });
  t.type(ds[0]!.timestamp, 'number');

  // A second deployment of the same commit (serial 1) with one more argument, and the first pinned.
  await w.ostree('admin', 'deploy', `--sysroot=${w.sysroot}`, `--os=${OS}`, '--karg-append=quiet', v1);
  await w.ostree('admin', 'pin', `--sysroot=${w.sysroot}`, '1');
  ds = await readDeployments(w.sysroot);
  t.same(
    ds.map((d) => [d.index, d.serial, d.pinned, d.kernelArgs]),
    [
      [0, 1, false, [...BASE_KARGS, 'quiet']],
      [1, 0, true, BASE_KARGS],
    ],
    'each deployment gets the arguments of its own boot entry',
  );
  t.same(
    ds[0]!.origin,
    { kind: 'ostree', refspec: v1 },
    'deployed by checksum without an origin file: ostree writes the checksum as the refspec',
  );
});

t.test('an origin atomic cannot follow: status still reads, and says why', async (t) => {
  const w = await makeWorld(t);
  const v1 = await w.commit();
  await w.install();
  const originFile = join(w.sysroot, 'ostree/deploy', OS, 'deploy', `${v1}.0.origin`);
  await writeFile(originFile, '[origin]\ncontainer-image-reference=ostree-unverified-registry:quay.io/x/y\n');
  const [d] = await readDeployments(w.sysroot);
  t.equal(d!.origin, null);
  t.match(d!.originProblem, /\.origin:2: .*not an image reference/);
});

t.test('parseAdminStatus: the lines ot-admin-builtin-status.c prints', async (t) => {
  const c = (x: string) => x.repeat(64);
  const text = [
    `  debian ${c('a')}.0 (staged)`,
    '    Version: 2',
    `    origin refspec: origin:${REF}`,
    `* debian ${c('b')}.1`,
    '    Version: 1',
    '    Pinned: yes',
    '    origin: <unknown origin type>',
    `  debian ${c('c')}.0 (rollback)`,
    '    origin: none',
    `  other ${c('d')}.0 (finalization locked)`,
    '    Unlocked: hotfix',
    '',
  ].join('\n');
  t.same(
    parseAdminStatus(text).map((e) => [
      e.osname,
      e.serial,
      e.booted,
      e.staged,
      e.pending,
      e.rollback,
      e.pinned,
      e.version,
    ]),
    [
      ['debian', 0, false, true, false, false, false, '2'],
      ['debian', 1, true, false, false, false, true, '1'],
      ['debian', 0, false, false, false, true, false, undefined],
      ['other', 0, false, true, false, false, false, undefined],
    ],
  );
  t.same(parseAdminStatus('No deployments.\n'), []);
  t.throws(() => parseAdminStatus('garbage\n'), /cannot read this line/);
});

t.test('splitKernelArgs: white space outside double quotes', async (t) => {
  t.same(splitKernelArgs(' root=UUID=x  quiet\tfoo="a b" ostree=/ostree/boot.1/x\n'), [
    'root=UUID=x',
    'quiet',
    'foo="a b"',
    'ostree=/ostree/boot.1/x',
  ]);
  t.same(splitKernelArgs(''), []);
});

t.test('parseShowDate', async (t) => {
  t.equal(parseShowDate('commit x\nDate:  2026-12-02 16:35:31 +0000\n'), Date.UTC(2026, 11, 2, 16, 35, 31) / 1000);
  t.equal(parseShowDate('Date:  2026-12-02 18:35:31 +0200\n'), Date.UTC(2026, 11, 2, 16, 35, 31) / 1000);
  t.equal(parseShowDate('no date\n'), undefined);
});

t.test('stagedKernelArgs: an a{sv} serialized by GLib (the metadata of a real ostree commit)', async (t) => {
  const w = await makeWorld(t);
  const kargs = ['root=UUID=x', 'console=ttyS0,115200', 'debian_atomic.update=v2'];
  const tree = join(w.dir, 'tree');
  await (await import('node:fs/promises')).mkdir(tree);
  await writeFile(join(tree, 'f'), 'x');
  const commit = (
    await w.ostree(
      'commit',
      `--repo=${w.server}`,
      '-b',
      'gv',
      `--add-metadata=kargs=${JSON.stringify(kargs).replace(/"/g, "'")}`,
      '--add-metadata=locked=true',
      tree,
    )
  ).trim();
  const obj = await readFile(join(w.server, 'objects', commit.slice(0, 2), `${commit.slice(2)}.commit`));
  // The commit is (a{sv}aya(say)sstayay): the metadata dictionary ends at the last framing offset.
  const metadataEnd = obj[obj.length - 1]!;
  const staged = join(w.dir, 'staged-deployment');
  await writeFile(staged, obj.subarray(0, metadataEnd));
  t.same(await stagedKernelArgs(staged), kargs);
  t.equal(await stagedKernelArgs(join(w.dir, 'missing')), null, 'no file: no recorded arguments');
  await writeFile(staged, Buffer.from([1, 2, 3, 250]));
  await t.rejects(stagedKernelArgs(staged), /staged-deployment: cannot read it/);
});

t.test(
  "a real /run/ostree/staged-deployment (ostree 2025.2, captured in a VM after 'ostree admin deploy --stage')",
  async (t) => {
    const file = join(import.meta.dirname, 'fixtures/staged-deployment.gvariant');
    const args = await stagedKernelArgs(file);
    t.same(
      args,
      [
        'root=UUID=20bc6a8e-b87a-4df3-bf65-da196810a45d',
        'rw',
        'console=ttyS0,115200',
        'ostree=/ostree/boot.1/debian/b34e540c2771feab417f10ab25605e2aebaf63bc881e1734f92a5effcfbec62f/0',
        'debian_atomic.test=staged',
        'quiet',
      ],
      "the kargs of the staged deployment: the merge deployment's plus the two appended",
    );
    const { readVardict } = await import('../src/gvariant.js');
    const dict = readVardict(await readFile(file));
    t.same([...dict.keys()].sort(), ['kargs', 'merge-deployment', 'target'], 'the keys ostree writes');
    const target = dict.get('target') as Map<string, unknown>;
    t.equal(
      target.get('name'),
      '63223d724ccb990664ba63351cf07060bb0a3dbc7ceec3954a5cee2003845682.1',
      'the target deployment',
    );
  },
);
