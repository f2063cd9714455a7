/**
 * The registry / OCI path of upgrade and switch, with real skopeo, ostree and docker-registry:
 * a tiny ostree container image v1 and v2 (one package changed) pulled into a bare system
 * repository; only changed layers downloaded, only missing objects written; corrupt blobs,
 * signature policies, bad references, a full disk and SIGINT leave the repository's refs as
 * they were.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  escapeForRef,
  gcImageCache,
  imageRefName,
  inspectImage,
  isImageReference,
  parseImageRef,
  pullImage,
  unescapeRef,
} from '../src/image.js';
import { CACHE_DIR, cacheTag } from '../src/layers.js';
import {
  adminSysroot,
  bareSysroot,
  blobsOf,
  corrupt,
  manifestOf,
  objectsOf,
  ostreeIn,
  refsOf,
  proxiedRegistry,
  skopeo,
  tagsOf,
  twoVersions,
  type TwoVersions,
} from './fixtures/images.js';

const OSTREE_REF = /^[\w\d][-._\w\d]*(\/[\w\d][-._\w\d]*)*$/;
const driver = resolve(import.meta.dirname, 'fixtures/pull-driver.mjs');

// One pair of images for the whole file (wrapping costs seconds).
const root = t.testdir();
let fx: TwoVersions;
t.before(async () => {
  fx = await twoVersions(root);
});

const sum = (m: Map<string, number>, digests: string[]) => digests.reduce((n, d) => n + (m.get(d) ?? 0), 0);

async function nothingLeft(t: Test, sysroot: string, repo: string) {
  t.same(
    await readdir(join(repo, 'tmp')).then((l) => l.filter((n) => n.includes('atomic-import'))),
    [],
    'no import repository left in the repo tmp/',
  );
  t.same(
    (await tagsOf(join(sysroot, CACHE_DIR))).filter((n) => n.includes('.pulling-')),
    [],
    'no temporary tag left in the layer cache',
  );
  t.notOk(existsSync(join(sysroot, CACHE_DIR, '.lock')), 'the cache lock is released');
}

t.test('image references: the grammar, and what a usage error says', async (t) => {
  const ok: [string, string][] = [
    ['docker://127.0.0.1:5000/debian-atomic/base:latest', 'docker://127.0.0.1:5000/debian-atomic/base:latest'],
    [
      'docker://quay.io/fedora/fedora-bootc@sha256:' + 'a'.repeat(64),
      'docker://quay.io/fedora/fedora-bootc@sha256:' + 'a'.repeat(64),
    ],
    ['docker://localhost/x', 'docker://localhost/x'],
    ['oci:/srv/images/base:v1', 'oci:/srv/images/base:v1'],
    ['oci:images/base', `oci:${resolve('/work', 'images/base')}`],
    ['oci-archive:../base.tar:v2', 'oci-archive:/base.tar:v2'],
  ];
  for (const [input, reference] of ok) t.equal(parseImageRef(input, '/work').reference, reference, input);
  t.match(parseImageRef('docker://10.0.2.2:5000/x:v1'), {
    transport: 'docker',
    name: '10.0.2.2:5000/x',
    tag: 'v1',
    digest: undefined,
  });
  t.match(parseImageRef('oci:/a/b'), { transport: 'oci', path: '/a/b', tag: undefined });
  const bad: [string, RegExp][] = [
    ['-x', /is not an image reference/],
    ['--policy=/tmp/p', /is not an image reference/],
    ['docker://-x/y', /is not a registry image reference/],
    ['docker://Host/UPPER', /is not a registry image reference/],
    ['docker://h.io/x:tag@sha256:' + 'b'.repeat(64), /a tag or a digest, not both/],
    ['docker://h.io/x@sha256:short', /is not a registry image reference/],
    ['docker://h.io/x:-tag', /is not a registry image reference/],
    ['oci:', /is not an image reference|is not a layout reference/],
    ['oci:/a:b:c', /is not a layout reference/],
    ['oci:/a/../b', /must not contain '\.\.'/],
    ['oci:/a\nrefspec=evil', /must be one line: it contains a newline/],
    ['docker://h.io/x\u0000', /must be one line: it contains a NUL byte/],
    ['http://h.io/x', /is not an image reference/],
    ['remote:debian/13/x86_64/base', /is not an image reference/],
    [`docker://h.io/${'x'.repeat(1100)}`, /longer than 1024 characters/],
  ];
  for (const [input, why] of bad) {
    t.throws(
      () => parseImageRef(input, '/work'),
      { code: 'usage', exitCode: 2, message: why, hint: /docker:\/\/HOST\/NAME/ },
      JSON.stringify(input.slice(0, 40)),
    );
  }
  t.ok(
    isImageReference('oci-archive:/x') &&
      isImageReference('docker://h/x') &&
      !isImageReference('origin:debian/13/x86_64/base'),
  );
  const sysroot = t.testdir();
  await t.rejects(inspectImage('--help', { sysroot }), { code: 'usage', exitCode: 2 }, 'refused before skopeo runs');
  await t.rejects(
    pullImage('docker://h.io/x:a@sha256:' + 'c'.repeat(64), { sysroot, repo: join(sysroot, 'ostree/repo') }),
    { code: 'usage', exitCode: 2 },
  );
});

t.test('refs and cache tags made of references', async (t) => {
  // ostree-ext's refescape example, to the character.
  t.equal(escapeForRef('registry:quay.io/coreos/fedora:latest'), 'registry_3A_quay_2E_io/coreos/fedora_3A_latest');
  const refs = [
    'docker://127.0.0.1:5000/x:latest',
    'oci:/srv/a_b/-c:v1',
    'oci-archive:/x.tar',
    'docker://h.io/a/b@sha256:' + 'f'.repeat(64),
    'oci:/über/ünïcode',
  ];
  for (const r of refs) {
    const name = imageRefName(r);
    t.match(name, OSTREE_REF, `${r} → ${name}`);
    t.equal(unescapeRef(name.slice('atomic/image/'.length)), r, 'and back');
    const tag = cacheTag(r);
    t.match(tag, /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*$/, tag);
    t.ok(tag.length <= 128);
  }
  t.equal(
    imageRefName('docker://127.0.0.1:5000/x:latest'),
    'atomic/image/docker_3A__2F__2F_127_2E_0_2E_0_2E_1_3A_5000/x_3A_latest',
  );
  t.not(cacheTag('oci:/a:b'), cacheTag('oci:/a_b'), 'tags differ where references differ');
});

t.test('inspect: digest, version and commit, nothing downloaded', async (t) => {
  const sysroot = t.testdir();
  const c = await inspectImage(`oci:${fx.layout}:v1`, { sysroot });
  t.same(
    { ...c, version: undefined },
    {
      image: `oci:${fx.layout}:v1`,
      digest: (await manifestOf(fx.layout, 'v1')).digest,
      commit: fx.c1,
      created: '2025-11-22T12:00:00Z',
      version: undefined,
    },
  );
  t.match(c.version, /^13\.\d{8}\.\d+$/);
  t.notOk(existsSync(join(sysroot, CACHE_DIR)), 'no cache made');
  await t.rejects(inspectImage(`oci:${fx.layout}:v9`, { sysroot }), {
    code: 'image-unavailable',
    message: new RegExp(`oci:${fx.layout}:v9: cannot inspect the image: .*v9`),
  });
});

t.test('oci: pulls: all layers, then only the changed ones; objects the repository has are skipped', async (t) => {
  const { sysroot, repo } = await bareSysroot(t.testdir());
  const source = await blobsOf(fx.layout);
  const v1 = await manifestOf(fx.layout, 'v1');
  const v2 = await manifestOf(fx.layout, 'v2');

  const p1 = await pullImage(`oci:${fx.layout}:v1`, { sysroot, repo });
  t.match(p1, {
    commit: fx.c1,
    digest: v1.digest,
    layers: 6,
    layersFetched: 6,
    ref: imageRefName(`oci:${fx.layout}:v1`),
  });
  t.equal(p1.bytesFetched, sum(source, v1.blobs), 'every blob of v1 copied');
  t.equal((await ostreeIn(repo, 'rev-parse', p1.ref)).trim(), fx.c1, 'the ref is on the commit');
  const after1 = await objectsOf(repo);
  t.ok(
    after1.some((o) => o.endsWith('.file')) && !after1.some((o) => o.endsWith('.filez')),
    'content objects stored as in a bare repository',
  );
  t.equal(await ostreeIn(repo, 'cat', fx.c1, '/usr/bin/hello'), '#!/bin/sh\necho hello 1\n');
  await nothingLeft(t, sysroot, repo);

  const p2 = await pullImage(`oci:${fx.layout}:v2`, { sysroot, repo });
  const changed = v2.layers.filter((l) => !v1.layers.includes(l));
  t.equal(changed.length, 2, 'the fixture changes two layers: the commit layer and hello');
  t.match(p2, { commit: fx.c2, digest: v2.digest, layers: 6, layersFetched: 2 });
  t.equal(
    p2.bytesFetched,
    sum(source, [v2.digest, v2.config, ...changed]),
    'only the changed layers, the config and the manifest copied',
  );
  const after2 = await objectsOf(repo);
  const added = after2.filter((o) => !after1.includes(o));
  t.ok(p2.objects < p1.objects / 3, `v2 wrote ${p2.objects} objects, v1 ${p1.objects}`);
  t.ok(added.length <= p2.objects, `${added.length} objects new in the repository, all written by the import`);
  t.equal(await ostreeIn(repo, 'cat', fx.c2, '/usr/bin/hello'), '#!/bin/sh\necho hello 2\n');
  t.match(await ostreeIn(repo, 'fsck'), /no errors found/);
  t.same(await refsOf(repo), [p1.ref, p2.ref].sort());
  t.same(
    await tagsOf(join(sysroot, CACHE_DIR)),
    [cacheTag(`oci:${fx.layout}:v1`), cacheTag(`oci:${fx.layout}:v2`)].sort(),
  );
  t.comment(
    `oci: v1 ${p1.layersFetched}/${p1.layers} layers, ${p1.bytesFetched} bytes, ${p1.objects} objects; v2 ${p2.layersFetched}/${p2.layers} layers, ${p2.bytesFetched} bytes, ${p2.objects} objects`,
  );

  const again = await pullImage(`oci:${fx.layout}:v2`, { sysroot, repo });
  t.match(
    again,
    { commit: fx.c2, layersFetched: 0, objects: 0 },
    'the same image again: nothing fetched, nothing imported',
  );
  t.equal(again.bytesFetched, 0);

  t.test('gc keeps what the images to keep use', async (t) => {
    const cache = join(sysroot, CACHE_DIR);
    const before = await blobsOf(cache);
    const r = await gcImageCache({ sysroot, keep: [v2.digest] });
    const gone = [v1.digest, v1.config, ...v1.layers.filter((l) => !v2.layers.includes(l))];
    t.equal(r.removedBytes, sum(before, gone), 'v1’s manifest, config and own layers removed');
    t.same([...(await blobsOf(cache)).keys()].sort(), [...v2.blobs].sort(), 'v2’s blobs stay');
    t.same(await tagsOf(cache), [cacheTag(`oci:${fx.layout}:v2`)]);
    t.same(await gcImageCache({ sysroot, keep: [v2.digest] }), { removedBytes: 0 }, 'nothing more');
    t.same(await gcImageCache({ sysroot: t.testdir(), keep: [] }), { removedBytes: 0 }, 'no cache, nothing to do');
  });
});

t.test('into a real sysroot: the pulled commit deploys', async (t) => {
  const { sysroot, repo, admin } = await adminSysroot(t);
  t.match(await readFile(join(repo, 'config'), 'utf8'), /mode=bare/);
  const p = await pullImage(`oci:${fx.layout}:v1`, { sysroot, repo });
  await admin('deploy', '--os=debian', '--karg=root=LABEL=root', p.commit);
  t.match(await admin('status'), new RegExp(`debian ${p.commit}\\.0`), 'deployed');
  t.equal(
    await readFile(join(sysroot, `ostree/deploy/debian/deploy/${p.commit}.0/usr/bin/hello`), 'utf8'),
    '#!/bin/sh\necho hello 1\n',
  );
  t.ok(existsSync(join(sysroot, CACHE_DIR, 'index.json')), `the layer cache is <sysroot>/${CACHE_DIR}`);
});

t.test('a registry: only the changed layers cross the wire; signature policy', async (t) => {
  const { dir, registry, proxy, port } = await proxiedRegistry(t);
  const proxied = `127.0.0.1:${port}`;
  // Plain HTTP (a system marks such a registry insecure in /etc/containers/registries.conf).
  const http = { tlsVerify: false };
  const push = (tag: string) =>
    skopeo(
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${fx.layout}:${tag}`,
      `docker://${registry.host}/debian-atomic/tiny:latest`,
    );
  const image = `docker://${proxied}/debian-atomic/tiny:latest`;
  const { sysroot, repo } = await bareSysroot(join(dir, 'sysroot'));
  const v1 = await manifestOf(fx.layout, 'v1');
  const v2 = await manifestOf(fx.layout, 'v2');
  const source = await blobsOf(fx.layout);

  push('v1');
  proxy.reset();
  const c1 = await inspectImage(image, { sysroot, ...http });
  t.match(c1, { image, digest: v1.digest, commit: fx.c1 });
  t.same([...proxy.blobsServed.keys()], [v1.config], 'inspect reads the config, no layer');

  proxy.reset();
  const p1 = await pullImage(image, { sysroot, repo, ...http });
  t.match(p1, { commit: fx.c1, digest: v1.digest, layers: 6, layersFetched: 6 });
  t.equal(proxy.blobsServed.size, 7, 'six layers and the config served');

  push('v2');
  const c2 = await inspectImage(image, { sysroot, ...http });
  t.match(c2, { digest: v2.digest, commit: fx.c2 }, 'the moved tag is seen');
  proxy.reset();
  const p2 = await pullImage(image, { sysroot, repo, ...http });
  const changed = v2.layers.filter((l) => !v1.layers.includes(l));
  t.match(p2, { commit: fx.c2, digest: v2.digest, layersFetched: 2 });
  t.same(
    [...proxy.blobsServed.keys()].sort(),
    [v2.config, ...changed].sort(),
    'only the two changed layers and the config were downloaded',
  );
  const layerBytes = sum(source, changed);
  t.equal(sum(proxy.blobsServed, changed), layerBytes);
  t.ok(proxy.bytes < layerBytes + 8000, `${proxy.bytes} bytes in all crossed the wire`);
  t.equal(
    (await ostreeIn(repo, 'rev-parse', imageRefName(image))).trim(),
    fx.c2,
    'the one ref of the reference moved to v2',
  );
  t.same(await tagsOf(join(sysroot, CACHE_DIR)), [cacheTag(image)], 'one tag for the reference');
  t.comment(
    `registry: v1 ${p1.layersFetched}/${p1.layers} layers ${p1.bytesFetched} bytes; v2 ${p2.layersFetched}/${p2.layers} layers, ${proxy.bytes} bytes over HTTP (layers ${layerBytes}, of ${sum(source, v2.layers)} for the whole image)`,
  );

  t.test('a policy that rejects: refused, nothing changed', async (t) => {
    const policy = join(dir, 'reject.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'reject' }] }));
    const refs = await refsOf(repo);
    const objects = await objectsOf(repo);
    push('v1');
    await t.rejects(pullImage(image, { sysroot, repo, policy, ...http }), {
      code: 'signature-policy',
      exitCode: 1,
      message: `${image} refused by the signature policy (${policy}): Running image docker://${proxied}/debian-atomic/tiny@${v1.digest} is rejected by policy.`,
    });
    t.same(await refsOf(repo), refs, 'refs unchanged');
    t.same(await objectsOf(repo), objects, 'no object written');
    await nothingLeft(t, sysroot, repo);
  });

  t.test('signedBy: an unsigned image is refused, a signed one accepted, a wrongly signed one refused', async (t) => {
    // A short home: gpg-agent's socket path must fit in a sockaddr_un.
    const home = await mkdtemp(join(tmpdir(), 'atomic-gpg-'));
    t.teardown(async () => {
      spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: home } });
      await rm(home, { recursive: true, force: true });
    });
    const gpg = await gpgKeys(home);
    if (!gpg) return void t.skip('gpg cannot make keys here', () => undefined);
    const sigs = join(dir, 'sigs');
    const registriesD = join(dir, 'registries.d');
    await mkdir(registriesD, { recursive: true });
    await writeFile(
      join(registriesD, 'test.yaml'),
      `docker:\n  ${registry.host}:\n    lookaside-staging: file://${sigs}\n  ${proxied}:\n    lookaside: file://${sigs}\n`,
    );
    const policy = join(dir, 'signed.json');
    await writeFile(
      policy,
      JSON.stringify({
        default: [{ type: 'insecureAcceptAnything' }],
        transports: { docker: { [proxied]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: gpg.trustedKey }] } },
      }),
    );
    const signedPush = (tag: string, fpr: string) =>
      spawnSync(
        'skopeo',
        [
          '--registries.d',
          registriesD,
          'copy',
          '--quiet',
          '--dest-tls-verify=false',
          '--sign-by',
          fpr,
          '--sign-identity',
          `${proxied}/debian-atomic/signed:latest`,
          `oci:${fx.layout}:${tag}`,
          `docker://${registry.host}/debian-atomic/signed:latest`,
        ],
        { encoding: 'utf8', env: { ...process.env, GNUPGHOME: gpg.home } },
      );

    const refs = await refsOf(repo);
    push('v2');
    await t.rejects(pullImage(image, { sysroot, repo, policy, registriesD, ...http }), {
      code: 'signature-policy',
      message: new RegExp(
        `^${image} refused by the signature policy \\(${policy}\\): A signature was required, but no signature exists`,
      ),
    });
    t.same(await refsOf(repo), refs, 'unsigned: refused, refs unchanged');

    const signed = `docker://${proxied}/debian-atomic/signed:latest`;
    let r = signedPush('v1', gpg.trusted);
    t.equal(r.status, 0, r.stderr);
    const p = await pullImage(signed, { sysroot, repo, policy, registriesD, ...http });
    t.match(p, { commit: fx.c1, digest: v1.digest }, 'signed by the trusted key: accepted');

    r = signedPush('v2', gpg.other);
    t.equal(r.status, 0, r.stderr);
    const before = await refsOf(repo);
    await t.rejects(pullImage(signed, { sysroot, repo, policy, registriesD, ...http }), {
      code: 'signature-policy',
      message: /refused by the signature policy .*: .*(not signed by|key|signature)/i,
    });
    t.same(await refsOf(repo), before, 'wrongly signed: refused, refs unchanged');
    t.equal((await ostreeIn(repo, 'rev-parse', imageRefName(signed))).trim(), fx.c1, 'still on v1');
    await nothingLeft(t, sysroot, repo);
  });
});

/** Two GPG keys in a fresh home: the trusted one (its public key exported) and another. */
async function gpgKeys(
  home: string,
): Promise<{ home: string; trusted: string; other: string; trustedKey: string } | null> {
  const env = { ...process.env, GNUPGHOME: home };
  const fprs: string[] = [];
  for (const who of ['trusted', 'other']) {
    const r = spawnSync(
      'gpg',
      [
        '--batch',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        '',
        '--quick-gen-key',
        `${who} <${who}@example.org>`,
        'ed25519',
        'sign',
        'never',
      ],
      { encoding: 'utf8', env },
    );
    if (r.status !== 0) return null;
    const list = spawnSync('gpg', ['--batch', '--with-colons', '--list-secret-keys', `${who}@example.org`], {
      encoding: 'utf8',
      env,
    });
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(list.stdout)?.[1];
    if (!fpr) return null;
    fprs.push(fpr);
  }
  const trustedKey = join(home, 'trusted.gpg');
  const exp = spawnSync('gpg', ['--batch', '--export', '--output', trustedKey, fprs[0]!], { encoding: 'utf8', env });
  if (exp.status !== 0) return null;
  return { home, trusted: fprs[0]!, other: fprs[1]!, trustedKey };
}

