import t from 'tap';
import { formatDiagnostic, parseYamlText, schemaDiagnostics } from '@debian-atomic/lib';
import {
  DEBIAN_ARCHES,
  MERGE_RULES,
  OSTREE_REF,
  PACKAGE_NAME,
  resolvedTreefileSchema,
  treefileJsonSchema,
  treefileKeys,
  treefileSchema,
  UNIT_NAME,
} from '../src/schema.js';

const check = (text: string) =>
  schemaDiagnostics(parseYamlText('t.yaml', text), treefileSchema, treefileKeys).diagnostics.map(formatDiagnostic);

t.test('a treefile using every key validates', async (t) => {
  const text = `ref: debian/13/x86_64/base
include: [common.yaml]
packages: [systemd, libstdc++6, g++]
packages-amd64: [linux-image-amd64]
packages-arm64: [linux-image-arm64]
exclude-packages: [nano]
recommends: false
repos:
  - {mirror: "http://deb.debian.org/debian", suite: trixie-updates, components: [main, non-free-firmware], keyring: k.gpg, name: updates}
  - {mirror: "file:///srv/mirror", components: [main]}
units: [systemd-networkd.service, getty@tty1.service, fstrim.timer]
default-target: multi-user.target
postprocess-script: post.sh
postprocess: ["#!/bin/sh\\necho hi\\n"]
add-files: [[motd, /etc/motd], [tool, /usr/lib/x/tool]]
remove-files: [usr/share/doc]
etc-group-members: [sudo, _ssh]
initramfs-args: [--no-hostonly]
kernel-args: ["console=ttyS0,115200", rw]
tmp-is-dir: true
machineid-compat: false
mutate-os-release: "13"
add-commit-metadata: {a: 1, b: {c: [true, null, "x"]}}
automatic-version-prefix: "13"
container-cmd: [/sbin/init]
suite: trixie
release: "13"
architecture: arm64
mmdebstrap-variant: minbase
osname: debian
tasks: [ssh-server]
tasks-file: ../tasks.yaml
hwdetect-policy: hw.yaml
`;
  t.same(check(text), []);
});

// One row per rule: the YAML, and the exact diagnostic.
const invalid: [string, string][] = [
  [
    'ref: "debian 13"\n',
    't.yaml:1:6: ref: not a valid OSTree ref (like "debian/13/x86_64/base") (found the string "debian 13")',
  ],
  [
    'ref: debian//13\n',
    't.yaml:1:6: ref: not a valid OSTree ref (like "debian/13/x86_64/base") (found the string "debian//13")',
  ],
  ['include: 3\n', 't.yaml:1:10: include: expected a path or a list of paths (found number 3)'],
  [
    'packages: [Vim]\n',
    't.yaml:1:12: packages.0: not a valid Debian package name (lowercase letters, digits, "+", "-", "."; at least 2 characters, starting with a letter or digit) (found the string "Vim")',
  ],
  [
    'packages: [v]\n',
    't.yaml:1:12: packages.0: not a valid Debian package name (lowercase letters, digits, "+", "-", "."; at least 2 characters, starting with a letter or digit) (found the string "v")',
  ],
  ['packages: vim\n', 't.yaml:1:11: packages: expected array, found the string "vim"'],
  ['packages-x86_64: [vim]\n', "t.yaml:1:1: unknown key 'packages-x86_64' (did you mean 'packages-amd64'?)"],
  ['recommends: "yes"\n', 't.yaml:1:13: recommends: expected boolean, found the string "yes"'],
  [
    'repos: [{mirror: "ftp://x", components: [main]}]\n',
    't.yaml:1:18: repos.0.mirror: not a valid mirror URL (http://, https:// or file://) (found the string "ftp://x")',
  ],
  [
    'repos:\n  - mirror: http://x/\n    components: [main]\n    sute: sid\n',
    "t.yaml:4:5: unknown key 'sute' (did you mean 'suite'?)",
  ],
  ['repos:\n  - mirror: http://x/\n', "t.yaml:2:5: missing required key 'components' (expected array)"],
  [
    'units: [networkd]\n',
    't.yaml:1:9: units.0: not a valid systemd unit name (like "foo.service", "getty@tty1.service") (found the string "networkd")',
  ],
  [
    'default-target: graphical\n',
    't.yaml:1:17: default-target: not a valid systemd target (like "multi-user.target") (found the string "graphical")',
  ],
  [
    'postprocess: ["echo hi"]\n',
    't.yaml:1:15: postprocess.0: an inline postprocess script must start with \'#!\' (its interpreter) (found the string "echo hi")',
  ],
  [
    'add-files: [[a, etc/motd]]\n',
    't.yaml:1:17: add-files.0.1: destination must be an absolute path under /usr (not /usr/local) or /etc, without ".." (found the string "etc/motd")',
  ],
  [
    'add-files: [[a, /usr/local/bin/x]]\n',
    't.yaml:1:17: add-files.0.1: destination must be an absolute path under /usr (not /usr/local) or /etc, without ".." (found the string "/usr/local/bin/x")',
  ],
  [
    'add-files: [[a, /etc/../var/x]]\n',
    't.yaml:1:17: add-files.0.1: destination must be an absolute path under /usr (not /usr/local) or /etc, without ".." (found the string "/etc/../var/x")',
  ],
  ['add-files: [[a]]\n', 't.yaml:1:13: add-files.0: expected a [source, destination] pair (found a list)'],
  [
    'remove-files: [/usr/share/doc]\n',
    't.yaml:1:16: remove-files.0: must be a relative path (from the root of the tree) without ".." (found the string "/usr/share/doc")',
  ],
  [
    'remove-files: [usr/../etc]\n',
    't.yaml:1:16: remove-files.0: must be a relative path (from the root of the tree) without ".." (found the string "usr/../etc")',
  ],
  [
    'etc-group-members: [Wheel]\n',
    't.yaml:1:21: etc-group-members.0: not a valid group name (found the string "Wheel")',
  ],
  ['kernel-args: [""]\n', 't.yaml:1:15: kernel-args.0: must not be empty (found the string "")'],
  ['add-commit-metadata: [a]\n', 't.yaml:1:22: add-commit-metadata: expected record, found a list'],
  ['container-cmd: []\n', 't.yaml:1:16: container-cmd: list at least the command (found a list)'],
  [
    'architecture: x86_64\n',
    't.yaml:1:15: architecture: expected one of "amd64", "arm64", "armel", "armhf", "i386", "mips64el", "ppc64el", "riscv64", "s390x", "loong64", found the string "x86_64"',
  ],
  [
    'mmdebstrap-variant: tiny\n',
    't.yaml:1:21: mmdebstrap-variant: expected one of "extract", "custom", "essential", "apt", "required", "minbase", "buildd", "important", "standard", found the string "tiny"',
  ],
  ['release: 13\n', 't.yaml:1:10: release: expected string, found number 13'],
  ['tasks: [SSH]\n', 't.yaml:1:9: tasks.0: not a valid task name (found the string "SSH")'],
  ['osname: "my os"\n', 't.yaml:1:9: osname: not a valid OSTree stateroot name (found the string "my os")'],
  ['suite: Trixie\n', 't.yaml:1:8: suite: not a valid suite name (like "trixie") (found the string "Trixie")'],
  ['tmp-is-dir: 1\n', 't.yaml:1:13: tmp-is-dir: expected boolean, found number 1'],
  ['- a\n', 't.yaml:1:1: (top level): expected object, found a list'],
];

