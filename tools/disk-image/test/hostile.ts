/**
 * Hostile input for disk-image: every case is refused while the command line and the config
 * are checked (exit 2), before the repo is read or any ostree or toolbox command runs, so
 * --repo is an empty directory and each case takes a node start-up. A previous image at
 * --output stays as it was and nothing is left beside it.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostileSuite, type HostileCase, type HostileFile } from '../../lib/test/fixtures/hostile.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const REF = 'debian/13/x86_64/tiny';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE4vQ9D0m2xVv5yC9eGz2xQ7gXh0v1m9b8tKk4e5Zk1r';
const PREVIOUS = 'previous image';
const ARMORED = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGx0AAAB\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n';

// Without tap's per-process coverage hook (it triples a node start-up): the lines these cases
// run are covered in-process by test/config.ts and test/args.ts.
const env = { NODE_OPTIONS: '' };

/** The previous image is untouched and no work directory is left beside it. */
function untouched(dir: string): void {
  if (readFileSync(join(dir, 'disk.qcow2'), 'utf8') !== PREVIOUS)
    throw new Error('the previous image at --output was changed');
  const left = readdirSync(dir).filter((f) => f.startsWith('.'));
  if (left.length) throw new Error(`left behind: ${left.join(', ')}`);
}

/** A config case: the YAML in c.yaml, an empty --repo, a previous image at --output. */
function config(name: string, yaml: string, stderr: RegExp, files: Record<string, HostileFile> = {}): HostileCase {
  return {
    name,
    args: ['--repo', 'repo', '--ref', REF, '--config', 'c.yaml', '--output', 'disk.qcow2'],
    files: { repo: { dir: true }, 'c.yaml': yaml, 'disk.qcow2': PREVIOUS, ...files },
    exit: 2,
    stderr,
    env,
    after: untouched,
  };
}

/** A command-line case: no config. */
function args(name: string, argv: string[], stderr: RegExp, files: Record<string, HostileFile> = {}): HostileCase {
  return { name, args: argv, files: { repo: { dir: true }, ...files }, exit: 2, stderr, env };
}

const user = (fields: string) => `users:\n  - name: alice\n${fields}`;
const remote = (key: string) => `remote:\n  url: http://updates.example.org/repo\n  gpg-key: ${key}\n`;

