import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { copyImage } from '../src/image.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The smallest ostree container image layout: one (empty-tar) layer, a config with the commit label. */
function layout(dir: string, corrupt = false): { manifestDigest: string; layer: string } {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  const put = (b: Buffer | string) => {
    const d = sha(b);
    writeFileSync(join(dir, 'blobs/sha256', d.slice(7)), b);
    return d;
  };
  const tar = Buffer.alloc(1024);
  const layer = gzipSync(tar);
  const layerDigest = put(layer);
  if (corrupt) writeFileSync(join(dir, 'blobs/sha256', layerDigest.slice(7)), Buffer.alloc(layer.length, 1));
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { 'ostree.commit': 'a'.repeat(64), 'org.opencontainers.image.version': '13.1' } },
    rootfs: { type: 'layers', diff_ids: [sha(tar)] },
  });
  const configDigest = put(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
  });
  const manifestDigest = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifestDigest,
        size: manifest.length,
        annotations: { 'org.opencontainers.image.ref.name': 'v1' },
      },
    ],
  };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return { manifestDigest, layer: layerDigest };
}

t.test('the tagged image is copied blob by blob, with an index that tags it', async (t) => {
  const dir = t.testdir({ src: {}, dest: {} });
  const { manifestDigest, layer } = layout(join(dir, 'src'));
  const r = await copyImage(join(dir, 'src'), 'v1', join(dir, 'dest/image'));
  t.equal(r.digest, manifestDigest);
  t.equal(r.image.commit, 'a'.repeat(64));
  const index = JSON.parse(readFileSync(join(dir, 'dest/image/index.json'), 'utf8'));
  t.same(
    index.manifests.map((m: { digest: string; annotations: Record<string, string> }) => [
      m.digest,
      m.annotations['org.opencontainers.image.ref.name'],
    ]),
    [[manifestDigest, 'v1']],
  );
  t.same(
    readFileSync(join(dir, 'dest/image/blobs/sha256', layer.slice(7))),
    readFileSync(join(dir, 'src/blobs/sha256', layer.slice(7))),
  );
});

t.test('a blob whose bytes do not match its digest is refused', async (t) => {
  const dir = t.testdir({ src: {}, dest: {} });
  layout(join(dir, 'src'), true);
  await t.rejects(copyImage(join(dir, 'src'), 'v1', join(dir, 'dest/image')), {
    exitCode: 2,
    message: /the manifest says/,
  });
});

t.test(
  'a layout of one image: any tag names it (as oci-wrap reads layouts), and the copy carries that tag',
  async (t) => {
    const dir = t.testdir({ src: {}, dest: {} });
    const { manifestDigest } = layout(join(dir, 'src'));
    t.equal((await copyImage(join(dir, 'src'), 'latest', join(dir, 'dest/image'))).digest, manifestDigest);
    t.match(
      readFileSync(join(dir, 'dest/image/index.json'), 'utf8'),
      /"org\.opencontainers\.image\.ref\.name":"latest"/,
    );
  },
);
