/**
 * Derived images (a Containerfile FROM one of ours) through the pull path, with real skopeo,
 * ostree and docker-registry: the ref ends on the merged commit (parent: the base commit), the
 * same image again imports nothing, a rebuild on the same base downloads only its own layers,
 * a new base under the same Containerfile is imported again.
 */
import t from 'tap';
import { NO_REQUESTS } from '../src/origin.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importImage } from '@debian-atomic/oci-wrap';
import { imageRefName, inspectImage, pullImage } from '../src/image.js';
import { parseShowBase, parseShowDate } from '../src/sysroot.js';
import { deploymentJson, formatStatus, hostDocument } from '../src/status.js';
import { HostSchema } from '../src/schema.js';
import {
  adminSysroot,
  bareSysroot,
  deriveImage,
  manifestOf,
  ostreeIn,
  proxiedRegistry,
  skopeo,
  tarOf,
  twoVersions,
  type Item,
  type TwoVersions,
} from './fixtures/images.js';

const root = t.testdir();
let fx: TwoVersions;
let layout: string;

/** What a Containerfile's `RUN` adds: a program, a configuration file, state in /var. */
const LAYER: Item[] = [
  { name: 'usr/', type: 'directory', mode: 0o755 },
  { name: 'usr/bin/', type: 'directory', mode: 0o755 },
  { name: 'usr/bin/added', mode: 0o755, content: '#!/bin/sh\necho added\n' },
  { name: 'etc/', type: 'directory', mode: 0o755 },
  { name: 'etc/added.conf', content: 'key=value\n' },
  { name: 'var/', type: 'directory', mode: 0o755 },
  { name: 'var/lib/', type: 'directory', mode: 0o755 },
  { name: 'var/lib/added/', type: 'directory', mode: 0o755 },
];
/** The same Containerfile with its RUN changed: another layer. */
const REBUILT: Item[] = [
  ...LAYER.slice(0, 2),
  { name: 'usr/bin/added', mode: 0o755, content: '#!/bin/sh\necho added, rebuilt\n' },
  ...LAYER.slice(3),
];

t.before(async () => {
  fx = await twoVersions(root);
  // The derived images beside copies of v1 and v2 (the shared layout stays as twoVersions made it).
  layout = join(root, 'derived');
  for (const v of ['v1', 'v2']) skopeo('copy', '--quiet', `oci:${fx.layout}:${v}`, `oci:${layout}:${v}`);
  await deriveImage(layout, 'v1', 'd1', [tarOf(LAYER)], {
    created: '2026-01-02T03:04:05Z',
    labels: { 'org.opencontainers.image.version': '13.derived.1' },
  });
  await deriveImage(layout, 'v1', 'd1-rebuilt', [tarOf(REBUILT)], {
    created: '2026-01-03T03:04:05Z',
    labels: { 'org.opencontainers.image.version': '13.derived.2' },
  });
  await deriveImage(layout, 'v2', 'd2', [tarOf(LAYER)], {
    created: '2026-01-04T03:04:05Z',
    labels: { 'org.opencontainers.image.version': '13.derived.3' },
  });
});

t.test('inspect: a derived image names its base commit, not a commit to deploy', async (t) => {
  const c = await inspectImage(`oci:${layout}:d1`, { sysroot: t.testdir() });
  t.match(c, {
    digest: (await manifestOf(layout, 'd1')).digest,
    base: fx.c1,
    derived: 1,
    version: '13.derived.1',
    created: '2026-01-02T03:04:05Z',
  });
  t.equal(c.commit, undefined);
  const plain = await inspectImage(`oci:${layout}:v1`, { sysroot: t.testdir() });
  t.match(plain, { commit: fx.c1 });
  t.equal(plain.base, undefined, 'not derived');
  await deriveImage(layout, 'v1', 'bad-final', [], { labels: { 'ostree.final-diffid': `sha256:${'0'.repeat(64)}` } });
  await t.rejects(inspectImage(`oci:${layout}:bad-final`, { sysroot: t.testdir() }), {
    code: 'bad-image',
    message: /label ostree\.final-diffid names none of the image's layers/,
  });
});

