/** disk-image --oci: a disk from the image deploys the wrapped commit; the inputs are exclusive. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ociWrap, REF, tinyCommit } from './fixtures/tiny.js';

const diskImage = resolve(import.meta.dirname, '../../disk-image/dist/bin.js');
const run = (args: string[]) => spawnSync('node', [diskImage, '--quiet', ...args], { encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '1763812800' } });

t.test('disk-image --oci oci:DIR deploys the same commit and leaves no import behind', async (t) => {
  const dir = t.testdir({ out: {} });
  const repo = join(dir, 'repo');
  const commit = await tinyCommit(dir, repo);
  t.equal(ociWrap(['--repo', repo, '--ref', REF, '--output', `oci:${dir}/image:v1`]).status, 0);
  const r = run(['--oci', `oci:${dir}/image:v1`, '--format', 'raw', '--output', join(dir, 'out/disk.raw')]);
  t.equal(r.status, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { commit, ref: REF });
  t.same(await readdir(join(dir, 'out')), ['disk.raw'], 'the imported repository is removed');
});

t.test('--oci and --repo are exclusive; one of them is needed', async (t) => {
  const dir = t.testdir();
  const both = run(['--oci', `oci:${dir}/x`, '--repo', dir, '--output', join(dir, 'd.raw')]);
  t.equal(both.status, 2);
  t.match(both.stderr, /either --repo and --ref, or --oci/);
  t.equal(run(['--output', join(dir, 'd.raw')]).status, 2);
  const bad = run(['--oci', `oci:${dir}/missing`, '--output', join(dir, 'd.raw')]);
  t.equal(bad.status, 2, 'a missing image is unreadable input');
  t.match(bad.stderr, /index\.json/);
});
