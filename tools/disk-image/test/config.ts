import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { armoredKeyProblem, LIMITS, loadConfig, parseSize, sizeBytes } from '../src/config.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE4vQ9D0m2xVv5yC9eGz2xQ7gXh0v1m9b8tKk4e5Zk1r';
const ARMORED = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGx0AAAB\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n';
const MiB = 1024 * 1024;

/** loadConfig on a file of this text: the config, or the error's summary and detail lines. */
async function load(dir: string, yaml: string): Promise<{ ok: boolean; text: string; code?: number }> {
  const file = join(dir, 'c.yaml');
  await writeFile(file, yaml);
  try {
    const c = await loadConfig(file);
    return { ok: true, text: JSON.stringify(c) };
  } catch (err) {
    const e = err as { summary?: string; detail?: string; exitCode?: number; message: string };
    return { ok: false, text: `${e.summary ?? e.message}\n${e.detail ?? ''}`, code: e.exitCode };
  }
}

t.test('configs that are accepted', async (t) => {
  const dir = t.testdir({ 'updates.asc': ARMORED, 'keys.asc': `${ARMORED}\r\n${ARMORED}` });
  const good = [
    '',
    'hostname: atomic\n',
    'hostname: db-1.example.org\n',
    'install:\n  device: /dev/nvme0n1\n  wipe: true\n  finish: reboot\n',
    'install:\n  device: /dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0R123456A\n',
    'install: {}\n',
    `users:\n  - name: debian\n    password-hash: '$6$salt$abcdefghijklmnopqrstuv./'\n    groups: [sudo]\n    ssh-keys: ["${KEY} me@host"]\n    shell: /usr/bin/fish\n    uid: 1001\n`,
    `users:\n  - name: root\n    password-hash: '!'\n    ssh-keys: ["${KEY}"]\n    groups: [sudo]\n  - name: alice\n  - name: bob\n    uid: 2000\n`,
    'kernel-args: [quiet, "console=ttyS0,115200n8", \'dyndbg="file a.c +p"\']\n',
    'disk:\n  size: 8G\n  esp-size: 64M\n  free-space: 0\n',
    'disk:\n  size: 1.5TiB\n  esp-size: 33M\n  free-space: 2G\n',
    'disk:\n  size: 68719476736\n',
    'remote:\n  url: http://updates.example.org/repo\n  gpg-key: updates.asc\n',
    'remote:\n  name: my_remote.1\n  url: file:///srv/repo\n  gpg-key: keys.asc\n  gpg-verify: true\n',
  ];
  for (const yaml of good) {
    const r = await load(dir, yaml);
    t.ok(r.ok, `${JSON.stringify(yaml.slice(0, 60))}: ${r.text}`);
  }
});

