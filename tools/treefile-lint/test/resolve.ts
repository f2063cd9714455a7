import t, { type Test } from 'tap';
import { join } from 'node:path';
import { formatDiagnostic } from '@debian-atomic/lib';
import { mergeLayer, resolveTreefile, type ResolveOptions } from '../src/resolve.js';
import { INCLUDE_MAX_DEPTH } from '../src/schema.js';

type Fixture = Record<string, string>;
type Tree = { [name: string]: string | Tree };

/** t.testdir wants nested objects: {'sub/b.yaml': x} → {sub: {'b.yaml': x}}. */
function tree(files: Fixture): Tree {
  const root: Tree = {};
  for (const [path, content] of Object.entries(files)) {
    const parts = path.split('/');
    let dir = root;
    for (const p of parts.slice(0, -1)) dir = (dir[p] ??= {}) as Tree;
    dir[parts.at(-1)!] = content;
  }
  return root;
}

/** Resolve `top` in a fresh temp tree; diagnostics with the temp dir stripped. */
async function run(t: Test, files: Fixture, top = 'a.yaml', opts: ResolveOptions = {}) {
  const dir = t.testdir(tree(files));
  const res = await resolveTreefile(join(dir, top), opts);
  const strip = (s: string) => s.split(dir + '/').join('');
  return { dir, res, messages: res.diagnostics.map((d) => strip(formatDiagnostic(d))) };
}

const REQUIRED = 'suite: trixie\nrepos: [{mirror: "http://deb.debian.org/debian", components: [main]}]\n';

