/** disk-image --oci: a disk from the image deploys the wrapped commit; the inputs are exclusive. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ociWrap, REF, tinyCommit } from './fixtures/tiny.js';

const diskImage = resolve(import.meta.dirname, '../../disk-image/dist/bin.js');
const run = (args: string[]) =>
  spawnSync('node', [diskImage, '--quiet', ...args], {
    encoding: 'utf8',
    env: { ...process.env, SOURCE_DATE_EPOCH: '1763812800' },
  });

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
  t.match(both.stderr, /either --repo and --ref \(or --commit\), or --oci/);
  t.equal(run(['--output', join(dir, 'd.raw')]).status, 2);
  const bad = run(['--oci', `oci:${dir}/missing`, '--output', join(dir, 'd.raw')]);
  t.equal(bad.status, 2, 'a missing image is unreadable input');
  t.match(bad.stderr, /index\.json/);
});

/** A file's bytes in the root file system of a raw disk (GPT partition 2, ext4), read with debugfs. */
function rootFile(disk: string, dir: string, path: string): string {
  const table = JSON.parse(spawnSync('sfdisk', ['--json', disk], { encoding: 'utf8' }).stdout) as {
    partitiontable: { partitions: { start: number; size: number }[] };
  };
  const root = table.partitiontable.partitions[1]!;
  const part = join(dir, 'root.ext4');
  spawnSync('dd', [`if=${disk}`, `of=${part}`, 'bs=512', `skip=${root.start}`, `count=${root.size}`, 'status=none']);
  return spawnSync('debugfs', ['-R', `cat ${path}`, part], { encoding: 'utf8' }).stdout;
}

t.test(
  'config image: the installed system updates from that image, with its digest and its layers cached',
  async (t) => {
    const dir = t.testdir({ out: {} });
    const repo = join(dir, 'repo');
    const commit = await tinyCommit(dir, repo);
    t.equal(ociWrap(['--repo', repo, '--ref', REF, '--output', `oci:${dir}/image:v1`]).status, 0);
    const index = JSON.parse(await readFile(join(dir, 'image/index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    const digest = index.manifests[0]!.digest;
    const reference = 'docker://registry.example.org/debian-atomic/tiny:latest';
    await writeFile(join(dir, 'config.yaml'), `image: ${reference}\n`);
    const r = run([
      '--oci',
      `oci:${dir}/image:v1`,
      '--config',
      join(dir, 'config.yaml'),
      '--format',
      'raw',
      '--output',
      join(dir, 'out/disk.raw'),
    ]);
    t.equal(r.status, 0, r.stderr);
    t.match(JSON.parse(r.stdout), { commit, image: { reference, digest } });
    t.same(await readdir(join(dir, 'out')), ['disk.raw'], 'no import or cache left beside the disk');
    const deployDir = `/ostree/deploy/debian/deploy`;
    const origin = rootFile(join(dir, 'out/disk.raw'), dir, `${deployDir}/${commit}.0.origin`);
    t.equal(
      origin,
      `[origin]\ncontainer-image-reference=${reference}\n\n[atomic]\nimage-digest=${digest}\n`,
      "the deployment's origin names the image and the digest",
    );
    const cached = JSON.parse(
      rootFile(join(dir, 'out/disk.raw'), dir, '/ostree/deploy/debian/var/lib/atomic/images/index.json'),
    ) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    t.equal(cached.manifests.length, 1, "the installed system's layer cache holds the image");
    t.equal(cached.manifests[0]!.digest, digest, 'with the same manifest digest');
    t.match(
      cached.manifests[0]!.annotations,
      { 'org.debian-atomic.image': reference, 'org.debian-atomic.image-digest': digest },
      'annotated as atomic annotates what it pulls',
    );
    const manifest = rootFile(
      join(dir, 'out/disk.raw'),
      dir,
      `/ostree/deploy/debian/var/lib/atomic/images/blobs/sha256/${digest.slice(7)}`,
    );
    t.match(JSON.parse(manifest), { layers: Array }, 'the manifest blob is there');

    await writeFile(join(dir, 'both.yaml'), `image: ${reference}\nremote:\n  url: http://example.org/repo\n`);
    const both = run([
      '--oci',
      `oci:${dir}/image:v1`,
      '--config',
      join(dir, 'both.yaml'),
      '--output',
      join(dir, 'out/d2.raw'),
    ]);
    t.equal(both.status, 2, 'remote and image together: a config error');
    t.match(both.stderr, /remote .*or image .*not both/);
    const bad = await writeFile(join(dir, 'bad.yaml'), 'image: docker://Registry/X\n').then(() =>
      run(['--oci', `oci:${dir}/image:v1`, '--config', join(dir, 'bad.yaml'), '--output', join(dir, 'out/d3.raw')]),
    );
    t.equal(bad.status, 2);
    t.match(bad.stderr, /bad\.yaml:1:\d+: .*not a registry image reference/);
  },
);