t.test('configs that are refused, each at its position, with what was expected', async (t) => {
  const dir = t.testdir({
    'text.asc': 'hello\n',
    'binary.gpg': Buffer.from([0x99, 0x01, 0x0d, 0x04, 0x00, 0xff]),
    'private.asc': ARMORED.replaceAll('PUBLIC', 'PRIVATE'),
    'half.asc': '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGx0AAAB\n',
    keys: {},
  });
  const user = (fields: string) => `users:\n  - name: alice\n${fields}`;
  const bad: [string, RegExp][] = [
    // passwd, shadow, group, authorized_keys
    [
      user('    shell: "/bin/bash\\nevil::0:0::/root:/bin/sh"\n'),
      /c\.yaml:3:12: users\.0\.shell: a login shell must be one line: it contains a newline/,
    ],
    [user('    shell: "/bin/sh:0"\n'), /c\.yaml:3:12: users\.0\.shell: a login shell must not contain ":"/],
    [user('    shell: bash\n'), /users\.0\.shell: a login shell must be an absolute path/],
    [user(`    shell: /${'x'.repeat(5000)}\n`), /users\.0\.shell: a login shell is longer than 4096 characters/],
    [
      user(`    ssh-keys: ["${KEY} me\\n${KEY} evil"]\n`),
      /c\.yaml:3:16: users\.0\.ssh-keys\.0: an SSH public key must be one line: it contains a newline/,
    ],
    [user(`    ssh-keys: ["${KEY} me\\r"]\n`), /users\.0\.ssh-keys\.0: .*carriage return/],
    [
      user(`    ssh-keys: ["${KEY} ${'c'.repeat(100_000)}"]\n`),
      /users\.0\.ssh-keys\.0: an SSH public key is longer than 16384 characters/,
    ],
    [user(`    ssh-keys: ['command="sh" ${KEY}']\n`), /users\.0\.ssh-keys\.0: expected an OpenSSH public key line/],
    [
      user(`    ssh-keys: [${Array.from({ length: 65 }, () => `"${KEY}"`).join(', ')}]\n`),
      /users\.0\.ssh-keys: more than 64 keys/,
    ],
    [user('    password-hash: "$6$salt$abc\\rroot::0"\n'), /users\.0\.password-hash: expected a crypt\(3\) hash/],
    [
      user(`    password-hash: "$6$${'a'.repeat(600)}"\n`),
      /users\.0\.password-hash: a password hash is longer than 512 characters/,
    ],
    [user('    groups: ["sudo\\nevil"]\n'), /users\.0\.groups\.0: not a valid group name/],
    [user('    uid: 0\n'), /users\.0\.uid: a uid below 1000 belongs to the system/],
    [user('    uid: 65534\n'), /users\.0\.uid: a uid above 59999/],
    [user('    uid: 1000.5\n'), /users\.0\.uid: /],
    ['users:\n  - name: Alice\n', /c\.yaml:2:11: users\.0\.name: not a valid user name/],
    [`users:\n  - name: ${'a'.repeat(33)}\n`, /users\.0\.name: not a valid user name/],
    // accounts
    [
      'users:\n  - name: alice\n  - name: bob\n  - name: alice\n',
      /c\.yaml:4:11: users\.2\.name: user alice is already given as users\.0: give each user once/,
    ],
    [
      'users:\n  - name: alice\n    uid: 1500\n  - name: bob\n    uid: 1500\n',
      /c\.yaml:5:10: users\.1\.uid: uid 1500 is already users\.0's/,
    ],
    [
      'users:\n  - name: root\n    uid: 1000\n',
      /users\.0\.uid: root exists in every image: only its password-hash, ssh-keys and groups can be set/,
    ],
    ['users:\n  - name: daemon\n', /users\.0\.name: daemon is a system account or group of Debian/],
    ['users:\n  - name: www-data\n', /users\.0\.name: www-data is a system account/],
    ['users:\n  - name: sudo\n', /users\.0\.name: sudo is a system account or group/],
    [`users:\n${Array.from({ length: 257 }, (_, i) => `  - name: u${i}\n`).join('')}`, /users: more than 256 users/],
    // install (atomic install to-disk, the ISO)
    ['install:\n  device: vda\n', /c\.yaml:2:11: install\.device: expected a disk under \/dev/],
    ['install:\n  device: "/dev/vda\\nwipe: true"\n', /install\.device: expected a disk under \/dev/],
    ['install:\n  device: /dev/../etc/passwd\n', /install\.device: a device path must not contain "\.\."/],
    ['install:\n  device: "/dev/vda --wipe"\n', /install\.device: expected a disk under \/dev/],
    ['install:\n  wipe: yes-please\n', /install\.wipe: /],
    [
      'install:\n  finish: halt\n',
      /c\.yaml:2:11: install\.finish: expected one of "poweroff", "reboot", found the string "halt"/,
    ],
    ['install:\n  disk: /dev/vda\n', /c\.yaml:2:3: unknown key 'disk'/],
    // hostname
    ['hostname: "box\\nevil"\n', /hostname: not a valid hostname/],
    [`hostname: ${'a'.repeat(64)}\n`, /hostname: not a valid hostname/],
    [`hostname: ${`${'a'.repeat(60)}.`.repeat(5)}a\n`, /hostname: a hostname is at most 253 characters/],
    // kernel command line
    [
      'kernel-args: ["quiet\\ninit=/bin/sh"]\n',
      /c\.yaml:1:15: kernel-args\.0: a kernel argument must be one word: it contains a newline/,
    ],
    ['kernel-args: ["quiet init=/bin/sh"]\n', /kernel-args\.0: .*more than one kernel argument/],
    ['kernel-args: ["a=\\"b"]\n', /kernel-args\.0: .*unbalanced double quote/],
    ['kernel-args: [""]\n', /kernel-args\.0: a kernel argument must not be empty/],
    [`kernel-args: ["${'x'.repeat(5000)}"]\n`, /kernel-args\.0: a kernel argument is longer than 4096 characters/],
    [
      `kernel-args: [${Array.from({ length: 257 }, (_, i) => `a${i}`).join(', ')}]\n`,
      /kernel-args: more than 256 kernel arguments/,
    ],
    [
      `kernel-args: [${Array.from({ length: 5 }, () => 'x'.repeat(1000)).join(', ')}]\n`,
      /kernel-args: the kernel arguments are longer than 4096 characters in all/,
    ],
    // sizes
    ['disk:\n  size: "0"\n', /c\.yaml:2:9: disk\.size: 0 is too small: the disk must be at least 1 MiB/],
    ['disk:\n  size: -5\n', /disk\.size: -5 is too small/],
    ['disk:\n  esp-size: 1\n', /disk\.esp-size: 1 is too small: the ESP must be at least 33 MiB \(FAT32\)/],
    ['disk:\n  esp-size: 32M\n', /disk\.esp-size: 32M is too small/],
    ['disk:\n  esp-size: 5G\n', /disk\.esp-size: 5G is too large: the ESP may be at most 4 GiB/],
    ['disk:\n  size: 999999T\n', /disk\.size: 999999T is too large: the disk may be at most 64 TiB/],
    ['disk:\n  size: 1e30\n', /disk\.size: 1e\+30 is too large/],
    ['disk:\n  size: .inf\n', /disk\.size: expected a whole number of bytes/],
    [
      'disk:\n  free-space: 1000000000000000\n',
      /disk\.free-space: 1000000000000000 is too large: the free space may be at most 64 TiB/,
    ],
    ['disk:\n  size: "1.5"\n', /disk\.size: 1\.5 is not a whole number of bytes \(give a unit, like 1\.5G\)/],
    ['disk:\n  size: 1.5\n', /disk\.size: expected a whole number of bytes or a size like 512M, found 1\.5/],
    ['disk:\n  size: lots\n', /disk\.size: expected a size like 512M, 4G or a number of bytes, found "lots"/],
    [
      `disk:\n  size: "${'9'.repeat(100)}"\n`,
      /disk\.size: expected a size like 512M, 4G or a number of bytes, found "9{40}…"/,
    ],
    ['disk:\n  size: true\n', /disk\.size: expected a whole number of bytes or a size like 512M, 4G/],
    // the remote
    [
      'remote:\n  url: "http://x/repo\\n[remote \\"evil\\"]"\n',
      /c\.yaml:2:8: remote\.url: .*must not contain white space or control characters/,
    ],
    ['remote:\n  url: ftp://x/repo\n', /remote\.url: expected an http, https or file URL/],
    [`remote:\n  url: http://x/${'r'.repeat(3000)}\n`, /remote\.url: a URL is longer than 2048 characters/],
    ['remote:\n  name: "-x"\n  url: http://x/\n', /remote\.name: not a valid remote name/],
    ['remote:\n  name: "a b"\n  url: http://x/\n', /remote\.name: not a valid remote name/],
    [
      `remote:\n  name: ${'r'.repeat(200)}\n  url: http://x/\n`,
      /remote\.name: a remote name is longer than 128 characters/,
    ],
    ['remote:\n  url: http://x/\n  gpg-key: "a\\nb"\n', /remote\.gpg-key: a gpg-key path must be one line/],
    ['remote:\n  url: http://x/\n  gpg-key: ""\n', /remote\.gpg-key: a gpg-key path must not be empty/],
    // the gpg-key file, checked with the config
    [
      'remote:\n  url: http://x/\n  gpg-key: nope.asc\n',
      /c\.yaml:3:12: remote\.gpg-key: .*nope\.asc: cannot read gpg key file: no such file/,
    ],
    [
      'remote:\n  url: http://x/\n  gpg-key: keys\n',
      /c\.yaml:3:12: remote\.gpg-key: .*keys: cannot read gpg key file: is a directory/,
    ],
    [
      'remote:\n  url: http://x/\n  gpg-key: text.asc\n',
      /remote\.gpg-key: .*text\.asc: not an ASCII-armored public key/,
    ],
    ['remote:\n  url: http://x/\n  gpg-key: binary.gpg\n', /remote\.gpg-key: .*binary\.gpg: not ASCII text/],
    ['remote:\n  url: http://x/\n  gpg-key: private.asc\n', /remote\.gpg-key: .*private\.asc: holds a private key/],
    [
      'remote:\n  url: http://x/\n  gpg-key: half.asc\n',
      /remote\.gpg-key: .*half\.asc: not an ASCII-armored public key/,
    ],
    [
      'remote:\n  url: http://x/\n  gpg-key: /dev/zero\n',
      /remote\.gpg-key: \/dev\/zero: cannot read gpg key file: a character device/,
    ],
    // YAML
    ['users: [\n', /c\.yaml:\d+:\d+: YAML syntax/],
  ];
  for (const [yaml, re] of bad) {
    const r = await load(dir, yaml);
    t.notOk(r.ok, `${JSON.stringify(yaml.slice(0, 50))} refused`);
    t.equal(r.code, 2, 'exit 2');
    t.match(r.text, re);
  }
});