const cases: HostileCase[] = [
  // Injection: a value that would start a second record in a line-oriented file of the image.
  config(
    'injection: a newline in a shell (a second, uid-0 passwd line)',
    user('    shell: "/bin/bash\\nevil::0:0::/root:/bin/sh"\n'),
    /^disk-image: c\.yaml:3:12: users\.0\.shell: a login shell must be one line: it contains a newline/,
  ),
  config(
    'injection: a second key line inside one ssh-keys entry',
    user(`    ssh-keys: ["${KEY} me\\n${KEY} evil"]\n`),
    /c\.yaml:3:16: users\.0\.ssh-keys\.0: an SSH public key must be one line: it contains a newline/,
  ),
  config(
    'injection: a carriage return in a password hash (shadow)',
    user('    password-hash: "$6$salt$abc\\rdef"\n'),
    /users\.0\.password-hash: expected a crypt\(3\) hash/,
  ),
  config(
    'injection: a newline in a kernel argument (BLS options)',
    'kernel-args: ["quiet\\ninit=/bin/sh"]\n',
    /c\.yaml:1:15: kernel-args\.0: a kernel argument must be one word: it contains a newline/,
  ),
  config(
    'injection: a newline in the remote URL (ostree remote config)',
    'remote:\n  url: "http://updates.example.org/repo\\n[remote \\"evil\\"]"\n',
    /c\.yaml:2:8: remote\.url: .*must not contain white space or control characters/,
  ),
  config(
    'injection: a remote name ostree would read as an option',
    'remote:\n  name: "-x"\n  url: http://updates.example.org/repo\n',
    /remote\.name: not a valid remote name/,
  ),
  // Accounts: each user once, each uid once, no system account taken over.
  config(
    'accounts: the same user twice',
    'users:\n  - name: alice\n  - name: alice\n',
    /c\.yaml:3:11: users\.1\.name: user alice is already given as users\.0/,
  ),
  config(
    'accounts: two users with one uid',
    'users:\n  - name: alice\n    uid: 1500\n  - name: bob\n    uid: 1500\n',
    /users\.1\.uid: uid 1500 is already users\.0's/,
  ),
  config(
    'accounts: a system account (daemon)',
    'users:\n  - name: daemon\n    ssh-keys: ["' + KEY + '"]\n',
    /users\.0\.name: daemon is a system account/,
  ),
  config(
    'accounts: a user named like a system group (sudo)',
    'users:\n  - name: sudo\n',
    /users\.0\.name: sudo is a system account or group/,
  ),
  config(
    "accounts: root's shell changed",
    'users:\n  - name: root\n    shell: /bin/sh\n',
    /users\.0\.shell: root exists in every image/,
  ),
  // Sizes: bounded, whole bytes.
  config(
    'sizes: a disk of size "0"',
    'disk:\n  size: "0"\n',
    /c\.yaml:2:9: disk\.size: 0 is too small: the disk must be at least 1 MiB/,
  ),
  config(
    'sizes: a 1-byte ESP',
    'disk:\n  esp-size: 1\n',
    /disk\.esp-size: 1 is too small: the ESP must be at least 33 MiB/,
  ),
  config(
    'sizes: a disk of 999999T',
    'disk:\n  size: 999999T\n',
    /disk\.size: 999999T is too large: the disk may be at most 64 TiB/,
  ),
  config(
    'sizes: 10^15 bytes of free space',
    'disk:\n  free-space: 1000000000000000\n',
    /disk\.free-space: .* is too large/,
  ),
  config('sizes: a fraction of a byte', 'disk:\n  size: "1.5"\n', /disk\.size: 1\.5 is not a whole number of bytes/),
  // Lengths: every string and list bounded; the config file itself too.
  config(
    'length: a 2 MB kernel argument',
    `kernel-args: ["${'x'.repeat(2 << 20)}"]\n`,
    /kernel-args\.0: a kernel argument is longer than 4096 characters/,
  ),
  config(
    'length: 1000 kernel arguments',
    `kernel-args: [${Array.from({ length: 1000 }, (_, i) => `a${i}`).join(', ')}]\n`,
    /kernel-args: more than 256 kernel arguments/,
  ),
  config(
    'length: a 10 MB config file',
    `kernel-args: ["${'a'.repeat(10 << 20)}"]\n`,
    /c\.yaml: file larger than \d+ bytes/,
  ),
  // The gpg-key file: checked with the config, named at its position.
  config(
    'gpg-key: no such file',
    remote('updates.asc'),
    /c\.yaml:3:12: remote\.gpg-key: .*updates\.asc: cannot read gpg key file: no such file/,
  ),
  config(
    'gpg-key: a FIFO (must not hang)',
    remote('updates.asc'),
    /remote\.gpg-key: .*a FIFO, expected a regular file/,
    { 'updates.asc': { fifo: true } },
  ),
  config(
    'gpg-key: a link to /dev/zero',
    remote('updates.asc'),
    /remote\.gpg-key: .*a character device, expected a regular file/,
    { 'updates.asc': { symlink: '/dev/zero' } },
  ),
  config('gpg-key: not an armored key', remote('updates.asc'), /remote\.gpg-key: .*not an ASCII-armored public key/, {
    'updates.asc': 'hello\n',
  }),
  config('gpg-key: a private key', remote('updates.asc'), /remote\.gpg-key: .*holds a private key/, {
    'updates.asc': ARMORED.replaceAll('PUBLIC', 'PRIVATE'),
  }),
  config('gpg-key: 2 MB', remote('updates.asc'), /remote\.gpg-key: .*larger than 1048576 bytes/, {
    'updates.asc': ARMORED.repeat(30_000),
  }),
  // The command line: refused up front, before the config and the repo.
  args(
    'output: an existing directory',
    ['--repo', 'repo', '--ref', REF, '--output', 'out'],
    /--output .*out: is a directory, expected an image file/,
    { out: { dir: true } },
  ),
  args(
    'output: in a directory that does not exist',
    ['--repo', 'repo', '--ref', REF, '--output', 'no/disk.qcow2'],
    /cannot use the directory .*\/no: it does not exist/,
  ),
  args(
    'output: under a regular file',
    ['--repo', 'repo', '--ref', REF, '--output', 'file/disk.qcow2'],
    /\/file is not a directory/,
    { file: 'x' },
  ),
  args('output: a FIFO', ['--repo', 'repo', '--ref', REF, '--output', 'fifo'], /--output .*fifo: is a FIFO/, {
    fifo: { fifo: true },
  }),
  args(
    'ref: an option in disguise',
    ['--repo', 'repo', '--ref=--help', '--output', 'disk.qcow2'],
    /--ref "--help": not an ostree ref/,
  ),
  args(
    'repo: does not exist',
    ['--repo', 'nope', '--ref', REF, '--output', 'disk.qcow2'],
    /--repo .*nope: no such directory/,
  ),
  args(
    'config: a FIFO (must not hang)',
    ['--repo', 'repo', '--ref', REF, '--config', 'c.yaml', '--output', 'disk.qcow2'],
    /c\.yaml: cannot read: a FIFO/,
    { 'c.yaml': { fifo: true } },
  ),
];

await hostileSuite(t, bin, cases);
