import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readKargsDir } from '@debian-atomic/lib';
import { scratchDir, VARIANTS_DIR } from './fixtures/capture.js';

const hook = resolve(import.meta.dirname, '../data/build-hook.sh');
const run = (...args: string[]) => spawnSync('sh', [hook, ...args], { env: { ...process.env, NODE: process.execPath } });

const resolved = (extra: object = {}) => ({
  ref: 'debian/13/x86_64/server',
  packages: ['podman', 'smartmontools'],
  repos: [
    { name: 'debian', mirror: 'http://deb.debian.org/debian', suite: 'trixie', components: ['main'], keyring: '/usr/share/keyrings/debian-archive-keyring.gpg' },
    { name: 'vendor', mirror: 'http://example.org/apt', suite: 'stable', components: ['main'], keyring: '/etc/apt/keyrings/vendor.gpg' },
  ],
  ...extra,
});

t.test('plan then apply, as the image build calls them', async (t) => {
  const build = scratchDir(t, 'build');
  const input = join(build, 'resolved.json');
  writeFileSync(input, JSON.stringify(resolved({ 'hwdetect-policy': join(VARIANTS_DIR, 'hwdetect-server.yaml') })));
  const r = run('plan', input, build);
  t.equal(r.status, 0, r.stderr.toString());
  t.same(readdirSync(build).sort(), ['hwdetect-plan.json', 'resolved.json', 'treefile.json']);
  const plan = JSON.parse(readFileSync(join(build, 'hwdetect-plan.json'), 'utf8'));
  t.equal(plan.enabled, true);
  const tf = JSON.parse(readFileSync(join(build, 'treefile.json'), 'utf8'));
  t.same(tf.packages.slice(0, 5), ['podman', 'smartmontools', 'nodejs', 'intel-microcode', 'amd64-microcode'], "the treefile's packages, then the plan's");
  t.equal(tf.packages.filter((p: string) => p === 'smartmontools').length, 1, 'no repeats');
  t.same(tf.packages.slice(2), plan.packages.map((p: { name: string }) => p.name).filter((n: string) => n !== 'smartmontools'));
  t.same(tf.repos.map((r: { components: string[] }) => r.components), [['main', 'non-free-firmware'], ['main']], 'components only on the Debian archive');

  // Unchanged input: nothing rewritten. A changed plan dates the treefile too.
  const old = new Date(2000, 0, 1);
  utimesSync(join(build, 'treefile.json'), old, old);
  utimesSync(join(build, 'hwdetect-plan.json'), old, old);
  t.equal(run('plan', input, build).status, 0);
  t.equal(statSync(join(build, 'treefile.json')).mtimeMs, old.getTime(), 'same bytes: treefile.json kept');
  t.equal(statSync(join(build, 'hwdetect-plan.json')).mtimeMs, old.getTime(), 'same bytes: plan kept');
  writeFileSync(join(build, 'hwdetect-plan.json'), '{}');
  utimesSync(join(build, 'hwdetect-plan.json'), old, old);
  t.equal(run('plan', input, build).status, 0);
  t.ok(statSync(join(build, 'treefile.json')).mtimeMs > old.getTime(), 'a changed plan touches treefile.json');

  const rootfs = join(build, 'rootfs');
  mkdirSync(rootfs);
  const missing = run('apply', build, rootfs);
  t.equal(missing.status, 1, 'enabled policy, no package in the root');
  t.match(missing.stderr.toString(), /hwdetect is not installed in the root.*install the debian-atomic-hwdetect package/s);

  // What the debian-atomic-hwdetect package puts there.
  mkdirSync(join(rootfs, 'usr/bin'), { recursive: true });
  mkdirSync(join(rootfs, 'usr/lib/systemd/system'), { recursive: true });
  writeFileSync(join(rootfs, 'usr/bin/hwdetect'), '#!/usr/bin/node\n');
  writeFileSync(join(rootfs, 'usr/lib/systemd/system/hwdetect.service'), '[Service]\n');
  const a = run('apply', build, rootfs);
  t.equal(a.status, 0, a.stderr.toString());
  t.equal(a.stdout.toString(), '');
  t.same(await readKargsDir(rootfs, 'x86_64'), ['iommu=pt']);
  t.equal(readlinkSync(join(rootfs, 'usr/lib/systemd/system/multi-user.target.wants/hwdetect.service')), '../hwdetect.service');
  t.equal(JSON.parse(readFileSync(join(rootfs, 'usr/share/hwdetect/policy.json'), 'utf8')).name, 'hwdetect-server', 'the policy keeps its name');
  t.notOk(existsSync(join(rootfs, 'usr/lib/hwdetect')), 'not copied: the package provides it');
});

t.test('a treefile without hwdetect-policy is a no-op; bad usage is exit 2', async (t) => {
  const build = scratchDir(t, 'build');
  const input = join(build, 'resolved.json');
  writeFileSync(input, JSON.stringify(resolved()));
  writeFileSync(join(build, 'hwdetect-plan.json'), '{"stale": true}');
  t.equal(run('plan', input, build).status, 0);
  t.same(readdirSync(build).sort(), ['resolved.json', 'treefile.json'], 'a stale plan is removed');
  t.equal(readFileSync(join(build, 'treefile.json'), 'utf8'), readFileSync(input, 'utf8'), 'the treefile as resolved');
  t.equal(run('apply', build, join(build, 'rootfs')).status, 0);
  t.notOk(existsSync(join(build, 'rootfs')));
  t.equal(run('frobnicate', 'a', 'b').status, 2);
  t.equal(run('plan').status, 2);
  t.equal(run('plan', join(build, 'nope.json'), build).status, 2);
  writeFileSync(input, JSON.stringify(resolved({ 'hwdetect-policy': join(build, 'missing.yaml') })));
  const bad = run('plan', input, build);
  t.equal(bad.status, 2, 'a policy that cannot be read');
  t.match(bad.stderr.toString(), /missing\.yaml/);
});
