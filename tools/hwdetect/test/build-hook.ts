import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readKargsDir } from '@debian-atomic/lib';
import { scratchDir, VARIANTS_DIR } from './fixtures/capture.js';

const hook = resolve(import.meta.dirname, '../data/build-hook.sh');
const run = (...args: string[]) => spawnSync('sh', [hook, ...args], { env: { ...process.env, NODE: process.execPath } });

t.test('plan then apply, as the image build calls them', async (t) => {
  const build = scratchDir(t, 'build');
  const r = run('plan', join(VARIANTS_DIR, 'hwdetect-server.yaml'), build);
  t.equal(r.status, 0, r.stderr.toString());
  t.same(readdirSync(build).sort(), ['hwdetect-components.txt', 'hwdetect-packages.txt', 'hwdetect-plan.json']);
  t.equal(readFileSync(join(build, 'hwdetect-components.txt'), 'utf8'), 'main\nnon-free-firmware\n');
  t.match(readFileSync(join(build, 'hwdetect-packages.txt'), 'utf8'), /^nodejs\nintel-microcode\namd64-microcode\n/);

  const rootfs = join(build, 'rootfs');
  mkdirSync(rootfs);
  const a = run('apply', build, rootfs);
  t.equal(a.status, 0, a.stderr.toString());
  t.equal(a.stdout.toString(), '');
  t.same(await readKargsDir(rootfs, 'x86_64'), ['iommu=pt']);
  t.ok(existsSync(join(rootfs, 'usr/lib/hwdetect/dist/bin.js')));
});

t.test('a variant without a policy is a no-op; bad usage is exit 2', async (t) => {
  const build = scratchDir(t, 'build');
  t.equal(run('plan', join(VARIANTS_DIR, 'hwdetect-no-such-variant.yaml'), build).status, 0);
  t.same(readdirSync(build), []);
  t.equal(run('apply', build, join(build, 'rootfs')).status, 0);
  t.equal(run('frobnicate', 'a', 'b').status, 2);
  t.equal(run('plan').status, 2);
});
