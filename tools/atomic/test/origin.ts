import t from 'tap';
import {
  describeOrigin,
  formatOrigin,
  parseKeyFile,
  parseOrigin,
  rewriteOrigin,
  formatKeyFile,
  getKey,
  setKey,
} from '../src/origin.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

t.test('the two origins: parse(format(o)) is o', async (t) => {
  for (const o of [
    { kind: 'ostree', refspec: 'origin:debian/13/x86_64/desktop' },
    { kind: 'ostree', refspec: 'debian/13/x86_64/desktop' },
    { kind: 'image', image: 'docker://10.0.2.2:5000/debian-atomic/desktop:latest', digest: DIGEST },
    { kind: 'image', image: 'oci:/var/tmp/images/desktop:v2', digest: undefined },
    { kind: 'image', image: 'oci-archive:/srv/desktop.tar', digest: DIGEST },
  ] as const) {
    t.same(parseOrigin(formatOrigin(o), 'o'), o, describeOrigin(o));
  }
  t.equal(formatOrigin({ kind: 'ostree', refspec: 'origin:x' }), '[origin]\nrefspec=origin:x\n', "ostree's own format");
  t.equal(
    formatOrigin({ kind: 'image', image: 'docker://h:5000/x:latest', digest: DIGEST }),
    `[origin]\ncontainer-image-reference=docker://h:5000/x:latest\n\n[atomic]\nimage-digest=${DIGEST}\n`,
    'the brief format',
  );
});

t.test('rewriting keeps what atomic does not know, drops what belonged to the old deployment', async (t) => {
  const old = [
    '# written by hand',
    '[origin]',
    'refspec=origin:a',
    'unlocked=hotfix',
    '',
    '[libostree-transient]',
    'pinned=true',
    '',
    '[custom]',
    'x=1',
    '',
  ].join('\n');
  const image = rewriteOrigin(old, { kind: 'image', image: 'docker://r/x:1', digest: DIGEST });
  t.equal(
    image,
    [
      '# written by hand',
      '[origin]',
      'unlocked=hotfix',
      'container-image-reference=docker://r/x:1',
      '',
      '[custom]',
      'x=1',
      '',
      '[atomic]',
      `image-digest=${DIGEST}`,
      '',
    ].join('\n'),
  );
  const back = rewriteOrigin(image, { kind: 'ostree', refspec: 'origin:b' });
  t.equal(
    back,
    ['# written by hand', '[origin]', 'unlocked=hotfix', 'refspec=origin:b', '', '[custom]', 'x=1', ''].join('\n'),
  );
  t.same(parseOrigin(back, 'o'), { kind: 'ostree', refspec: 'origin:b' });
  t.notMatch(
    rewriteOrigin(image, { kind: 'image', image: 'docker://r/x:2' }),
    /image-digest/,
    'no digest yet: no stale digest either',
  );
});

t.test('GKeyFile values: GLib escapes', async (t) => {
  const kf = parseKeyFile('[g]\na=\\sleading\\nnew\\tline\\\\\n', 'f');
  t.equal(getKey(kf, 'g', 'a'), ' leading\nnew\tline\\');
  setKey(kf, 'g', 'b', ' x\ny\\');
  t.equal(formatKeyFile(kf), '[g]\na=\\sleading\\nnew\\tline\\\\\nb=\\sx\\ny\\\\\n');
  t.equal(getKey(parseKeyFile(formatKeyFile(kf), 'f'), 'g', 'b'), ' x\ny\\');
});

t.test('errors name file:line', async (t) => {
  const cases: [string, RegExp][] = [
    ['refspec=x\n', /^o:1: key 'refspec' before any \[group\]/],
    ['[origin]\nrefspec=a\nrefspec=b\n', /^o:3: key 'refspec' appears twice/],
    ['[origin]\n[origin]\n', /^o:2: group \[origin\] appears twice/],
    ['[origin]\nthis is not a key\n', /^o:2: expected/],
    ['[origin]\nrefspec=a\\qb\n', /^o:2: invalid escape/],
    ['[origin]\nrefspec=no spaces allowed\n', /^o:2: 'no spaces allowed' is not an OSTree refspec/],
    ['[origin]\ncontainer-image-reference=quay.io/x\n', /^o:2: .*not an image reference/],
    ['[origin]\ncontainer-image-reference=oci:relative/dir\n', /^o:2: .*absolute/],
    [
      '[origin]\ncontainer-image-reference=docker://r/x\n\n[atomic]\nimage-digest=md5:0\n',
      /^o:5: 'md5:0' is not a sha256 digest/,
    ],
    [
      '[origin]\nrefspec=a\ncontainer-image-reference=docker://r/x\n',
      /^o:3: both refspec and container-image-reference/,
    ],
    ['[origin]\n', /^o: no \[origin\] refspec= or container-image-reference=/],
  ];
  for (const [text, re] of cases)
    t.throws(() => parseOrigin(text, 'o'), { message: re, exitCode: 2 }, JSON.stringify(text));
});

t.test('describeOrigin', async (t) => {
  t.equal(describeOrigin(null), 'none');
  t.equal(describeOrigin({ kind: 'image', image: 'docker://r/x', digest: DIGEST }), `docker://r/x (${DIGEST})`);
  t.equal(describeOrigin({ kind: 'image', image: 'docker://r/x' }), 'docker://r/x');
});