t.test('merge rules', async (t) => {
  t.test('scalars: the includer wins; among includes the earlier one wins (as rpm-ostree)', async (t) => {
    const { res, messages } = await run(t, {
      'a.yaml': 'include: [b.yaml, c.yaml]\nref: a/ref\n',
      'b.yaml': `ref: b/ref\ndefault-target: b.target\nrecommends: false\npackages: [vim]\n${REQUIRED}`,
      'c.yaml': 'default-target: c.target\nrecommends: true\nosname: cos\n',
    });
    t.same(messages, []);
    t.equal(res.treefile.ref, 'a/ref');
    t.equal(res.treefile['default-target'], 'b.target');
    t.equal(res.treefile.recommends, false);
    t.equal(res.treefile.osname, 'cos');
  });

  t.test('lists: included items first; several includes as rpm-ostree (the last include first)', async (t) => {
    const { res } = await run(t, {
      'a.yaml': 'include: [b.yaml, c.yaml]\nunits: [a.service]\nkernel-args: [a]\n',
      'b.yaml': 'include: d.yaml\nunits: [b.service]\nkernel-args: [b]\n',
      'c.yaml': 'units: [c.service]\n',
      'd.yaml': 'units: [d.service]\nkernel-args: [d]\n',
    });
    t.same(res.treefile.units, ['c.service', 'd.service', 'b.service', 'a.service']);
    t.same(res.treefile['kernel-args'], ['d', 'b', 'a']);
  });

  t.test('packages: set union, sorted; per architecture too', async (t) => {
    const { res } = await run(t, {
      'a.yaml': 'include: b.yaml\npackages: [zsh, vim, vim]\npackages-arm64: [u-boot-tools]\n',
      'b.yaml': 'packages: [vim, bash]\npackages-arm64: [arm-trusted-firmware]\npackages-amd64: [grub-efi-amd64]\n',
    });
    t.same(res.treefile.packages, ['bash', 'vim', 'zsh']);
    t.same(res.treefile['packages-arm64'], ['arm-trusted-firmware', 'u-boot-tools']);
    t.same(res.treefile['packages-amd64'], ['grub-efi-amd64']);
  });

  t.test('maps: merged, the includer wins', async (t) => {
    const { res } = await run(t, {
      'a.yaml': 'include: b.yaml\nadd-commit-metadata: {variant: a, only-a: [1]}\n',
      'b.yaml': 'add-commit-metadata: {variant: b, only-b: {x: true}}\n',
    });
    t.same(res.treefile['add-commit-metadata'], { variant: 'a', 'only-a': [1], 'only-b': { x: true } });
  });

  t.test('tasks: sorted union; include and tasks-file are gone', async (t) => {
    const { res } = await run(t, {
      'a.yaml': 'include: sub/b.yaml\ntasks: [two]\n',
      'sub/b.yaml': 'tasks: [one, two]\ntasks-file: ../tasks.yaml\n',
      'tasks.yaml':
        'tasks:\n  one: {description: One, packages: [p-one]}\n  two: {description: Two, packages: [p-two]}\n',
    });
    t.same(res.treefile.tasks, ['one', 'two']);
    t.same(res.treefile.packages, ['p-one', 'p-two']);
    t.notOk('include' in res.treefile);
    t.notOk('tasks-file' in res.treefile);
  });

  t.test('paths are relative to the declaring file and absolute after resolving', async (t) => {
    const { dir, res, messages } = await run(t, {
      'a.yaml': 'include: sub/b.yaml\nadd-files: [[files/motd, /etc/motd]]\n',
      'files/motd': 'hello\n',
      'sub/b.yaml':
        'include: ../c/c.yaml\npostprocess-script: post.sh\nadd-files: [[tool, /usr/libexec/tool]]\nhwdetect-policy: hw.yaml\n',
      'sub/post.sh': '#!/bin/sh\n',
      'sub/tool': '',
      'sub/hw.yaml': '{}\n',
      'c/c.yaml':
        'repos: [{mirror: "http://x/debian", components: [main], keyring: keys/archive.gpg}, {mirror: "http://y/", components: [main], keyring: /usr/share/keyrings/k.gpg}]\n',
    });
    t.same(messages, []);
    t.equal(res.treefile['postprocess-script'], join(dir, 'sub/post.sh'));
    t.equal(res.treefile['hwdetect-policy'], join(dir, 'sub/hw.yaml'));
    t.same(res.treefile['add-files'], [
      [join(dir, 'sub/tool'), '/usr/libexec/tool'],
      [join(dir, 'files/motd'), '/etc/motd'],
    ]);
    t.same(
      res.treefile.repos?.map((r) => r.keyring),
      [join(dir, 'c/keys/archive.gpg'), '/usr/share/keyrings/k.gpg'],
    );
  });

  t.test('defaults and repo suites', async (t) => {
    const { res } = await run(t, {
      'a.yaml': 'include: b.yaml\nsuite: forky\n',
      'b.yaml':
        'suite: trixie\nrepos: [{mirror: "http://x/", components: [main]}, {mirror: "http://y/", suite: trixie-updates, components: [main]}]\n',
    });
    t.same(
      res.treefile.repos?.map((r) => r.suite),
      ['forky', 'trixie-updates'],
    );
    t.equal(res.treefile.architecture, 'amd64');
    t.equal(res.treefile['mmdebstrap-variant'], 'apt');
    t.equal(res.treefile.osname, 'debian');
  });

  t.test('exclude-packages: the includer has the last word', async (t) => {
    const { res, messages } = await run(t, {
      'a.yaml': 'include: b.yaml\npackages: [chrony, nano]\nexclude-packages: [systemd-timesyncd]\n',
      'b.yaml':
        'packages: [systemd-timesyncd, vim]\npackages-amd64: [systemd-timesyncd]\nexclude-packages: [nano, emacs]\n',
    });
    t.same(messages, []);
    t.same(res.treefile.packages, ['chrony', 'nano', 'vim']);
    t.notOk(res.treefile['packages-amd64'], 'an emptied list disappears');
    t.same(res.treefile['exclude-packages'], ['emacs', 'systemd-timesyncd']);
  });

  t.test('exclude-packages removes task packages of the same file', async (t) => {
    const { res, messages } = await run(t, {
      'a.yaml': 'tasks: [desk]\nexclude-packages: [firefox-esr]\n',
      'tasks.yaml':
        'tasks:\n  desk:\n    description: Desk\n    packages: [gnome-core]\n    recommends: [firefox-esr, "fonts-noto | fonts-dejavu"]\n    recommends-arm64: [firefox-esr]\n',
    });
    t.same(messages, []);
    t.same(res.treefile.packages, ['fonts-noto', 'gnome-core']);
    t.notOk(res.treefile['packages-arm64']);
  });

  t.test('mergeLayer works on plain layers', async (t) => {
    const dest = { packages: ['a'], units: ['x.service'] };
    mergeLayer(dest, { packages: ['b', 'a'], units: ['y.service'], ref: 'r' });
    t.same(dest, { packages: ['a', 'b'], units: ['y.service', 'x.service'], ref: 'r' });
  });
});

t.test('include depth: 50 levels resolve, the 51st is an error', async (t) => {
  const chain = (n: number): Fixture => {
    const files: Fixture = {};
    for (let i = 0; i < n; i++) files[`f${i}.yaml`] = `include: f${i + 1}.yaml\nunits: [u${i}.service]\n`;
    files[`f${n}.yaml`] = 'units: [last.service]\n';
    return files;
  };
  const ok = await run(t, chain(INCLUDE_MAX_DEPTH), 'f0.yaml');
  t.same(ok.messages, []);
  t.equal(ok.res.treefile.units?.length, INCLUDE_MAX_DEPTH + 1);
  const deep = await run(t, chain(INCLUDE_MAX_DEPTH + 1), 'f0.yaml');
  t.same(deep.messages, [
    'f50.yaml:1:10: include depth limit (50) exceeded: f0.yaml -> f1.yaml -> f2.yaml -> f3.yaml -> ... (44 more) -> f48.yaml -> f49.yaml -> f50.yaml -> f51.yaml',
  ]);
});