t.test('a gpg key larger than the bound', async (t) => {
  const dir = t.testdir({ 'big.asc': ARMORED.repeat(Math.ceil(LIMITS.gpgKeyBytes / ARMORED.length) + 1) });
  const r = await load(dir, 'remote:\n  url: http://x/\n  gpg-key: big.asc\n');
  t.match(r.text, /remote\.gpg-key: .*big\.asc: gpg key file larger than 1048576 bytes/);
});

t.test('a missing config file is an input error', async (t) => {
  await t.rejects(loadConfig(join(t.testdir({}), 'nope.yaml')), {
    exitCode: 2,
    message: /nope\.yaml: cannot read: no such file/,
  });
  t.same(await loadConfig(undefined), {});
});

t.test('sizes: whole bytes, a unit or none', async (t) => {
  t.equal(sizeBytes('512M'), 512 * MiB);
  t.equal(sizeBytes('1.5GiB'), 1536 * MiB);
  t.equal(sizeBytes('2 G'), 2048 * MiB);
  t.equal(sizeBytes('64t'), 64 * 1024 * 1024 * MiB);
  t.equal(sizeBytes('4096'), 4096);
  t.equal(sizeBytes('4096.0'), 4096, 'a zero fraction is whole');
  t.equal(sizeBytes('1.3K'), 1331, 'a fraction of a unit rounds to whole bytes');
  t.equal(sizeBytes(4096), 4096);
  t.match(sizeBytes('1.5'), /not a whole number of bytes/);
  t.match(sizeBytes(1.5), /expected a whole number of bytes/);
  t.match(sizeBytes(Number.NaN), /expected a whole number of bytes/);
  t.match(sizeBytes('12X'), /expected a size like 512M/);
  t.match(sizeBytes('x'.repeat(100)), /found "x{40}…"/);
  t.equal(parseSize(undefined, 9), 9);
  t.throws(() => parseSize('lots', 0), { exitCode: 2, message: /expected a size like 512M/ });
});

t.test('armored keys', async (t) => {
  t.equal(armoredKeyProblem(ARMORED), null);
  t.equal(armoredKeyProblem(`\n\n${ARMORED.replaceAll('\n', '\r\n')}\n`), null, 'CRLF and blank lines around it');
  t.equal(armoredKeyProblem(`${ARMORED}${ARMORED}`), null, 'two keys in one file');
  t.match(armoredKeyProblem(''), /not an ASCII-armored public key/);
  t.match(armoredKeyProblem(`${ARMORED}trailing garbage\n`), /not an ASCII-armored public key/);
  t.match(armoredKeyProblem(ARMORED.replace('mQ', 'm\u00e9')), /not ASCII text/);
  t.match(armoredKeyProblem(`${ARMORED}-----BEGIN PGP SECRET KEY BLOCK-----\n`), /holds a private key/);
});
