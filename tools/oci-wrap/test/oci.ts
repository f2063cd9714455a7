/**
 * Reading a layout in process: the index, manifest and config checks, blobs against their
 * descriptors, and where --output may write. (The same classes as processes, with time and
 * memory caps, are in test/hostile.ts.)
 */
import t from 'tap';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readImage } from '../src/import.js';
import {
  blobPath,
  checkOutputLayout,
  readConfig,
  readIndex,
  readManifest,
  readVerifiedBlob,
  streamVerifiedBlob,
  tagManifest,
  writeBlob,
} from '../src/oci.js';
import { layoutOf, tarOf } from './fixtures/layout.js';

async function layout(t: typeof import('tap').default) {
  const dir = join(t.testdir(), 'img');
  await layoutOf(dir, [tarOf([])]);
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
  const d = index.manifests[0];
  const manifest = JSON.parse(await readFile(blobPath(dir, d.digest), 'utf8'));
  const setIndex = (i: unknown) => writeFile(join(dir, 'index.json'), typeof i === 'string' ? i : JSON.stringify(i));
  const setManifest = async (m: unknown) => {
    const b = await writeBlob(dir, Buffer.from(JSON.stringify(m)));
    await setIndex({ ...index, manifests: [{ ...d, digest: b.digest, size: b.size }] });
  };
  return { dir, index, d, manifest, setIndex, setManifest };
}

t.test('the index', async (t) => {
  const l = await layout(t);
  t.equal((await readIndex(l.dir)).manifests.length, 1);
  await l.setIndex('manifests: []');
  await t.rejects(readIndex(l.dir), {
    code: 'input',
    exitCode: 2,
    message: /img\/index\.json: OCI image index is not JSON/,
  });
  await l.setIndex({ ...l.index, manifests: [{ ...l.d, digest: `sha512:${'a'.repeat(128)}` }] });
  await t.rejects(
    readManifest(l.dir, 'latest'),
    { exitCode: 2, message: /unsupported or malformed digest "sha512:a+"/ },
    'a registered algorithm we do not read',
  );
  await l.setIndex({ ...l.index, manifests: [{ ...l.d, size: 2 ** 45 }] });
  await t.rejects(readIndex(l.dir), { message: /manifests\[0\]\.size: expected a size of at most 1099511627776/ });
  await l.setIndex({ ...l.index, manifests: [{ ...l.d, digest: `sha256:${'e'.repeat(64)}` }] });
  await t.rejects(readManifest(l.dir, 'latest'), {
    exitCode: 2,
    message: /blobs\/sha256\/e{64}: cannot read OCI image manifest: no such file/,
  });
  await l.setIndex({ schemaVersion: 2, manifests: [] });
  await t.rejects(readManifest(l.dir, 'latest'), { code: 'missing-tag', exitCode: 2, hint: 'tags: (none)' });
  const file = join(t.testdir(), 'file');
  await writeFile(file, 'x');
  await t.rejects(readIndex(file), { exitCode: 2, message: /file: not a directory, cannot read its index\.json/ });
  await t.rejects(readIndex(join(file, '..', 'nope')), { exitCode: 2, message: /nope: no such directory/ });
});

t.test('the index.json as a FIFO is refused, not waited on', async (t) => {
  const l = await layout(t);
  const { execFileSync } = await import('node:child_process');
  await writeFile(join(l.dir, 'index.json.keep'), '');
  execFileSync('sh', ['-c', `rm "${join(l.dir, 'index.json')}" && mkfifo "${join(l.dir, 'index.json')}"`]);
  await t.rejects(readIndex(l.dir), { exitCode: 2, message: /index\.json: cannot read OCI image index: a FIFO/ });
});