// Every kind of error, with its exact position. `mode` 'always' is --resolve.
const errors: { name: string; files: Fixture; top?: string; opts?: ResolveOptions; expect: string[] }[] = [
  {
    name: 'YAML syntax',
    files: { 'a.yaml': 'ref: a/b\npackages: [vim\nunits: []\n' },
    expect: [
      'a.yaml:3:1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
  },
  {
    name: 'duplicate key',
    files: { 'a.yaml': 'units: []\nunits: []\n' },
    expect: ['a.yaml:2:1: YAML syntax: Map keys must be unique'],
  },
  {
    name: 'alias to nothing',
    files: { 'a.yaml': 'units: *u\n' },
    expect: ['a.yaml:1:8: YAML: Unresolved alias (the anchor must be set before the alias): u'],
  },
  {
    name: 'wrong type',
    files: { 'a.yaml': 'recommends: "no"\n' },
    expect: ['a.yaml:1:13: recommends: expected boolean, found the string "no"'],
  },
  {
    name: 'unknown key',
    files: { 'a.yaml': 'packages: [vim]\nexclude-package: [nano]\n' },
    expect: ["a.yaml:2:1: unknown key 'exclude-package' (did you mean 'exclude-packages'?)"],
  },
  {
    name: 'unknown key, nothing close',
    files: { 'a.yaml': 'colour: blue\n' },
    expect: ["a.yaml:1:1: unknown key 'colour'"],
  },
  {
    name: 'bad package name',
    files: { 'a.yaml': 'packages:\n  - vim\n  - Emacs\n' },
    expect: [
      'a.yaml:3:5: packages.1: not a valid Debian package name (lowercase letters, digits, "+", "-", "."; at least 2 characters, starting with a letter or digit) (found the string "Emacs")',
    ],
  },
  {
    name: 'missing include (a list entry)',
    files: { 'a.yaml': 'packages: [vim]\ninclude: [b.yaml, nope.yaml]\n', 'b.yaml': 'units: []\n' },
    expect: ['a.yaml:2:19: include nope.yaml: cannot read: no such file'],
  },
  {
    name: 'missing include (a string)',
    files: { 'a.yaml': 'include: sub/nope.yaml\n' },
    expect: ['a.yaml:1:10: include sub/nope.yaml: cannot read: no such file'],
  },
  {
    name: 'include of a directory',
    files: { 'a.yaml': 'include: sub\n', 'sub/x': '' },
    expect: ['a.yaml:1:10: include sub: cannot read: is a directory, expected a regular file'],
  },
  {
    name: 'cycle',
    files: { 'a.yaml': 'include: b.yaml\n', 'b.yaml': 'units: []\ninclude: [a.yaml]\n' },
    expect: ['b.yaml:2:11: include cycle: a.yaml -> b.yaml -> a.yaml'],
  },
  {
    name: 'a file including itself',
    files: { 'a.yaml': 'include: ./a.yaml\n' },
    expect: ['a.yaml:1:10: include cycle: a.yaml -> a.yaml'],
  },
  {
    name: 'same file twice',
    files: { 'a.yaml': 'include:\n  - b.yaml\n  - c.yaml\n', 'b.yaml': 'include: c.yaml\n', 'c.yaml': 'units: []\n' },
    expect: ['a.yaml:3:5: c.yaml is included twice: a.yaml -> b.yaml -> c.yaml and a.yaml -> c.yaml'],
  },
  {
    name: 'unknown task, with a suggestion',
    files: {
      'a.yaml': 'tasks: [ssh-server, gnome-destkop]\n',
      'tasks.yaml':
        'tasks:\n  ssh-server: {description: SSH, packages: [openssh-server]}\n  gnome-desktop: {description: GNOME, packages: [gnome-core]}\n',
    },
    expect: ["a.yaml:1:21: unknown task 'gnome-destkop' (not in tasks.yaml) (did you mean 'gnome-desktop'?)"],
  },
  {
    name: 'tasks file missing',
    files: { 'a.yaml': 'units: []\ntasks: [x]\n' },
    expect: [
      'a.yaml:2:1: tasks file tasks.yaml: cannot read: no such file (set tasks-file, or put tasks.yaml beside a.yaml)',
    ],
  },
  {
    name: 'tasks-file missing',
    files: { 'a.yaml': 'tasks: [x]\ntasks-file: t/tasks.yaml\n' },
    expect: ['a.yaml:2:13: tasks-file t/tasks.yaml: cannot read: no such file'],
  },
  {
    name: 'invalid tasks file (reported there)',
    files: { 'a.yaml': 'tasks: [x]\n', 'tasks.yaml': 'tasks:\n  x:\n    packages: [vim]\n' },
    expect: ["tasks.yaml:3:5: missing required key 'description' (expected string)"],
  },
  {
    name: 'package both installed and excluded in one file',
    files: { 'a.yaml': 'packages: [vim, nano]\nexclude-packages: [nano]\n' },
    expect: ["a.yaml:1:17: package 'nano' is both in packages and in exclude-packages of the same file"],
  },
  {
    name: 'referenced files must exist',
    files: { 'a.yaml': 'postprocess-script: post.sh\nadd-files:\n  - [motd, /etc/motd]\nhwdetect-policy: hw.yaml\n' },
    expect: [
      'a.yaml:1:21: postprocess-script: no such file: post.sh',
      'a.yaml:3:6: add-files: no such file: motd',
      'a.yaml:4:18: hwdetect-policy: no such file: hw.yaml',
    ],
  },
  {
    name: 'missing required keys after resolution (--resolve)',
    files: { 'a.yaml': 'include: b.yaml\npackages: [vim]\n', 'b.yaml': 'units: []\n' },
    opts: { require: 'always' },
    expect: [
      "a.yaml:1:1: missing required key 'ref' (after merging includes)",
      "a.yaml:1:1: missing required key 'suite' (after merging includes)",
      "a.yaml:1:1: missing required key 'repos': list at least one repository (after merging includes)",
    ],
  },
  {
    name: 'a file with a ref is checked as a whole',
    files: { 'a.yaml': `ref: x/y\n${REQUIRED}` },
    expect: ["a.yaml:1:1: missing required key 'packages': no packages after merging includes and expanding tasks"],
  },
  {
    name: 'a required key with an invalid value is not also reported missing',
    files: { 'a.yaml': 'ref: x/y\nsuite: 13\nrepos: []\npackages: [vim]\n' },
    expect: [
      "a.yaml:1:1: missing required key 'repos': list at least one repository (after merging includes)",
      'a.yaml:2:8: suite: expected string, found number 13',
    ],
  },
  {
    name: 'after a syntax error, no guesses about missing keys (--resolve)',
    files: { 'a.yaml': 'ref: x/y\npackages: [vim\n' },
    opts: { require: 'always' },
    expect: [
      'a.yaml:3:1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
  },
  {
    name: 'errors in several files, all reported, grouped by file',
    files: {
      'a.yaml': 'include: [b.yaml, c.yaml]\nrecommends: 1\n',
      'b.yaml': 'units: [bad]\n',
      'c.yaml': 'packages: [X]\ninclude: nope.yaml\n',
    },
    expect: [
      'a.yaml:2:13: recommends: expected boolean, found number 1',
      'b.yaml:1:9: units.0: not a valid systemd unit name (like "foo.service", "getty@tty1.service") (found the string "bad")',
      'c.yaml:1:12: packages.0: not a valid Debian package name (lowercase letters, digits, "+", "-", "."; at least 2 characters, starting with a letter or digit) (found the string "X")',
      'c.yaml:2:10: include nope.yaml: cannot read: no such file',
    ],
  },
  {
    name: 'an invalid key does not stop the checks of the valid ones',
    files: { 'a.yaml': 'units: 3\ninclude: nope.yaml\ntasks: [zz]\n', 'tasks.yaml': 'tasks: {}\n' },
    expect: [
      'a.yaml:1:8: units: expected array, found number 3',
      'a.yaml:2:10: include nope.yaml: cannot read: no such file',
      "a.yaml:3:9: unknown task 'zz' (not in tasks.yaml)",
    ],
  },
];

t.test('every error kind, exactly positioned', async (t) => {
  for (const e of errors) {
    t.test(e.name, async (t) => {
      const { res, messages } = await run(t, e.files, e.top, e.opts);
      t.same(messages, e.expect);
      t.equal(res.resolved, undefined);
    });
  }
});

t.test('a fragment is not required to be complete; --resolve requires it', async (t) => {
  const frag = await run(t, { 'a.yaml': 'packages: [vim]\n' });
  t.same(frag.messages, []);
  t.equal(frag.res.complete, false);
  t.equal(frag.res.resolved, undefined);
  const full = await run(t, { 'a.yaml': `ref: x/y\npackages: [vim]\n${REQUIRED}` }, 'a.yaml', { require: 'always' });
  t.same(full.messages, []);
  t.equal(full.res.complete, true);
  t.same(full.res.resolved?.packages, ['vim']);
});

t.test('an unreadable top-level file is an input error (exit 2)', async (t) => {
  const dir = t.testdir({});
  await t.rejects(resolveTreefile(join(dir, 'nope.yaml')), {
    exitCode: 2,
    message: /nope\.yaml: cannot read: no such file/,
  });
});
