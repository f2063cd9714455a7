import t from 'tap';
import { PassThrough } from 'node:stream';
import { canonicalize, canonicalJson, writeJson, writeNdjson } from '../src/output.js';

t.test('canonical JSON sorts keys recursively and drops undefined', async (t) => {
  const a = canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } });
  const b = canonicalJson({ a: { d: [3, { y: 2, z: 1 }] }, b: 1 });
  t.equal(a, b);
  t.equal(
    a,
    '{\n  "a": {\n    "d": [\n      3,\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}\n',
  );
  t.same(canonicalize([null, 'x', 2]), [null, 'x', 2]);
});

t.test('writers put one document or one line per record', async (t) => {
  const s = new PassThrough();
  let out = '';
  s.on('data', (c) => (out += c));
  writeJson({ b: 2, a: 1 }, s);
  writeNdjson({ y: 1, x: [1] }, s);
  t.equal(out, '{\n  "a": 1,\n  "b": 2\n}\n{"x":[1],"y":1}\n');
});