t.test('pulls of derived images through a registry', async (t) => {
  const { dir, registry, proxy, port } = await proxiedRegistry(t);
  const http = { tlsVerify: false };
  const push = (tag: string) =>
    skopeo(
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${layout}:${tag}`,
      `docker://${registry.host}/debian-atomic/derived:latest`,
    );
  const image = `docker://127.0.0.1:${port}/debian-atomic/derived:latest`;
  const { sysroot, repo } = await bareSysroot(join(dir, 'sysroot'));
  const d1 = await manifestOf(layout, 'd1');
  const d1b = await manifestOf(layout, 'd1-rebuilt');
  const d2 = await manifestOf(layout, 'd2');
  const refCommit = async () => (await ostreeIn(repo, 'rev-parse', imageRefName(image))).trim();

  push('d1');
  proxy.reset();
  const check = await inspectImage(image, { sysroot, ...http });
  t.match(check, { digest: d1.digest, base: fx.c1, derived: 1 });
  t.same(
    [...proxy.blobsServed.keys()],
    [d1.config],
    'inspect reads the config (twice: labels, then diff IDs), no layer',
  );

  proxy.reset();
  const p1 = await pullImage(image, { sysroot, repo, ...http });
  t.match(p1, { digest: d1.digest, base: fx.c1, derived: 1, layers: 7, layersFetched: 7, version: '13.derived.1' });
  t.not(p1.commit, fx.c1, 'the commit to deploy is the merged one');
  t.equal(await refCommit(), p1.commit, 'the ref is on the merged commit');
  t.equal(
    (await ostreeIn(repo, 'show', `--print-metadata-key=debian-atomic.derived.base`, p1.commit)).trim(),
    `'${fx.c1}'`,
  );
  const show = await ostreeIn(repo, 'show', p1.commit);
  t.match(show, new RegExp(`^Parent: +${fx.c1}$`, 'm'), 'parent: the base commit');
  t.equal(parseShowBase(show), fx.c1, 'status reads the base from the subject');
  t.equal(parseShowDate(show), Date.parse('2026-01-02T03:04:05Z') / 1000);
  t.equal(await ostreeIn(repo, 'cat', p1.commit, '/usr/bin/added'), '#!/bin/sh\necho added\n');
  t.equal(await ostreeIn(repo, 'cat', p1.commit, '/usr/etc/added.conf'), 'key=value\n', '/etc → /usr/etc');
  t.equal(await ostreeIn(repo, 'cat', p1.commit, '/usr/bin/hello'), '#!/bin/sh\necho hello 1\n', 'the base content');
  t.match(await ostreeIn(repo, 'fsck'), /no errors found/);
  const onHost = await importImage({ source: `oci:${layout}:d1`, repo: join(dir, 'archive') });
  t.equal(
    onHost.commit,
    p1.commit,
    'the same commit as disk-image makes of the image on a host (an archive repository, a copied checkout)',
  );

  proxy.reset();
  const again = await pullImage(image, { sysroot, repo, ...http });
  t.match(
    again,
    { commit: p1.commit, layersFetched: 0, bytesFetched: 0, objects: 0 },
    'the same image again: nothing fetched, nothing imported',
  );
  t.same([...proxy.blobsServed.keys()], [d1.config], 'no layer served');

  push('d1-rebuilt');
  proxy.reset();
  const p1b = await pullImage(image, { sysroot, repo, ...http });
  const own = d1b.layers.filter((l) => !d1.layers.includes(l));
  t.equal(own.length, 1, 'the rebuild changes its derived layer only');
  t.match(p1b, { digest: d1b.digest, base: fx.c1, layersFetched: 1, version: '13.derived.2' });
  t.same(
    [...proxy.blobsServed.keys()].sort(),
    [d1b.config, ...own].sort(),
    'only the derived layer and the config downloaded',
  );
  t.not(p1b.commit, p1.commit);
  t.equal((await ostreeIn(repo, 'rev-parse', `${p1b.commit}^`)).trim(), fx.c1, 'on the same base');
  t.equal(await refCommit(), p1b.commit);
  t.equal(await ostreeIn(repo, 'cat', p1b.commit, '/usr/bin/added'), '#!/bin/sh\necho added, rebuilt\n');
  t.ok(
    p1b.objects > 0 && p1b.objects < p1.objects,
    `the rebuild imports its own objects only, the base's are in the system repository (${p1b.objects} objects, the first pull ${p1.objects})`,
  );
  t.match(
    await ostreeIn(repo, 'fsck'),
    /no errors found/,
    'the merge in the system repository (a hardlinked checkout) left every object intact',
  );

  push('d2');
  proxy.reset();
  const p2 = await pullImage(image, { sysroot, repo, ...http });
  const changed = d2.layers.filter((l) => !d1b.layers.includes(l) && !d1.layers.includes(l));
  t.equal(changed.length, 2, 'v2 of the base changes two of its layers; the derived layer is the same bytes as d1’s');
  t.match(p2, { digest: d2.digest, base: fx.c2, layersFetched: 2 });
  t.same([...proxy.blobsServed.keys()].sort(), [d2.config, ...changed].sort());
  t.equal((await ostreeIn(repo, 'rev-parse', `${p2.commit}^`)).trim(), fx.c2, 'imported again, on the new base');
  t.equal(await ostreeIn(repo, 'cat', p2.commit, '/usr/bin/hello'), '#!/bin/sh\necho hello 2\n');
  t.equal(await ostreeIn(repo, 'cat', p2.commit, '/usr/bin/added'), '#!/bin/sh\necho added\n');
  t.equal(await refCommit(), p2.commit);
  t.comment(
    `derived: first pull ${p1.objects} objects; rebuild ${p1b.objects} objects, ${p1b.bytesFetched} bytes; new base ${p2.objects} objects`,
  );

  t.test('status says what a derived deployment is', async (t) => {
    const d = {
      osname: 'debian',
      checksum: p2.commit,
      serial: 0,
      booted: true,
      staged: false,
      pending: false,
      rollback: false,
      pinned: false,
      version: '13.derived.3',
      base: fx.c2,
      origin: { kind: 'image' as const, image, digest: d2.digest },
      kernelArgs: [],
      requests: NO_REQUESTS,
      index: 0,
    };
    const text = formatStatus([d]);
    t.match(text, `Digest: ${d2.digest}`);
    t.match(text, `Version: 13.derived.3`);
    t.match(text, `Base: ${fx.c2} (derived image)`);
    t.match(deploymentJson(d), { base: fx.c2, version: '13.derived.3', origin: { type: 'image', digest: d2.digest } });
    t.ok(HostSchema.parse(hostDocument([d])), 'the JSON document is valid');
    t.notMatch(formatStatus([{ ...d, base: undefined }]), /Base:/, 'no Base row for a commit that is not derived');
  });
});

t.test('into a real sysroot: the merged commit deploys, /etc and /var as the import made them', async (t) => {
  const { sysroot, repo, admin } = await adminSysroot(t);
  const p = await pullImage(`oci:${layout}:d1`, { sysroot, repo });
  t.match(p, { base: fx.c1, derived: 1 });
  await admin('deploy', '--os=debian', '--karg=root=LABEL=root', p.commit);
  t.match(await admin('status'), new RegExp(`debian ${p.commit}\\.0`), 'deployed');
  const deployed = join(sysroot, `ostree/deploy/debian/deploy/${p.commit}.0`);
  t.equal(await readFile(join(deployed, 'usr/bin/added'), 'utf8'), '#!/bin/sh\necho added\n');
  t.equal(
    await readFile(join(deployed, 'etc/added.conf'), 'utf8'),
    'key=value\n',
    "the layer's /etc is the deployment's /etc",
  );
  t.match(
    await readFile(join(deployed, 'usr/lib/tmpfiles.d/debian-atomic-derived.conf'), 'utf8'),
    /^d \/var\/lib\/added 0755 root (root|0) -$/m,
    "/var made at boot (the tiny fixture's group file has no gid 0)",
  );
});