t.test('a corrupt blob at the source is refused; nothing changes', async (t) => {
  const dir = t.testdir();
  const { sysroot, repo } = await bareSysroot(join(dir, 'sysroot'));
  const layout = join(dir, 'bad');
  skopeo('copy', '--quiet', `oci:${fx.layout}:v1`, `oci:${layout}:v1`);
  const v1 = await manifestOf(layout, 'v1');
  await corrupt(join(layout, 'blobs/sha256', v1.layers[2]!.slice(7)));
  const refs = await refsOf(repo);
  await t.rejects(pullImage(`oci:${layout}:v1`, { sysroot, repo }), {
    code: 'digest-mismatch',
    message: new RegExp(
      `^oci:${layout}:v1: a blob does not match its digest: .*Digest did not match, expected ${v1.layers[2]}`,
    ),
  });
  t.same(await refsOf(repo), refs, 'refs unchanged');
  t.same(await objectsOf(repo), [], 'no object in the repository');
  await nothingLeft(t, sysroot, repo);
});

t.test('a corrupt blob in the cache (skopeo reuses it unread) is found, removed and fetched again', async (t) => {
  const { sysroot, repo } = await bareSysroot(t.testdir());
  const v1 = await manifestOf(fx.layout, 'v1');
  const v2 = await manifestOf(fx.layout, 'v2');
  await pullImage(`oci:${fx.layout}:v1`, { sysroot, repo });
  // A layer v2 shares with v1, as a power cut or a bad disk could leave it.
  const shared = v2.layers.find((l) => v1.layers.includes(l))!;
  await corrupt(join(sysroot, CACHE_DIR, 'blobs/sha256', shared.slice(7)), 30);
  const p = await pullImage(`oci:${fx.layout}:v2`, { sysroot, repo });
  t.match(p, { commit: fx.c2, layersFetched: 3 }, 'the two changed layers and the repaired one');
  t.match((await blobsOf(join(sysroot, CACHE_DIR))).get(shared), (await blobsOf(fx.layout)).get(shared));
  t.equal((await ostreeIn(repo, 'rev-parse', imageRefName(`oci:${fx.layout}:v2`))).trim(), fx.c2);
  await nothingLeft(t, sysroot, repo);

  // A truncated one too (a power cut before the data reached the disk).
  await writeFile(join(sysroot, CACHE_DIR, 'blobs/sha256', shared.slice(7)), '');
  await ostreeIn(repo, 'refs', '--delete', imageRefName(`oci:${fx.layout}:v2`));
  await ostreeIn(repo, 'prune', '--refs-only');
  t.match(await pullImage(`oci:${fx.layout}:v2`, { sysroot, repo }), { commit: fx.c2, layersFetched: 1 });
});

