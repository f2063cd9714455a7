import t from 'tap';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { readKargsDir } from '@debian-atomic/lib';
import { main } from '../src/main.js';
import { isDebianArchive, mergePlanIntoTreefile } from '../src/treefile.js';
import { scratchDir, POLICIES_DIR } from './fixtures/capture.js';

/** hwdetect in-process, as the image build calls it: exit code and stdout (a thrown ToolError is its exit code). */
async function hwdetect(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  try {
    return { code: await main(args, { stdout, stdin: Readable.from(['']) }), out, err: '' };
  } catch (e) {
    return {
      code: (e as { exitCode?: number }).exitCode ?? 1,
      out,
      err: String((e as { summary?: string }).summary ?? e),
    };
  }
}

const resolved = (extra: object = {}) => ({
  ref: 'debian/13/x86_64/server',
  suite: 'trixie',
  architecture: 'amd64',
  'mmdebstrap-variant': 'apt',
  osname: 'debian-atomic',
  packages: ['podman', 'smartmontools'],
  repos: [
    {
      name: 'debian',
      mirror: 'http://deb.debian.org/debian',
      suite: 'trixie',
      components: ['main'],
      keyring: '/usr/share/keyrings/debian-archive-keyring.gpg',
    },
    {
      name: 'vendor',
      mirror: 'http://example.org/apt',
      suite: 'stable',
      components: ['main'],
      keyring: '/etc/apt/keyrings/vendor.gpg',
    },
  ],
  ...extra,
});
const POLICY = join(POLICIES_DIR, 'hwdetect-server.yaml');

t.test('the Debian archive is the repo signed by its keyring, with its components only', async (t) => {
  const repo = resolved().repos[0]!;
  t.ok(isDebianArchive(repo));
  t.ok(
    isDebianArchive({ ...repo, mirror: 'file:///srv/snapshot', keyring: '/srv/keys/debian-archive-keyring.pgp' }),
    'a snapshot mirror, the keyring copied',
  );
  t.notOk(isDebianArchive({ ...repo, keyring: undefined }), 'unsigned: not known to be Debian');
  t.notOk(
    isDebianArchive({ ...repo, keyring: '/etc/apt/keyrings/not-debian-archive-keyring.gpg' }),
    'a name containing it is not it',
  );
  t.notOk(isDebianArchive({ ...repo, components: ['main', 'vendor-extras'] }), 'a component the archive does not have');
});

t.test('plan --treefile then apply --install-deb/--if-planned, as the image build calls them', async (t) => {
  const build = scratchDir(t, 'build');
  const input = join(build, 'resolved.json');
  const [tf, plan] = [join(build, 'treefile.json'), join(build, 'hwdetect-plan.json')];
  writeFileSync(input, JSON.stringify(resolved({ 'hwdetect-policy': POLICY })));
  const step = () => hwdetect('plan', '--quiet', '--treefile', input, '--output-treefile', tf, '-o', plan);
  const r = await step();
  t.equal(r.code, 0, r.err);
  t.equal(r.out, '', 'outputs go to files');
  t.same(readdirSync(build).sort(), ['hwdetect-plan.json', 'resolved.json', 'treefile.json']);
  const planJson = JSON.parse(readFileSync(plan, 'utf8'));
  t.equal(planJson.enabled, true);
  t.equal(planJson.target, 'any-hardware');
  const merged = JSON.parse(readFileSync(tf, 'utf8'));
  t.same(
    merged.packages.slice(0, 5),
    ['podman', 'smartmontools', 'nodejs', 'intel-microcode', 'amd64-microcode'],
    "the treefile's packages, then the plan's",
  );
  t.equal(merged.packages.filter((p: string) => p === 'smartmontools').length, 1, 'no repeats');
  t.same(
    merged.packages.slice(2),
    planJson.packages.map((p: { name: string }) => p.name).filter((n: string) => n !== 'smartmontools'),
  );
  t.same(
    merged.repos.map((r: { components: string[] }) => r.components),
    [['main', 'non-free-firmware'], ['main']],
    'components only on the Debian archive',
  );
  t.same(mergePlanIntoTreefile(merged, planJson), merged, 'merging twice adds nothing');

  // Unchanged input: nothing rewritten. A changed plan dates the treefile too.
  const old = new Date(2000, 0, 1);
  utimesSync(tf, old, old);
  utimesSync(plan, old, old);
  t.equal((await step()).code, 0);
  t.equal(statSync(tf).mtimeMs, old.getTime(), 'same bytes: treefile.json kept');
  t.equal(statSync(plan).mtimeMs, old.getTime(), 'same bytes: plan kept');
  writeFileSync(plan, '{}');
  utimesSync(plan, old, old);
  t.equal((await step()).code, 0);
  t.ok(statSync(tf).mtimeMs > old.getTime(), 'a changed plan touches treefile.json');

  const rootfs = join(build, 'rootfs');
  mkdirSync(rootfs);
  const missing = await hwdetect('apply', '--quiet', '--if-planned', '--plan', plan, '--root', rootfs);
  t.equal(missing.code, 1, 'enabled policy, no package in the root');
  t.match(missing.err, /hwdetect is not installed in the root/);
  const noDpkg = await hwdetect(
    'apply',
    '--quiet',
    '--plan',
    plan,
    '--root',
    rootfs,
    '--install-deb',
    join(build, 'debian-atomic-hwdetect_0_all.deb'),
  );
  t.equal(noDpkg.code, 2, '--install-deb installs with the tree dpkg: none here');
  t.match(noDpkg.err, /no dpkg: not a Debian tree/);

  // What the debian-atomic-hwdetect package puts there.
  mkdirSync(join(rootfs, 'usr/bin'), { recursive: true });
  mkdirSync(join(rootfs, 'usr/lib/systemd/system'), { recursive: true });
  writeFileSync(join(rootfs, 'usr/bin/hwdetect'), '#!/usr/bin/node\n');
  writeFileSync(join(rootfs, 'usr/lib/systemd/system/hwdetect.service'), '[Service]\n');
  const a = await hwdetect('apply', '--quiet', '--if-planned', '--plan', plan, '--root', rootfs);
  t.equal(a.code, 0, a.err);
  t.same(Object.keys(JSON.parse(a.out)).sort(), ['removed', 'unchanged', 'written']);
  t.same(await readKargsDir(rootfs, 'x86_64'), ['iommu=pt']);
  t.equal(
    readlinkSync(join(rootfs, 'usr/lib/systemd/system/multi-user.target.wants/hwdetect.service')),
    '../hwdetect.service',
  );
  t.equal(
    JSON.parse(readFileSync(join(rootfs, 'usr/share/hwdetect/policy.json'), 'utf8')).name,
    'hwdetect-server',
    'the policy keeps its name',
  );
  t.notOk(existsSync(join(rootfs, 'usr/lib/hwdetect')), 'not copied: the package provides it');
});