t.test('invalid values: one exact positioned message each', async (t) => {
  for (const [text, expected] of invalid) t.same(check(text), [expected], text);
});

t.test('name patterns', async (t) => {
  for (const ok of ['libc6', 'g++', 'libstdc++6', 'python3.13', '0ad']) t.match(ok, PACKAGE_NAME);
  for (const bad of ['a', 'Vim', '-x', 'foo_bar', 'foo:amd64', 'a b']) t.notMatch(bad, PACKAGE_NAME);
  for (const ok of ['debian/13/x86_64/base', 'a', 'fedora-coreos/stable', 'x.y_z-1']) t.match(ok, OSTREE_REF);
  for (const bad of ['/a', 'a/', 'a//b', 'a b', 'remote:a']) t.notMatch(bad, OSTREE_REF);
  for (const ok of [
    'ssh.service',
    'getty@tty1.service',
    'getty@.service',
    'fstrim.timer',
    'dev-sda.device',
    'foo\\x2dbar.mount',
  ])
    t.match(ok, UNIT_NAME);
  for (const bad of ['ssh', 'ssh.services', '.service', 'a b.service']) t.notMatch(bad, UNIT_NAME);
});

t.test('every key has a merge rule, and the JSON Schema lists every key', async (t) => {
  const keys = Object.keys(treefileSchema.shape).sort();
  t.same(Object.keys(MERGE_RULES).sort(), keys);
  for (const a of DEBIAN_ARCHES) t.ok(keys.includes(`packages-${a}`), a);
  const schema = treefileJsonSchema() as {
    properties: Record<string, { description?: string }>;
    additionalProperties: boolean;
    title: string;
  };
  t.same(Object.keys(schema.properties).sort(), keys);
  t.equal(schema.additionalProperties, false);
  t.equal(schema.title, 'Debian Atomic treefile');
  for (const k of keys) t.ok(schema.properties[k]?.description, `${k} has a description`);
});

t.test('resolved treefiles require ref, suite, repos with suites, packages', async (t) => {
  const good = {
    ref: 'debian/13/x86_64/base',
    suite: 'trixie',
    repos: [{ mirror: 'http://deb.debian.org/debian', suite: 'trixie', components: ['main'] }],
    packages: ['systemd'],
    architecture: 'amd64',
    'mmdebstrap-variant': 'apt',
    osname: 'debian',
  };
  t.ok(resolvedTreefileSchema.safeParse(good).success);
  for (const key of ['ref', 'suite', 'repos', 'packages', 'architecture']) {
    const { [key]: _, ...rest } = good as Record<string, unknown>;
    t.notOk(resolvedTreefileSchema.safeParse(rest).success, `without ${key}`);
  }
  t.notOk(resolvedTreefileSchema.safeParse({ ...good, repos: [] }).success, 'no repos');
  t.notOk(
    resolvedTreefileSchema.safeParse({ ...good, repos: [{ mirror: 'http://x/', components: ['main'] }] }).success,
    'repo without suite',
  );
  t.notOk(resolvedTreefileSchema.safeParse({ ...good, include: 'x.yaml' }).success, 'include is gone');
});

t.test('the README documents every key', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  for (const key of Object.keys(treefileSchema.shape)) {
    const documented = key.startsWith('packages-') ? '`packages-<arch>`' : `\`${key}\``;
    t.ok(readme.includes(`| ${documented} |`), key);
  }
  for (const a of DEBIAN_ARCHES) t.match(readme, new RegExp(`packages-<arch>.*\\b${a}\\b`), a);
});