t.test('what a power cut leaves: an empty index.json, a temporary tag, an import repository', async (t) => {
  const { sysroot, repo } = await bareSysroot(t.testdir());
  const cache = join(sysroot, CACHE_DIR);
  await mkdir(cache, { recursive: true });
  // containers/image writes index.json in place.
  await writeFile(join(cache, 'index.json'), '');
  t.match(
    await pullImage(`oci:${fx.layout}:v1`, { sysroot, repo }),
    { commit: fx.c1, layersFetched: 6 },
    'reset, not fatal',
  );

  const index = JSON.parse(await readFile(join(cache, 'index.json'), 'utf8')) as {
    manifests: { annotations: Record<string, string> }[];
  };
  const stale = { ...index.manifests[0]!, annotations: { 'org.opencontainers.image.ref.name': 'x-1.pulling-999999' } };
  await writeFile(join(cache, 'index.json'), JSON.stringify({ ...index, manifests: [...index.manifests, stale] }));
  await mkdir(join(repo, 'tmp/.atomic-import.import-999999-0badf00d/objects'), { recursive: true });
  await pullImage(`oci:${fx.layout}:v2`, { sysroot, repo });
  t.same(
    await tagsOf(cache),
    [cacheTag(`oci:${fx.layout}:v1`), cacheTag(`oci:${fx.layout}:v2`)].sort(),
    'the stale temporary tag is gone',
  );
  await nothingLeft(t, sysroot, repo);
});

