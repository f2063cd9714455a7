import t from 'tap';
import {
  controlCharName,
  cryptHash,
  hostname,
  imageReferenceProblem,
  kernelArg,
  kernelArgProblem,
  lineText,
  passwdField,
  passwdPath,
  sourcesUrl,
  sshPublicKey,
  userName,
} from '../src/grammar.js';

const ok = (schema: { safeParse(v: unknown): { success: boolean } }, v: unknown) => schema.safeParse(v).success;
const message = (
  schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } },
  v: unknown,
) =>
  schema
    .safeParse(v)
    .error?.issues.map((i) => i.message)
    .join('; ') ?? '';

// Test names in plain ASCII: a raw U+2028 in a name would split tap's output line.
const show = (v: unknown) =>
  JSON.stringify(v)
    .slice(0, 60)
    .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE4vQ9D0m2xVv5yC9eGz2xQ7gXh0v1m9b8tKk4e5Zk1r';

t.test('line-oriented grammars: one record per value, nothing smuggled', async (t) => {
  // Each row: schema, accepted values, refused values with the message they must give.
  const table: [string, { safeParse(v: unknown): { success: boolean } }, unknown[], [unknown, RegExp][]][] = [
    [
      'user name',
      userName,
      ['alice', '_svc', 'a-b_1', 'x'.repeat(32)],
      [
        ['Root', /not a valid user name/],
        ['1abc', /not a valid/],
        ['a\nb', /not a valid/],
        ['x'.repeat(33), /not a valid/],
        ['-x', /not a valid/],
      ],
    ],
    [
      'shell',
      passwdPath('shell'),
      ['/bin/bash', '/usr/bin/fish'],
      [
        ['/bin/bash\nevil::0:0::/root:/bin/sh', /one line: it contains a newline/],
        ['/bin/a:b', /must not contain ":"/],
        ['bash', /absolute path/],
        ['/bin/my shell', /white space/],
        ['/' + 'x'.repeat(5000), /longer than 4096/],
      ],
    ],
    [
      'gecos',
      passwdField('full name'),
      ['Alice Example', ''],
      [
        ['A\rB', /carriage return/],
        ['A:B', /":"/],
      ],
    ],
    [
      'password hash',
      cryptHash,
      [
        '$6$salt$abcdefghijklmnopqrstuv./',
        '$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7',
        '!',
        '*',
      ],
      [
        ['$6$a$b\nroot::0', /crypt\(3\) hash/],
        ['$6$a:b$c', /crypt/],
        ['plain', /crypt/],
        ['$6$' + 'a'.repeat(600), /longer than 512/],
      ],
    ],
    [
      'ssh key',
      sshPublicKey,
      [
        ED,
        `${ED} alice@laptop`,
        `${ED} a comment with spaces`,
        'ecdsa-sha2-nistp256 AAAAE2VjZHNh= x',
        'sk-ssh-ed25519@openssh.com AAAA k',
      ],
      [
        [`${ED}\n${ED} evil`, /one line: it contains a newline/],
        [`${ED}\r`, /carriage return/],
        ['ssh-ed25519', /expected an OpenSSH public key line/],
        ['command="sh" ' + ED, /expected an OpenSSH/],
        ['ssh-foo AAAA', /expected an OpenSSH/],
        ['ssh-ed25519 not_base64!', /expected an OpenSSH/],
      ],
    ],
    [
      'kernel arg',
      kernelArg,
      ['quiet', 'console=ttyS0,115200n8', 'dyndbg="file a.c +p"', 'root=UUID=1234'],
      [
        ['quiet\ninit=/bin/sh', /one word: it contains a newline/],
        ['quiet init=/bin/sh', /more than one kernel argument/],
        ['a="b', /unbalanced/],
        ['', /must not be empty/],
        ['x'.repeat(4097), /longer than 4096/],
      ],
    ],
    [
      'hostname',
      hostname,
      ['box', 'db-1.example.org', 'a'.repeat(63)],
      [
        ['a'.repeat(64), /not a valid hostname/],
        ['-a', /not a valid/],
        ['a-', /not a valid/],
        ['a\nb', /not a valid/],
        ['a..b', /not a valid/],
        [('a'.repeat(60) + '.').repeat(5) + 'a', /at most 253/],
      ],
    ],
    [
      'mirror URL',
      sourcesUrl(/^(https?|file)$/, 'not a valid mirror URL'),
      ['http://deb.debian.org/debian', 'file:///srv/mirror'],
      [
        ['http://x/debian\ndeb http://evil/ sid main', /must not contain white space or control characters/],
        ['http://x/ debian', /white space/],
        ['ftp://x/', /not a valid mirror URL/],
        ['http://' + 'x'.repeat(3000), /longer than 2048/],
      ],
    ],
    [
      'one line of text',
      lineText(10, 'a title'),
      ['hi', ''],
      [
        ['hi\u2028there', /line separator|control character/],
        ['x'.repeat(11), /longer than 10/],
        ['a\0', /NUL/],
      ],
    ],
  ];
  for (const [what, schema, good, bad] of table) {
    for (const v of good) t.ok(ok(schema, v), `${what}: ${show(v)} accepted`);
    for (const [v, re] of bad) t.match(message(schema as never, v), re, `${what}: ${show(v)} refused`);
  }
});

t.test('controlCharName and kernelArgProblem name the problem', async (t) => {
  t.equal(controlCharName('a\nb'), 'a newline (U+000A)');
  t.equal(controlCharName('a\u0085'), 'a control character (U+0085)');
  t.equal(controlCharName('plain'), null);
  t.equal(kernelArgProblem('ok=1'), null);
  t.match(kernelArgProblem('a\tb'), /a tab \(U\+0009\)/);
});

t.test('image references an update origin may name', async (t) => {
  for (const ok of [
    'docker://10.0.2.2:5000/debian-atomic/base:latest',
    'docker://quay.io/fedora/fedora-bootc:42',
    'docker://registry.example.org/a/b/c@sha256:' + 'a'.repeat(64),
    'docker://localhost/x',
    'docker://[::1]:5000/x:v1',
    'oci:/var/lib/images/base:latest',
    'oci:/var/lib/images/base',
    'oci-archive:/srv/base.tar:v2',
  ])
    t.equal(imageReferenceProblem(ok), null, ok);
  for (const [bad, why] of [
    ['docker://10.0.2.2:5000/Debian/Base:latest', /lowercase/],
    ['docker://host/-x', /not a registry image reference/],
    ['docker://host/x:--tag', /not a registry image reference/],
    ['docker://host/x y', /not a registry image reference/],
    ['docker://host/x\n[origin]', /not a registry image reference/],
    ['oci:relative/dir', /absolute path/],
    ['oci:/a/../etc:x', /'\.\.'/],
    ['oci:/a:b:c', /absolute path/],
    ['oci-archive:/a\u0000b', /absolute path/],
    ['containers-storage:x', /expected docker:\/\//],
    ['-docker://x', /expected docker:\/\//],
    ['docker://' + 'a'.repeat(1100), /longer than 1024/],
  ] as const)
    t.match(imageReferenceProblem(bad), why, JSON.stringify(bad.slice(0, 40)));
});
