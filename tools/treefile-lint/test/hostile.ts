/**
 * Hostile input, as an attacker or a careless user would give it: the real treefile-lint
 * (dist/bin.js), one process per case, capped in time and memory (tools/lib's harness).
 * Classes: unbounded reads (FIFOs, devices, huge files, as the FILE, an include or a tasks file),
 * strings that would add a line where they land (kernel command line, sources.list, os-release),
 * unbounded strings and lists, and structures built to exhaust the parser (nesting, aliases,
 * 100,000 includes or keys). Each is one clear positioned error, fast; Ctrl-C exits 130.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic } from '@debian-atomic/lib';
import { cpuTicks, hostileSuite, type HostileCase } from '../../lib/test/fixtures/hostile.js';
import { resolveTreefile } from '../src/resolve.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (tsc -b tools/treefile-lint)`);
// Well under a second a case on an idle machine; the file's own cap is for a loaded one.
t.setTimeout(300_000);

const REQUIRED =
  'suite: trixie\nrepos: [{mirror: "http://deb.debian.org/debian", components: [main]}]\npackages: [systemd]\n';
const lint = (...files: string[]) => files.map((f) => `{dir}/${f}`);
/** --resolve (what a build runs): prints nothing on stdout when it fails, as the harness expects of any failure. */
const resolve = (file: string) => ['--resolve', `{dir}/${file}`];
/** `key: [...]` with one YAML value, as the only key of a treefile with a ref. */
const tf = (line: string) => `ref: a/b\n${REQUIRED}${line}\n`;
const list = (n: number, item: (i: number) => string) => Array.from({ length: n }, (_, i) => item(i)).join(', ');