t.test('a repository that is not one, a busy cache', async (t) => {
  const dir = t.testdir();
  await t.rejects(pullImage(`oci:${fx.layout}:v1`, { sysroot: dir, repo: join(dir, 'nope') }), {
    code: 'not-a-repo',
    message: /nope: not an OSTree repository/,
  });
  const { sysroot, repo } = await bareSysroot(join(dir, 's'));
  await mkdir(join(sysroot, CACHE_DIR), { recursive: true });
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  await writeFile(join(sysroot, CACHE_DIR, '.lock'), `1 ${bootId}\n`);
  await t.rejects(pullImage(`oci:${fx.layout}:v1`, { sysroot, repo }), {
    code: 'busy',
    message: /another atomic \(pid 1\) is using the image cache/,
  });
  await writeFile(join(sysroot, CACHE_DIR, '.lock'), `1 an-earlier-boot\n`);
  t.match(
    await pullImage(`oci:${fx.layout}:v1`, { sysroot, repo }),
    { commit: fx.c1 },
    'a lock from an earlier boot is stale',
  );
});

t.test('a full disk: a clear error, nothing changed', async (t) => {
  const dir = t.testdir();
  const mounts: string[] = [];
  // Unmounted before tap removes the test dir (its own cleanup comes before a teardown's).
  const unmount = () => {
    for (const m of mounts.splice(0)) spawnSync('umount', [m]);
  };
  const tmpfs = async (at: string, size: string) => {
    await mkdir(at, { recursive: true });
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at], { encoding: 'utf8' });
    if (r.status === 0) mounts.push(at);
    return r.status === 0;
  };
  const a = await bareSysroot(join(dir, 'a'));
  if (!(await tmpfs(join(a.sysroot, CACHE_DIR), '100k')))
    return void t.skip('cannot mount a small tmpfs here (needs root)', () => undefined);
  try {
    await diskFull(t, a, tmpfs);
  } finally {
    unmount();
  }
});

