/** The OCI JSON schemas: tables of documents each must accept or refuse, and the messages. */
import t from 'tap';
import {
  descriptorSchema,
  imageConfigSchema,
  indexSchema,
  manifestSchema,
  ociLayoutSchema,
  parseOciJson,
  printable,
} from '../src/oci-schema.js';

const D = `sha256:${'a'.repeat(64)}`;
const desc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D, size: 12 };

t.test('descriptors', async (t) => {
  const ok: unknown[] = [
    desc,
    { ...desc, size: 0, annotations: { 'org.opencontainers.image.ref.name': 'latest' } },
    { ...desc, digest: `sha512:${'b'.repeat(128)}`, urls: ['https://x'], platform: { os: 'linux' } },
  ];
  const bad: [unknown, RegExp][] = [
    [null, /expected object/],
    [{ ...desc, digest: 'sha256:ABC' }, /sha256:<64 lowercase hex>/],
    [{ ...desc, digest: `sha256:${'a'.repeat(63)}/` }, /digest/],
    [{ ...desc, digest: `md5:${'a'.repeat(32)}` }, /digest/],
    [{ ...desc, size: -1 }, /at least 0/],
    [{ ...desc, size: 1.5 }, /integer/],
    [{ ...desc, size: 2 ** 41 }, /at most/],
    [{ ...desc, size: '12' }, /number/],
    [{ ...desc, mediaType: 'json' }, /type\/subtype/],
    [{ ...desc, mediaType: 42 }, /string/],
    [{ ...desc, annotations: { a: 1 } }, /string/],
  ];
  for (const v of ok) t.ok(descriptorSchema.safeParse(v).success, JSON.stringify(v));
  for (const [v, why] of bad) {
    const r = descriptorSchema.safeParse(v);
    t.notOk(r.success, JSON.stringify(v));
    t.match(r.error?.issues[0]?.message, why);
  }
});

t.test('index, manifest, config, oci-layout', async (t) => {
  t.ok(indexSchema.safeParse({ schemaVersion: 2, manifests: [] }).success);
  t.ok(
    indexSchema.safeParse({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [desc],
      extra: { kept: true },
    }).success,
    'unknown fields are allowed',
  );
  t.notOk(indexSchema.safeParse({ schemaVersion: 1, manifests: [] }).success);
  t.notOk(
    indexSchema.safeParse({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', manifests: [] })
      .success,
  );
  t.notOk(indexSchema.safeParse({ schemaVersion: 2 }).success);
  const manifest = {
    schemaVersion: 2,
    config: { ...desc, mediaType: 'application/vnd.oci.image.config.v1+json' },
    layers: [{ ...desc, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
  };
  t.ok(manifestSchema.safeParse(manifest).success);
  t.notOk(manifestSchema.safeParse({ ...manifest, layers: {} }).success);
  t.notOk(manifestSchema.safeParse({ ...manifest, config: null }).success);
  const config = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [D] } };
  t.ok(imageConfigSchema.safeParse(config).success);
  t.ok(
    imageConfigSchema.safeParse({ ...config, config: { Labels: null, Env: ['A=b'] } }).success,
    'Docker writes Labels: null',
  );
  t.notOk(imageConfigSchema.safeParse({ ...config, config: { Labels: { 'ostree.commit': 5 } } }).success);
  t.notOk(imageConfigSchema.safeParse({ ...config, rootfs: { type: 'tarball', diff_ids: [] } }).success);
  t.notOk(
    imageConfigSchema.safeParse({ ...config, rootfs: { type: 'layers', diff_ids: [`sha512:${'b'.repeat(128)}`] } })
      .success,
    'diff IDs are sha256',
  );
  t.notOk(imageConfigSchema.safeParse({ ...config, history: [{ empty_layer: 'yes' }] }).success);
  t.ok(ociLayoutSchema.safeParse({ imageLayoutVersion: '1.0.0' }).success);
  t.notOk(ociLayoutSchema.safeParse({ imageLayoutVersion: 1 }).success);
  t.notOk(ociLayoutSchema.safeParse({ imageLayoutVersion: '2.0.0' }).success);
});

t.test('parseOciJson: input errors naming the source', async (t) => {
  t.same(parseOciJson(ociLayoutSchema, '{"imageLayoutVersion":"1.0.0"}', 'x/oci-layout', 'oci-layout file'), {
    imageLayoutVersion: '1.0.0',
  });
  t.throws(() => parseOciJson(indexSchema, '{', 'x/index.json', 'OCI image index'), {
    code: 'input',
    exitCode: 2,
    message: /^x\/index\.json: OCI image index is not JSON/,
  });
  t.throws(() => parseOciJson(indexSchema, '[]', 'x/index.json', 'OCI image index'), {
    exitCode: 2,
    message: /x\/index\.json: not a valid OCI image index: \(top level\): .*expected object/,
  });
  t.throws(
    () => parseOciJson(indexSchema, '\u0000\u001b[2J', 'i', 'OCI image index'),
    { message: /is not JSON: .*\\u0000/ },
    'control characters are shown escaped',
  );
  t.equal(printable('a\nb\u009bc'), 'a\\u000ab\\u009bc');
  const many = JSON.stringify({ schemaVersion: 2, manifests: Array.from({ length: 8 }, () => null) });
  t.throws(() => parseOciJson(indexSchema, many, 'i', 'OCI image index'), {
    message: /manifests\[0\]/,
    detail: /manifests\[1\][^]*\(3 more\)/,
  });
  t.throws(
    () =>
      parseOciJson(
        manifestSchema,
        JSON.stringify({ schemaVersion: 2, config: desc, layers: [{ ...desc, digest: 'x' }] }),
        'm',
        'OCI image manifest',
      ),
    { message: /m: not a valid OCI image manifest: layers\[0\]\.digest: expected a digest/ },
  );
});
