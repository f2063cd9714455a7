import t from 'tap';
import {
  IMAGE_TREEFILE,
  imageTreefileProblem,
  imageTreefileReader,
  imageTreefileSchema,
} from '../src/contracts/image-treefile.js';
import { indexSchema, parseOciJson } from '../src/contracts/oci.js';
import { IMAGE_TREEFILE_CASES } from './fixtures/image-treefile-cases.js';

t.test('the in-image treefile: the contract accepts and refuses what every reader does', async (t) => {
  t.equal(IMAGE_TREEFILE, 'usr/share/debian-atomic/treefile.json');
  for (const c of IMAGE_TREEFILE_CASES)
    t.equal(
      imageTreefileSchema.safeParse({ [c.key]: c.value }).success,
      c.ok,
      `${c.key}: ${JSON.stringify(c.value).slice(0, 40)}`,
    );
});

t.test('a reader checks its keys only, and says which key is wrong', async (t) => {
  const reader = imageTreefileReader(['osname']);
  t.same(reader.parse({ osname: 'debian', packages: ['x'], future: 1 }), {
    osname: 'debian',
    packages: ['x'],
    future: 1,
  });
  t.equal(imageTreefileProblem(reader, { osname: 'debian', ref: 'not a ref' }), null);
  t.match(imageTreefileProblem(reader, { osname: 'my os' }), /^osname: not a valid OSTree stateroot name/);
  t.match(imageTreefileProblem(reader, []), /^expected object|Invalid input/);
});

t.test('OCI documents: an input error naming the file', async (t) => {
  t.same(parseOciJson(indexSchema, '{"schemaVersion": 2, "manifests": []}', 'index.json', 'image index').manifests, []);
  t.throws(() => parseOciJson(indexSchema, '{', 'x/index.json', 'image index'), {
    exitCode: 2,
    message: /^x\/index\.json: image index is not JSON/,
  });
  t.throws(() => parseOciJson(indexSchema, '{"schemaVersion": 2}', 'x/index.json', 'image index'), {
    exitCode: 2,
    message: /^x\/index\.json: not a valid image index: manifests: /,
  });
});
