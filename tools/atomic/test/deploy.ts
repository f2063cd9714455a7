import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyKargsEdits, commitKargs, deploy, kargsDifference } from '../src/deploy.js';
import { parseOrigin } from '../src/origin.js';
import { readDeployments } from '../src/sysroot.js';
import { BASE_KARGS, makeWorld, OS, REF, REMOTE } from './fixtures/sysroot.js';

t.test('kargsDifference: what bootc does between two images', async (t) => {
  const cases: [string, string[], string[], string[], { appended: string[]; deleted: string[] }][] = [
    ['nothing changed', ['a', 'b'], ['b'], ['b'], { appended: [], deleted: [] }],
    ['new in the image', ['a'], [], ['x', 'y'], { appended: ['x', 'y'], deleted: [] }],
    ['gone from the image', ['a', 'x'], ['x'], [], { appended: [], deleted: ['x'] }],
    ['gone, but the user already removed it', ['a'], ['x'], [], { appended: [], deleted: [] }],
    ['new, but the user already has it', ['a', 'x'], [], ['x'], { appended: [], deleted: [] }],
    ['changed value', ['a', 'k=1'], ['k=1'], ['k=2'], { appended: ['k=2'], deleted: ['k=1'] }],
    ['twice in the image: once', ['a'], [], ['x', 'x'], { appended: ['x'], deleted: [] }],
  ];
  for (const [name, current, oldImage, newImage, want] of cases)
    t.same(kargsDifference(current, oldImage, newImage), want, name);
});

t.test("applyKargsEdits: rpm-ostree kargs' edits", async (t) => {
  const base = ['root=UUID=x', 'console=tty0', 'console=ttyS0', 'quiet'];
  const ok: [string, Parameters<typeof applyKargsEdits>[1], string[]][] = [
    ['append', { append: ['a=1', 'quiet'] }, [...base, 'a=1', 'quiet']],
    ['delete by key', { delete: ['quiet'] }, ['root=UUID=x', 'console=tty0', 'console=ttyS0']],
    ['delete one value', { delete: ['console=tty0'] }, ['root=UUID=x', 'console=ttyS0', 'quiet']],
    ['replace by key', { replace: ['root=UUID=y'] }, ['root=UUID=y', 'console=tty0', 'console=ttyS0', 'quiet']],
    [
      'replace one value',
      { replace: ['console=ttyS0=ttyS1'] },
      ['root=UUID=x', 'console=tty0', 'console=ttyS1', 'quiet'],
    ],
    ['a value with =', { replace: ['root=UUID=y'] }, ['root=UUID=y', 'console=tty0', 'console=ttyS0', 'quiet']],
    [
      'replace, delete, then append',
      { replace: ['root=UUID=y'], delete: ['quiet'], append: ['quiet=1'] },
      ['root=UUID=y', 'console=tty0', 'console=ttyS0', 'quiet=1'],
    ],
    ['a quoted value is one argument', { append: ['foo="a b"'] }, [...base, 'foo="a b"']],
  ];
  for (const [name, e, want] of ok) t.same(applyKargsEdits(base, e), want, name);
  const bad: [Parameters<typeof applyKargsEdits>[1], RegExp, number][] = [
    [{ delete: ['console'] }, /console is given 2 times; name the one to delete as console=VALUE/, 1],
    [{ delete: ['nosuch'] }, /no argument named nosuch/, 1],
    [{ delete: ['quiet=1'] }, /--delete quiet=1: there is no such argument/, 1],
    [{ replace: ['console=x'] }, /console is given 2 times/, 1],
    [{ replace: ['nosuch=1'] }, /no argument named nosuch \(--append adds one\)/, 1],
    [{ replace: ['console=ttyS9=ttyS1'] }, /console is given 2 times/, 1],
    [{ replace: ['nosuch=a=b'] }, /no argument named nosuch \(nor nosuch=a\)/, 1],
    [{ replace: ['quiet'] }, /expected KEY=VALUE or KEY=OLD=NEW/, 2],
    [{ append: ['a b'] }, /more than one kernel argument/, 2],
    [{ append: [''] }, /must not be empty/, 2],
  ];
  for (const [e, message, exitCode] of bad)
    t.throws(() => applyKargsEdits(base, e), { message, exitCode }, JSON.stringify(e));
});