t.test('a treefile without hwdetect-policy plans nothing; bad usage is exit 2', async (t) => {
  const build = scratchDir(t, 'build');
  const input = join(build, 'resolved.json');
  const [tf, plan] = [join(build, 'treefile.json'), join(build, 'hwdetect-plan.json')];
  writeFileSync(input, `${JSON.stringify(resolved())}\n`);
  writeFileSync(plan, '{"stale": true}');
  t.equal((await hwdetect('plan', '--treefile', input, '--output-treefile', tf, '-o', plan)).code, 0);
  t.same(readdirSync(build).sort(), ['resolved.json', 'treefile.json'], 'a stale plan is removed');
  t.equal(readFileSync(tf, 'utf8'), readFileSync(input, 'utf8'), 'the treefile as resolved, byte for byte');
  const rootfs = join(build, 'rootfs');
  mkdirSync(rootfs);
  const none = await hwdetect(
    'apply',
    '--if-planned',
    '--plan',
    plan,
    '--root',
    rootfs,
    '--install-deb',
    join(build, 'x.deb'),
  );
  t.equal(none.code, 0, 'no plan: nothing applied, nothing installed');
  t.same(JSON.parse(none.out), { removed: [], unchanged: [], written: [] });
  t.same(readdirSync(rootfs), []);
  t.equal(
    (await hwdetect('apply', '--plan', plan, '--root', rootfs)).code,
    2,
    'without --if-planned a missing plan is unreadable input',
  );

  t.match((await hwdetect('plan', '--treefile', input)).err, /--treefile needs --output-treefile FILE and -o FILE/);
  t.equal(
    (await hwdetect('plan', '--treefile', input, '--policy', POLICY, '--output-treefile', tf, '-o', plan)).code,
    2,
    '--treefile names the policy',
  );
  t.equal(
    (await hwdetect('plan', '--treefile', join(build, 'nope.json'), '--output-treefile', tf, '-o', plan)).code,
    2,
  );
  writeFileSync(join(build, 'bad.json'), '{"ref": 1}');
  const bad = await hwdetect('plan', '--treefile', join(build, 'bad.json'), '--output-treefile', tf, '-o', plan);
  t.equal(bad.code, 2);
  t.match(bad.err, /bad\.json: not a resolved treefile/);
  writeFileSync(input, JSON.stringify(resolved({ 'hwdetect-policy': join(build, 'missing.yaml') })));
  const noPolicy = await hwdetect('plan', '--treefile', input, '--output-treefile', tf, '-o', plan);
  t.equal(noPolicy.code, 2, 'a policy that cannot be read');
  t.match(noPolicy.err, /missing\.yaml/);
});