t.test('the manifest and the config', async (t) => {
  const l = await layout(t);
  t.equal((await readManifest(l.dir, 'latest')).manifest.layers.length, 1);
  await l.setManifest({ ...l.manifest, config: { ...l.manifest.config, mediaType: 'application/octet-stream' } });
  const { manifest } = await readManifest(l.dir, 'latest');
  await t.rejects(readConfig(l.dir, manifest), {
    exitCode: 2,
    message: /the image config is application\/octet-stream, not application\/vnd\.oci\.image\.config\.v1\+json/,
  });
  await l.setManifest({
    ...l.manifest,
    layers: [{ ...l.manifest.layers[0], mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }],
  });
  await t.rejects(readImage(l.dir, 'latest'), {
    code: 'unsupported-layer',
    exitCode: 2,
    message: /layer 1 \(sha256:\w+…\): media type application\/vnd\.oci\.image\.layer\.v1\.tar\+zstd is not supported/,
  });
  await l.setManifest({ ...l.manifest, layers: [{ ...l.manifest.layers[0], size: l.manifest.layers[0].size + 1 }] });
  await t.rejects(readImage(l.dir, 'latest'), {
    code: 'digest-mismatch',
    exitCode: 2,
    message: /layer 1 blob sha256:\w+ is \d+ bytes, its descriptor says/,
  });
  const cfg = JSON.parse(await readFile(blobPath(l.dir, l.manifest.config.digest), 'utf8'));
  const b = await writeBlob(l.dir, Buffer.from(JSON.stringify({ ...cfg, rootfs: { ...cfg.rootfs, diff_ids: [] } })));
  await l.setManifest({ ...l.manifest, config: { ...l.manifest.config, digest: b.digest, size: b.size } });
  await t.rejects(readImage(l.dir, 'latest'), {
    code: 'bad-oci',
    exitCode: 2,
    message: /the config lists 0 layers, the manifest 1/,
  });
});

t.test('blobs against their descriptors', async (t) => {
  const l = await layout(t);
  const d = l.manifest.config;
  t.ok((await readVerifiedBlob(l.dir, d)).length);
  await t.rejects(readVerifiedBlob(l.dir, d, 'config', 10), {
    exitCode: 2,
    message: /config sha256:\w+ claims \d+ bytes, more than the 10 one may have/,
  });
  const layer = l.manifest.layers[0];
  const chunks: Buffer[] = [];
  for await (const c of streamVerifiedBlob(l.dir, layer)) chunks.push(c);
  t.equal(Buffer.concat(chunks).length, layer.size);
  const path = blobPath(l.dir, layer.digest);
  const data = await readFile(path);
  data[0]! ^= 1;
  await writeFile(path, data);
  await t.rejects(
    (async () => {
      for await (const c of streamVerifiedBlob(l.dir, layer, 'layer 1')) void c;
    })(),
    { code: 'digest-mismatch', exitCode: 2, message: /layer 1 blob sha256:\w+ does not match its digest/ },
  );
  await writeFile(path, '');
  await mkdir(join(l.dir, 'dir'));
  const dirLayer = { ...layer, digest: `sha256:${'f'.repeat(64)}` };
  await symlink(join(l.dir, 'dir'), blobPath(l.dir, dirLayer.digest));
  await t.rejects(
    (async () => {
      for await (const c of streamVerifiedBlob(l.dir, dirLayer, 'layer 2')) void c;
    })(),
    { exitCode: 2, message: /layer 2 blob is not a regular file/ },
  );
});

t.test('where --output may write', async (t) => {
  const dir = t.testdir({ empty: {}, mine: { 'notes.txt': 'x' }, file: 'x', layout: {} });
  await checkOutputLayout(join(dir, 'new'));
  await checkOutputLayout(join(dir, 'empty'));
  await t.rejects(checkOutputLayout(join(dir, 'mine')), {
    exitCode: 2,
    message: /mine: not empty and not an OCI image layout/,
  });
  await t.rejects(checkOutputLayout(join(dir, 'file')), { exitCode: 2, message: /file: not a directory/ });
  await t.rejects(checkOutputLayout(join(dir, 'file/x')), { exitCode: 2, message: /a parent is not a directory/ });
  const out = join(dir, 'layout');
  const blob = await writeBlob(out, Buffer.from('{}'));
  await tagManifest(out, 'a', {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: blob.digest,
    size: blob.size,
  });
  await checkOutputLayout(out);
  await tagManifest(out, 'b', {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: blob.digest,
    size: blob.size,
  });
  t.same(
    (await readIndex(out)).manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']),
    ['a', 'b'],
    'other tags are kept',
  );
  await writeFile(join(out, 'index.json'), '{"schemaVersion":2,"manifests":[null]}');
  await t.rejects(checkOutputLayout(out), {
    exitCode: 2,
    message: /index\.json: not a valid OCI image index: manifests\[0\]/,
  });
});