t.test('deploy: the kargs.d difference between the merge and the new commit, on a real sysroot', async (t) => {
  const w = await makeWorld(t);
  // The defect: a literal-string argument beside a basic one; both count.
  const v1 = await w.commit({
    version: '1',
    kargsD: {
      '10-hw.toml': `kargs = ['iommu=pt', "quiet"]\n`,
      '20-other-arch.toml': 'kargs = ["s390only"]\nmatch-architectures = ["s390x"]\n',
    },
  });
  await w.install([...BASE_KARGS, 'iommu=pt', 'quiet', 'debian_atomic.user=kept']);
  t.same(await commitKargs(w.sysroot, v1, 'x86_64'), ['iommu=pt', 'quiet'], "lib's parser: both quote styles");
  t.same(await commitKargs(w.sysroot, v1, 's390x'), ['iommu=pt', 'quiet', 's390only'], 'match-architectures');

  const v2 = await w.commit({
    version: '2',
    kargsD: { '10-hw.toml': `kargs = ['iommu=pt', 'debian_atomic.update=v2']\n` },
  });
  await w.ostree(`--repo=${join(w.sysroot, 'ostree/repo')}`, 'pull', REMOTE, REF);
  await w.ostree('admin', 'pin', `--sysroot=${w.sysroot}`, '0');
  const r = await deploy({
    sysroot: w.sysroot,
    osname: OS,
    commit: v2,
    origin: { kind: 'ostree', refspec: `${REMOTE}:${REF}` },
    stage: false,
  });
  t.same(r, { appended: ['debian_atomic.update=v2'], deleted: ['quiet'] });
  const ds = await readDeployments(w.sysroot);
  t.same(
    ds.map((d) => d.checksum),
    [v2, v1],
  );
  t.same(
    ds[0]!.kernelArgs,
    [...BASE_KARGS, 'iommu=pt', 'debian_atomic.user=kept', 'debian_atomic.update=v2'],
    "the user's own argument stays",
  );
  t.same(
    ds[1]!.kernelArgs,
    [...BASE_KARGS, 'iommu=pt', 'quiet', 'debian_atomic.user=kept'],
    'the old deployment is untouched',
  );
  const origin = await readFile(join(w.sysroot, 'ostree/deploy', OS, 'deploy', `${v2}.0.origin`), 'utf8');
  t.equal(origin, `[origin]\nrefspec=${REMOTE}:${REF}\n`, "the merge deployment's pin is not carried over");
  t.ok(ds[1]!.pinned);

  // No kargs.d change: ostree keeps the merge deployment's arguments as they are.
  const v3 = await w.commit({
    version: '3',
    kargsD: { '10-hw.toml': `kargs = ['iommu=pt', 'debian_atomic.update=v2']\n` },
  });
  await w.ostree(`--repo=${join(w.sysroot, 'ostree/repo')}`, 'pull', REMOTE, REF);
  const image = {
    kind: 'image' as const,
    image: 'docker://10.0.2.2:5000/tiny:latest',
    digest: `sha256:${'c'.repeat(64)}`,
  };
  t.same(await deploy({ sysroot: w.sysroot, osname: OS, commit: v3, origin: image, stage: false }), {
    appended: [],
    deleted: [],
  });
  const [d3] = await readDeployments(w.sysroot);
  t.equal(d3!.checksum, v3);
  t.same(d3!.kernelArgs, ds[0]!.kernelArgs);
  t.same(d3!.origin, image, 'an image origin, with its digest');

  // Explicit edits start from the given arguments and are the whole list ostree writes.
  await deploy({
    sysroot: w.sysroot,
    osname: OS,
    commit: v3,
    origin: image,
    stage: false,
    fromImageKargs: false,
    kargs: { append: ['x=1'], delete: ['iommu=pt'] },
  });
  const [d4] = await readDeployments(w.sysroot);
  t.same(d4!.kernelArgs, [...BASE_KARGS, 'debian_atomic.user=kept', 'debian_atomic.update=v2', 'x=1']);
  t.equal(d4!.serial, 1, 'a second deployment of the same commit');
});

t.test('a kargs.d file atomic cannot read stops the deploy before ostree runs', async (t) => {
  const w = await makeWorld(t);
  await w.commit({ version: '1' });
  await w.install();
  const v2 = await w.commit({ version: '2', kargsD: { '10-bad.toml': 'kargs = "not a list"\n' } });
  await w.ostree(`--repo=${join(w.sysroot, 'ostree/repo')}`, 'pull', REMOTE, REF);
  await t.rejects(
    deploy({
      sysroot: w.sysroot,
      osname: OS,
      commit: v2,
      origin: { kind: 'ostree', refspec: `${REMOTE}:${REF}` },
      stage: false,
    }),
    { code: 'bad-kargs', message: /10-bad\.toml:1:9: expected an array of strings/ },
  );
  t.equal((await readDeployments(w.sysroot)).length, 1, 'nothing deployed');
  t.same(
    parseOrigin(
      await readFile(
        join(w.sysroot, 'ostree/deploy', OS, 'deploy', `${(await readDeployments(w.sysroot))[0]!.checksum}.0.origin`),
        'utf8',
      ),
      'o',
    ),
    { kind: 'ostree', refspec: `${REMOTE}:${REF}` },
  );
});