async function diskFull(
  t: Test,
  a: { sysroot: string; repo: string },
  tmpfs: (at: string, size: string) => Promise<boolean>,
) {
  await t.rejects(pullImage(`oci:${fx.layout}:v1`, a), {
    code: 'disk-full',
    exitCode: 1,
    message: `${join(a.sysroot, CACHE_DIR)}: no space left on the device while downloading oci:${fx.layout}:v1`,
  });
  t.same(await refsOf(a.repo), []);
  await nothingLeft(t, a.sysroot, a.repo);

  const b = await bareSysroot(join(a.sysroot, '..', 'b'));
  await tmpfs(join(b.repo, 'tmp'), '64k');
  await t.rejects(pullImage(`oci:${fx.layout}:v1`, b), {
    code: 'disk-full',
    message: `${b.repo}: no space left on the device while importing oci:${fx.layout}:v1`,
  });
  t.same(await refsOf(b.repo), []);
  await nothingLeft(t, b.sysroot, b.repo);
}

t.test('SIGINT mid-download: exit 130, temp repository and tag gone, refs unchanged', async (t) => {
  const { dir, registry, proxy, port } = await proxiedRegistry(t);
  skopeo('copy', '--quiet', '--dest-tls-verify=false', `oci:${fx.layout}:v1`, `docker://${registry.host}/tiny:latest`);
  const { sysroot, repo } = await bareSysroot(join(dir, 'sysroot'));
  proxy.throttle = 50_000;
  const child = spawn('node', [driver, `docker://127.0.0.1:${port}/tiny:latest`, sysroot, repo, 'http'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // The whole process group, as a terminal's ^C does: skopeo and node.
  proxy.onBytes = (total) => {
    if (total > 60_000 && child.exitCode === null) {
      proxy.onBytes = undefined;
      process.kill(-child.pid!, 'SIGINT');
    }
  };
  const code = await exited;
  t.equal(code, 130, stderr);
  t.match(stderr, /interrupted \(SIGINT\), cleaning up/);
  t.same(await refsOf(repo), [], 'no ref');
  await nothingLeft(t, sysroot, repo);
  proxy.throttle = 0;
  // Not spawnSync: the proxy serves from this process's event loop.
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
    const c = spawn('node', [driver, `docker://127.0.0.1:${port}/tiny:latest`, sysroot, repo, 'http'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    c.once('close', (status) => done({ status, stdout, stderr }));
  });
  t.equal(r.status, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { commit: fx.c1, layers: 6 }, 'the next run completes');
});
