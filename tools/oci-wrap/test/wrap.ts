/**
 * The tiny commit through oci-wrap and back: what skopeo and umoci see, the
 * ostree-ext layout inside the layers, reproducibility, the same commit after
 * import, and a one-package update with --previous.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { lstat, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { importImage } from '../src/import.js';
import { readManifest } from '../src/oci.js';
import { EPOCH, LONG, ociWrap, ostreeIn, REF, tinyCommit } from './fixtures/tiny.js';

t.test('wrap, inspect, unpack, re-import', async (t) => {
  const dir = t.testdir();
  const repo = join(dir, 'repo');
  const commit = await tinyCommit(dir, repo);
  const r = ociWrap(['--repo', repo, '--ref', REF, '--output', `oci:${dir}/image:v1`]);
  t.equal(r.status, 0, r.stderr);
  const out = r.json();
  t.equal(out.commit, commit);
  t.same(
    out.layers.map((l: { components: string[] }) => l.components),
    [['ostree_commit'], ['kernel'], ['libfoo1'], ['passwd'], ['hello'], ['base-files']],
    'commit layer, kernel, then packages by size',
  );

  const inspect = spawnSync('skopeo', ['inspect', `oci:${dir}/image:v1`], { encoding: 'utf8' });
  t.equal(inspect.status, 0, inspect.stderr);
  const info = JSON.parse(inspect.stdout);
  t.match(info.Labels, {
    'containers.bootc': '1',
    'ostree.bootable': '1',
    'ostree.commit': commit,
    'ostree.linux': '6.12.0-1-amd64',
    'org.opencontainers.image.version': /^13\./,
  });
  t.match(info.Labels['ostree.final-diffid'], /^sha256:[0-9a-f]{64}$/);
  t.equal(info.Layers.length, 6);
  t.equal(info.Created, new Date(Number(EPOCH) * 1000).toISOString().replace('.000Z', 'Z'));

  const { manifest } = await readManifest(join(dir, 'image'), 'v1');
  t.same(
    manifest.layers.map((l) => l.annotations?.['ostree.components']),
    ['ostree_commit', 'kernel', 'libfoo1', 'passwd', 'hello', 'base-files'],
  );

  const unpack = spawnSync('umoci', ['unpack', '--image', `${dir}/image:v1`, join(dir, 'bundle')], {
    encoding: 'utf8',
  });
  t.equal(unpack.status, 0, unpack.stderr);
  const rootfs = join(dir, 'bundle/rootfs');
  t.equal(await readFile(join(rootfs, 'usr/bin/hello'), 'utf8'), '#!/bin/sh\necho hello 1\n');
  t.equal(
    await readFile(join(rootfs, 'etc/passwd'), 'utf8'),
    'root:x:0:0:root:/root:/bin/sh\n',
    '/usr/etc is presented as /etc',
  );
  await t.rejects(stat(join(rootfs, 'usr/etc')), 'no usr/etc in the image');
  const chage = await stat(join(rootfs, 'usr/bin/chage'));
  t.equal(chage.mode & 0o7777, 0o2755);
  t.equal(chage.gid, 42);
  t.equal(chage.nlink, 2, 'real paths are hardlinks to the objects');
  t.equal(await readFile(join(rootfs, LONG), 'utf8'), 'long path\n');
  // /var as the first boot makes it, so a Containerfile's RUN finds the dpkg database and its directories.
  const cache = await lstat(join(rootfs, 'var/cache/hello'));
  t.ok(cache.isDirectory());
  t.same([cache.mode & 0o7777, cache.uid, cache.gid], [0o750, 0, 42], 'a d line: its mode, and its group by name');
  t.equal(await readlink(join(rootfs, 'var/lib/dpkg')), '../../usr/lib/sysimage/dpkg', 'an L line');
  t.equal(
    await readFile(join(rootfs, 'var/lib/dpkg/status'), 'utf8'),
    'Package: hello\nVersion: 1\n',
    'dpkg finds its database through the link',
  );
  t.equal(await readFile(join(rootfs, 'var/lib/hello/state'), 'utf8'), 'state 1\n', 'a C line: the factory file');
  t.equal(
    (await stat(join(rootfs, 'var/lib/hello/state'))).nlink,
    3,
    'a hardlink to the object, beside the factory path',
  );
  t.equal(await readlink(join(rootfs, 'var/run')), '../run');
  t.equal((await stat(join(rootfs, 'var/lib'))).mode & 0o7777, 0o755, 'parents are made');
  t.equal(
    await readFile(join(rootfs, 'sysroot/ostree/repo/config'), 'utf8'),
    '[core]\nrepo_version=1\nmode=bare-split-xattrs\n',
  );
  t.ok(await stat(join(rootfs, `sysroot/ostree/repo/objects/${commit.slice(0, 2)}/${commit.slice(2)}.commit`)));

  const again = ociWrap(['--repo', repo, '--ref', REF, '--output', `oci:${dir}/image2`]);
  t.equal(again.json().manifest, out.manifest, 'same commit, same manifest digest');

  const imported = await importImage({ source: `oci:${dir}/image:v1`, repo: join(dir, 'imported') });
  t.same(imported, {
    commit,
    digest: out.manifest,
    ref: REF,
    layers: 6,
    objects: imported.objects,
    ignored: 0,
    base: commit,
    derived: 0,
    filtered: {},
  });
  t.equal(
    (await ostreeIn(join(dir, 'imported'), 'rev-parse', REF)).trim(),
    commit,
    'the imported commit has the same checksum',
  );
  t.equal(
    await ostreeIn(join(dir, 'imported'), 'cat', commit, '/usr/bin/chage'),
    await ostreeIn(repo, 'cat', commit, '/usr/bin/chage'),
  );
});

t.test('one-package update with --previous: at most 2 layers change', async (t) => {
  const dir = t.testdir();
  const repo = join(dir, 'repo');
  await tinyCommit(dir, repo, '1');
  t.equal(ociWrap(['--repo', repo, '--ref', REF, '--output', `oci:${dir}/image:v1`, '--max-layers', '4']).status, 0);
  const c2 = await tinyCommit(dir, repo, '2');
  const r = ociWrap([
    '--repo',
    repo,
    '--ref',
    REF,
    '--output',
    `oci:${dir}/image:v2`,
    '--previous',
    `oci:${dir}/image:v1`,
    '--max-layers',
    '4',
  ]);
  t.equal(r.status, 0, r.stderr);
  const out = r.json();
  t.equal(out.commit, c2);
  t.equal(out.layers.length, 4);
  t.equal(out.changedLayers, 2, 'the commit layer and the layer of hello');
  const v1 = await readManifest(join(dir, 'image'), 'v1');
  const v2 = await readManifest(join(dir, 'image'), 'v2');
  t.same(
    v2.manifest.layers.map((l) => l.annotations),
    v1.manifest.layers.map((l) => l.annotations),
    'same assignment',
  );
  t.not(v2.manifest.layers[0]!.digest, v1.manifest.layers[0]!.digest);
  t.equal(v2.manifest.layers[1]!.digest, v1.manifest.layers[1]!.digest, 'kernel layer unchanged');
});

t.test('usage errors', async (t) => {
  const dir = t.testdir();
  t.equal(ociWrap(['--repo', dir, '--ref', REF, '--output', `${dir}/x`]).status, 2);
  const r = ociWrap(['--repo', dir, '--ref', REF, '--output', `oci:${dir}/x`, '--max-layers', '3']);
  t.equal(r.status, 2);
  t.match(r.stderr, /at least 4/);
  t.equal(ociWrap(['--repo', dir, '--ref', REF, '--output', `oci:${dir}/x`, '--gzip-level', '12']).status, 2);
  const missing = ociWrap(['--repo', join(dir, 'nope'), '--ref', REF, '--output', `oci:${dir}/x`]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /not an OSTree repository/);
});