/** The billion laughs: nine levels of nine aliases, 387 million strings once expanded. */
const LAUGHS = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  .concat('bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`))
  .join('\n');

/**
 * Strings that would land in a line-oriented file or an argument list: one treefile line each
 * (checked one by one in-process below, all together through the CLI), and the message it must get.
 */
const INJECTIONS: [name: string, yaml: string, message: RegExp][] = [
  [
    'a newline in kernel-args',
    'kernel-args: ["quiet\\ninit=/bin/sh"]',
    /a\.yaml:1:15: kernel-args\.0: a kernel argument must be one word: it contains a newline \(U\+000A\)/,
  ],
  [
    'two words as one kernel argument',
    'kernel-args: [rw, "quiet init=/bin/sh"]',
    /a\.yaml:1:19: kernel-args\.1: "quiet init=\/bin\/sh" is more than one kernel argument/,
  ],
  [
    'a mirror URL that adds a line to sources.list',
    'repos: [{mirror: "http://deb.debian.org/debian\\ndeb [trusted=yes] http://evil/ sid main", components: [main]}]',
    /a\.yaml:1:18: repos\.0\.mirror: not a valid mirror URL \(http:\/\/, https:\/\/ or file:\/\/\): a URL must not contain white space or control characters/,
  ],
  [
    'a keyring path that closes the [signed-by=] option',
    'repos: [{mirror: "http://x/debian", components: [main], keyring: "k.gpg] [trusted=yes"}]',
    /repos\.0\.keyring: a keyring path must not contain white space or "\]"/,
  ],
  [
    'a version prefix that ends the os-release quote',
    `automatic-version-prefix: "13'; EVIL='x"`,
    /a\.yaml:1:27: automatic-version-prefix: not a valid version prefix/,
  ],
  [
    'a control character in an add-files destination',
    'add-files: [[a.yaml, "/etc/motd\\t/etc/shadow"]]',
    /add-files\.0\.1: a path must be one line: it contains a tab/,
  ],
  [
    'a newline in initramfs-args',
    'initramfs-args: ["--add\\nevil"]',
    /initramfs-args\.0: an initramfs argument must be one line: it contains a newline/,
  ],
  [
    'a newline in mutate-os-release',
    'mutate-os-release: "13\\nID=evil"',
    /mutate-os-release: the string to replace must be one line: it contains a newline/,
  ],
  [
    '"=" in a commit metadata key (ostree splits KEY=VALUE)',
    'add-commit-metadata: {"version=99": x}',
    /a\.yaml:1:37: add-commit-metadata\.version=99: not a valid commit metadata key/,
  ],
  [
    'remove-files naming the root of the tree',
    'remove-files: ["./."]',
    /remove-files\.0: must name something below the root of the tree/,
  ],
  ['a newline in a unit name', 'units: ["ssh.service\\nevil.service"]', /units\.0: not a valid systemd unit name/],
  ['a newline in the osname', 'osname: "debian\\nx"', /osname: not a valid OSTree stateroot name/],
];

/** Strings and lists of unbounded size: one message each, not copied along. */
const SIZES: [name: string, yaml: string, message: RegExp][] = [
  [
    'a 500 KB kernel argument',
    `kernel-args: [${'x'.repeat(500_000)}]`,
    /kernel-args\.0: a kernel argument is longer than 4096 characters/,
  ],
  ['a 500 KB ref', `ref: ${'a'.repeat(500_000)}`, /a\.yaml:1:6: ref: longer than 256 characters/],
  [
    'a 100 KB group name',
    `etc-group-members: [${'a'.repeat(100_000)}]`,
    /etc-group-members\.0: longer than 32 characters/,
  ],
  [
    'a 900 KB add-files path',
    `add-files: [[${'a'.repeat(900_000)}, /etc/x]]`,
    /add-files\.0\.0: longer than 4096 characters/,
  ],
  [
    '300 metadata keys',
    `add-commit-metadata: {${list(300, (i) => `k${i}: ${i}`)}}`,
    /add-commit-metadata: more than 256 metadata keys/,
  ],
  [
    'a 100 KB metadata value',
    `add-commit-metadata: {x: "${'x'.repeat(100_000)}"}`,
    /add-commit-metadata\.x: a metadata value is larger than 65536 characters as JSON/,
  ],
  ['100 includes', `include: [${list(100, (i) => `n${i}.yaml`)}]`, /a\.yaml:1:10: include: more than 64 includes/],
];

const cases: HostileCase[] = [
  // Unbounded reads: never a FIFO or a device, never more than 1 MiB a file, 2 MiB a treefile with its includes.
  {
    name: 'read: the FILE is a FIFO',
    args: lint('a.yaml'),
    files: { 'a.yaml': { fifo: true } },
    exit: 2,
    stderr: /^treefile-lint: \S*a\.yaml: cannot read: a FIFO, expected a regular file\n/,
  },
  {
    name: 'read: a 50 MB FILE',
    args: lint('a.yaml'),
    files: { 'a.yaml': Buffer.alloc(50 << 20, 'a') },
    exit: 2,
    stderr: /a\.yaml: file larger than 1048576 bytes, refusing to read it/,
  },
  {
    name: 'read: a 2 MiB treefile (under lib 4 MiB default, seconds and 400 MB to parse)',
    args: lint('a.yaml'),
    files: { 'a.yaml': `packages:\n${'  - aa\n'.repeat(300_000)}` },
    exit: 2,
    stderr: /a\.yaml: file larger than 1048576 bytes/,
  },
  {
    name: 'read: an include that is a FIFO (hung forever, then ignored Ctrl-C)',
    args: lint('a.yaml'),
    files: {
      'a.yaml': 'ref: a/b\ninclude: [common.yaml, fifo.yaml]\n',
      'common.yaml': REQUIRED,
      'fifo.yaml': { fifo: true },
    },
    exit: 2,
    stderr: /^\S*a\.yaml:2:24: include \S*fifo\.yaml: cannot read: a FIFO, expected a regular file\n$/,
  },
  {
    name: 'read: /dev/zero as an include',
    args: lint('a.yaml'),
    files: { 'a.yaml': 'include: /dev/zero\n' },
    exit: 2,
    stderr: /a\.yaml:1:10: include \/dev\/zero: cannot read: a character device/,
  },
  {
    name: 'read: a 50 MB include',
    args: lint('a.yaml'),
    files: { 'a.yaml': 'include: big.yaml\n', 'big.yaml': Buffer.alloc(50 << 20, '#') },
    exit: 2,
    stderr: /a\.yaml:1:10: include \S*big\.yaml: file larger than/,
  },
  {
    name: 'read: includes of 900 KB each, 2 MiB in all',
    args: lint('a.yaml'),
    files: {
      'a.yaml': 'include: [b.yaml, c.yaml, d.yaml]\n',
      ...Object.fromEntries(['b', 'c', 'd'].map((n) => [`${n}.yaml`, `# ${'x'.repeat(900_000)}\nunits: []\n`])),
    },
    exit: 2,
    stderr:
      /a\.yaml:1:\d+: include \S*\.yaml: file larger than \d+ bytes.*\(a treefile and its includes may hold 2097152 bytes in all\)/,
  },
  {
    name: 'read: the tasks file is a FIFO',
    args: lint('a.yaml'),
    files: { 'a.yaml': 'packages: [vim]\ntasks: [ssh-server]\n', 'tasks.yaml': { fifo: true } },
    exit: 2,
    stderr: /a\.yaml:2:1: tasks file \S*tasks\.yaml: cannot read: a FIFO/,
  },
  {
    name: 'read: tasks-file /dev/zero, with --resolve',
    args: ['--resolve', ...lint('a.yaml')],
    files: { 'a.yaml': tf('tasks: [x]\ntasks-file: /dev/zero') },
    exit: 2,
    stderr: /a\.yaml:\d+:13: tasks-file \/dev\/zero: cannot read: a character device/,
  },
  {
    name: 'read: a postprocess-script that is a FIFO (rootfs would hang on it)',
    args: resolve('a.yaml'),
    files: { 'a.yaml': 'postprocess-script: post.sh\n', 'post.sh': { fifo: true } },
    exit: 1,
    stderr: /a\.yaml:1:21: postprocess-script: not a regular file: \S*post\.sh/,
  },

  // Injection: every string that lands in a line-oriented file, through the real CLI at once (one by one below).
  {
    name: 'injection: strings that would add a line to sources.list, the kernel command line, os-release',
    args: resolve('a.yaml'),
    files: { 'a.yaml': [0, 2, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => INJECTIONS[i]![1]).join('\n') + '\n' },
    exit: 1,
    stderr: new RegExp(
      [0, 2, 4, 5, 6, 7, 8, 9, 10, 11]
        .map((i) => `(?=[\\s\\S]*${INJECTIONS[i]![2].source.replace(/a\\\.yaml:1:/, 'a\\.yaml:\\d+:')})`)
        .join(''),
    ),
  },
  {
    name: 'size: a 900 KB kernel argument',
    args: resolve('a.yaml'),
    files: { 'a.yaml': `kernel-args: [${'x'.repeat(900_000)}]\n` },
    exit: 1,
    stderr: /a\.yaml:1:15: kernel-args\.0: a kernel argument is longer than 4096 characters\n/,
  },

  // Structures built to exhaust the parser: refused before it sees them, or bounded.
  {
    name: 'structure: the billion laughs (alias bomb)',
    args: resolve('a.yaml'),
    files: { 'a.yaml': LAUGHS },
    exit: 1,
    stderr: /a\.yaml:\d+:\d+: YAML: Excessive alias count/,
  },
  {
    name: 'structure: 400,000 nested flow lists (2 GB, then a stack overflow)',
    args: resolve('a.yaml'),
    files: { 'a.yaml': `add-commit-metadata:\n  x: ${'['.repeat(400_000)}${']'.repeat(400_000)}\n` },
    exit: 1,
    stderr: /^\S*a\.yaml:2:\d+: YAML syntax: nested deeper than 64 levels, refusing to parse it\n$/,
  },
  {
    name: 'structure: 300,000 nested block lists ("- - - -")',
    args: resolve('a.yaml'),
    files: { 'a.yaml': `packages:\n  ${'- '.repeat(300_000)}x\n` },
    exit: 1,
    stderr: /a\.yaml:2:\d+: YAML syntax: nested deeper than 64 levels/,
  },
  {
    name: 'structure: an include list of 100,000 entries',
    args: resolve('a.yaml'),
    files: { 'a.yaml': `include: [${list(100_000, () => 'x.yaml')}]\n`, 'x.yaml': 'units: []\n' },
    exit: 1,
    stderr: /a\.yaml:\d+:\d+: YAML syntax: more than 60000 YAML tokens, refusing to parse it/,
  },
  {
    name: 'structure: 20,000 top-level keys (quadratic unique-key check)',
    args: resolve('a.yaml'),
    files: { 'a.yaml': list(20_000, (i) => `k${i}: 1`).replaceAll(', ', '\n') },
    exit: 1,
    stderr: /YAML syntax: more than \d+ (mapping keys|YAML tokens), refusing to parse it/,
  },
  {
    name: 'structure: a list of 15,000 packages',
    args: resolve('a.yaml'),
    files: { 'a.yaml': `packages: [${list(15_000, () => 'aa')}]\n` },
    exit: 1,
    stderr: /a\.yaml:1:11: YAML syntax: a list with 15000 entries \(at most 10000\)/,
  },
  {
    name: 'structure: an include cycle through a symlink',
    args: resolve('a.yaml'),
    files: { 'a.yaml': 'include: b.yaml\n', 'b.yaml': 'include: c.yaml\n', 'c.yaml': { symlink: 'a.yaml' } },
    exit: 1,
    stderr: /b\.yaml:1:10: include cycle: \S*a\.yaml -> \S*b\.yaml -> \S*c\.yaml/,
  },
];

t.test('hostile input', async (t) => {
  await hostileSuite(t, bin, cases);
});

t.test('each injection and size, one positioned diagnostic each (in-process)', async (t) => {
  for (const [name, yaml, message] of [...INJECTIONS, ...SIZES]) {
    const dir = t.testdir({ 'a.yaml': `${yaml}\n` });
    const { diagnostics } = await resolveTreefile(join(dir, 'a.yaml'));
    const text = diagnostics.map(formatDiagnostic).join('\n');
    t.match(text, message, name);
    t.ok(text.length < 2000, `${name}: a short message (${text.length} characters)`);
  }
});

/** CPU time (user + system) of a process in clock ticks, or -1 once it is gone. */

t.test('Ctrl-C while linting: exit 130 within seconds, nothing on stdout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-sigint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // 40 files of 600 KB each: a minute of parsing on a slow machine, each file a second or so.
  const files: string[] = [];
  for (let i = 0; i < 40; i++) {
    const f = join(dir, `t${i}.yaml`);
    writeFileSync(f, `packages:\n${'  - aa\n'.repeat(8000)}${`# ${'x'.repeat(70)}\n`.repeat(7500)}`);
    files.push(f);
  }
  // Through sh, without NODE_OPTIONS: tap hooks the node processes a test spawns (its process-info
  // loader, with signal handlers of its own), and this test is about the tool's.
  const child = spawn('/bin/sh', ['-c', 'unset NODE_OPTIONS; exec "$0" "$@"', process.execPath, bin, ...files], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('close', (code, signal) => done({ code, signal })),
  );
  // Interrupt once it has surely started: 1 s of CPU (node and the tool load in a fraction of that).
  for (let i = 0; i < 600; i++) {
    const ticks = cpuTicks(child.pid!);
    if (ticks < 0 || ticks >= 100) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const sent = process.hrtime.bigint();
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const { code, signal } = await exited;
  clearTimeout(timer);
  const seconds = Number(process.hrtime.bigint() - sent) / 1e9;
  t.equal(signal, null, 'not killed');
  t.equal(code, 130, `exit 130 (${stderr.trim()})`);
  t.ok(seconds < 10, `within seconds of Ctrl-C (${seconds.toFixed(2)} s)`);
  t.match(stderr, /treefile-lint: interrupted \(SIGINT\)/);
  t.equal(stdout, '');
});
