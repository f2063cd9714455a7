/**
 * Hostile input for rootfs, as an attacker or a careless user would give it: the real tool
 * (dist/bin.js), one process per case, capped in time and memory (tools/lib's harness). Every
 * case must be refused by the checks before the build: PATH is empty, so a case that got as far
 * as mmdebstrap would fail with "not found" instead of building (and fail its exit code).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { cpuTicks, hostileSuite, type HostileCase } from '../../lib/test/fixtures/hostile.js';
import { readTreefileInput } from '../src/inputs.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (tsc -b tools/rootfs)`);
t.setTimeout(300_000);

/** A resolved treefile whose files are relative to the case's directory (its cwd). */
const TF = {
  ref: 'debian/13/x86_64/test',
  suite: 'trixie',
  architecture: 'amd64',
  'mmdebstrap-variant': 'apt',
  osname: 'debian',
  repos: [{ mirror: 'http://deb.debian.org/debian', suite: 'trixie', components: ['main'], keyring: 'k.gpg' }],
  packages: ['systemd'],
};
const json = (over: Record<string, unknown> = {}) => JSON.stringify({ ...TF, ...over });
const args = (treefile = 'tf.json', output = '{dir}/out') => [
  '--treefile',
  treefile,
  '--output',
  output,
  '--cache',
  '{dir}/cache',
  '--quiet',
];
const base = { 'k.gpg': 'an OpenPGP keyring\n' };
const env = { PATH: '/nonexistent' };
/** No build started: no output, no temp sibling of it, no cache. */
const nothingBuilt = (dir: string) => {
  const left = readdirSync(dir).filter((f) => f === 'out' || f.startsWith('.out.') || f === 'cache');
  if (left.length) throw new Error(`build work was done: ${left.join(', ')}`);
};
const c = (x: Omit<HostileCase, 'env' | 'after'> & { after?: HostileCase['after'] }): HostileCase => ({
  env,
  after: nothingBuilt,
  ...x,
  files: { ...base, ...x.files },
});

const cases: HostileCase[] = [
  // Unbounded reads: the treefile and every file it names are bounded regular files.
  c({
    name: 'read: --treefile is a FIFO',
    args: args(),
    files: { 'tf.json': { fifo: true } },
    exit: 2,
    stderr: /^rootfs: tf\.json: cannot read treefile: a FIFO, expected a regular file\n/,
  }),
  c({
    name: 'read: --treefile /dev/zero',
    args: args('/dev/zero'),
    exit: 2,
    stderr: /\/dev\/zero: cannot read treefile: a character device/,
  }),
  c({
    name: 'read: a 50 MB --treefile',
    args: args(),
    files: { 'tf.json': Buffer.alloc(50 << 20, ' ') },
    exit: 2,
    stderr: /tf\.json: treefile larger than 4194304 bytes, refusing to read it/,
  }),
  c({
    name: 'read: 50 MB on standard input',
    args: args('-'),
    stdin: Buffer.alloc(50 << 20, ' '),
    exit: 2,
    stderr: /^rootfs: -: standard input larger than 4194304 bytes/,
  }),
  c({
    name: 'read: an add-files source that is a FIFO',
    args: args(),
    files: { 'tf.json': json({ 'add-files': [['motd', '/etc/motd']] }), motd: { fifo: true } },
    exit: 2,
    stderr: /^rootfs: motd: cannot read add-files source: a FIFO, expected a regular file\n/,
  }),
  c({
    name: 'read: /dev/zero as an add-files source',
    args: args(),
    files: { 'tf.json': json({ 'add-files': [['/dev/zero', '/etc/motd']] }) },
    exit: 2,
    stderr: /\/dev\/zero: cannot read add-files source: a character device, expected a regular file/,
  }),
  c({
    name: 'read: a postprocess-script that is a FIFO',
    args: args(),
    files: { 'tf.json': json({ 'postprocess-script': 'post.sh' }), 'post.sh': { fifo: true } },
    exit: 2,
    stderr: /post\.sh: cannot read postprocess-script: a FIFO/,
  }),
  c({
    name: 'read: /dev/urandom as the postprocess-script',
    args: args(),
    files: { 'tf.json': json({ 'postprocess-script': '/dev/urandom' }) },
    exit: 2,
    stderr: /\/dev\/urandom: cannot read postprocess-script: a character device/,
  }),
  c({
    name: 'read: a keyring that does not exist (found only deep into the build)',
    args: args(),
    files: { 'tf.json': json({ repos: [{ ...TF.repos[0], keyring: 'nope.gpg' }] }) },
    exit: 2,
    stderr: /nope\.gpg: cannot read keyring of http:\/\/deb\.debian\.org\/debian: no such file/,
  }),
  c({
    name: 'read: a keyring that is a FIFO, and every other problem too',
    args: args(),
    files: {
      'tf.json': json({ 'add-files': [['m', '/etc/m']], repos: [{ ...TF.repos[0], keyring: 'fifo.gpg' }] }),
      'fifo.gpg': { fifo: true },
    },
    exit: 2,
    stderr: /^rootfs: m: cannot read add-files source: no such file\n {2}fifo\.gpg: cannot read keyring of \S+: a FIFO/,
  }),

  // Injection: strings that land in sources.list lines or the kernel command line.
  c({
    name: 'injection: a newline in kernel-args',
    args: args(),
    files: { 'tf.json': json({ 'kernel-args': ['quiet\ninit=/bin/sh'] }) },
    exit: 2,
    stderr: /not a resolved treefile\n {2}kernel-args\.0: a kernel argument must be one word: it contains a newline/,
  }),
  c({
    name: 'size: 100,000 unknown keys make a short message, not a megabyte',
    args: args(),
    files: {
      'tf.json': JSON.stringify({
        ...TF,
        ...Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`unknown-key-${i}`, 1])),
      }),
    },
    exit: 2,
    stderr: /^rootfs: tf\.json: not a resolved treefile\n( {2}[^\n]{1,210}\n){1,6} {2}hint: /,
  }),
  c({
    name: 'structure: JSON nested 1,000,000 deep (zod overflowed the stack)',
    args: args(),
    files: {
      'tf.json': json({ 'add-commit-metadata': { x: '#' } }).replace('"#"', `${'['.repeat(1e6)}${']'.repeat(1e6)}`),
    },
    exit: 2,
    stderr: /tf\.json: JSON nested deeper than 64 levels/,
  }),
  c({
    name: 'structure: not JSON, with a terminal escape sequence (not echoed raw)',
    args: args(),
    files: { 'tf.json': '\u001b]2;owned\u0007\u001b[2J' },
    exit: 2,
    stderr:
      /^rootfs: tf\.json: not JSON \([^\u0000-\u0009\u000b-\u001f]*\); give the output of treefile-lint --resolve\n$/,
  }),

  // Outputs: --output and --cache must be directories (or absent), never / or a file.
  c({
    name: 'usage: --output names a file (it would be replaced by a tree)',
    args: args('tf.json', '{dir}/precious'),
    files: { 'tf.json': json(), precious: 'keep me\n' },
    exit: 2,
    stderr: /--output \S*precious: exists and is not a directory/,
    after: (dir) => {
      if (readFileSync(`${dir}/precious`, 'utf8') !== 'keep me\n') throw new Error('the file was changed');
    },
  }),
  c({
    name: 'usage: --output /',
    args: args('tf.json', '/'),
    files: { 'tf.json': json() },
    exit: 2,
    stderr: /--output \/: refusing to replace the root directory/,
  }),
  c({
    name: 'usage: --cache names a file',
    args: ['--treefile', 'tf.json', '--output', '{dir}/out', '--cache', '{dir}/k.gpg'],
    files: { 'tf.json': json() },
    exit: 2,
    stderr: /--cache \S*k\.gpg: exists and is not a directory/,
  }),
];

t.test('hostile input', async (t) => {
  await hostileSuite(t, bin, cases);
});

/** The same schema, in-process: what would reach a sources line, the kernel command line or the tree. */
const GRAMMAR: [name: string, over: Record<string, unknown>, message: RegExp][] = [
  [
    'injection: a mirror URL that adds a sources line',
    {
      repos: [
        { ...TF.repos[0], mirror: 'http://deb.debian.org/debian trixie main\ndeb [trusted=yes] http://evil/ sid' },
      ],
    },
    /repos\.0\.mirror: not a valid mirror URL .*: a URL must not contain white space or control characters/,
  ],
  [
    'injection: a keyring path that closes [signed-by=]',
    { repos: [{ ...TF.repos[0], keyring: 'k.gpg] [trusted=yes' }] },
    /repos\.0\.keyring: a keyring path must not contain white space or "\]"/,
  ],
  [
    'injection: a suite with a second sources line',
    { repos: [{ ...TF.repos[0], suite: 'trixie main\ndeb http://evil/ sid' }] },
    /repos\.0\.suite: not a valid suite name/,
  ],
  [
    'injection: a package name with a comma (mmdebstrap --include)',
    { packages: ['systemd,evil'] },
    /packages\.0: not a valid Debian package name/,
  ],
  [
    'injection: a tab in a remove-files path',
    { 'remove-files': ['usr/share/doc\t'] },
    /remove-files\.0: a path must be one line: it contains a tab/,
  ],
  ['size: a 3 MB ref', { ref: 'a'.repeat(3 << 20) }, /^ref: longer than 256 characters$/m],
  [
    'size: a 2 MB inline postprocess script',
    { postprocess: [`#!/bin/sh\n${'#'.repeat(2 << 20)}`] },
    /postprocess\.0: an inline postprocess script is longer than 1048576 characters/,
  ],
];

t.test('the grammar of the resolved treefile, one message each (in-process)', async (t) => {
  for (const [name, over, message] of GRAMMAR) {
    const dir = t.testdir({ 'tf.json': json(over) });
    const err = (await readTreefileInput(join(dir, 'tf.json')).then(
      () => null,
      (e: unknown) => e,
    )) as { exitCode: number; detail: string } | null;
    t.equal(err?.exitCode, 2, name);
    t.match(err?.detail, message, name);
  }
});

/** CPU time (user + system) of a process in clock ticks, or -1 once it is gone. */

t.test('Ctrl-C while it waits on a standard input that never ends: exit 130 at once', async (t) => {
  // Through sh, without NODE_OPTIONS: tap hooks the node processes a test spawns (its process-info
  // loader, with signal handlers of its own), and this test is about the tool's.
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      'unset NODE_OPTIONS; exec "$0" "$@"',
      process.execPath,
      bin,
      '--treefile',
      '-',
      '--output',
      '/nonexistent/out',
      '--cache',
      '/nonexistent/cache',
    ],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.write('{"ref": ');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('close', (code, signal) => done({ code, signal })),
  );
  // Started and idle: its CPU time stops growing once it blocks on the pipe.
  let last = -2;
  for (let i = 0; i < 300; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = cpuTicks(child.pid!);
    if (now < 0 || (now === last && now > 0)) break;
    last = now;
  }
  const sent = process.hrtime.bigint();
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const { code, signal } = await exited;
  clearTimeout(timer);
  const seconds = Number(process.hrtime.bigint() - sent) / 1e9;
  t.equal(signal, null, 'not killed');
  t.equal(code, 130, `exit 130 (${stderr.trim()})`);
  t.ok(seconds < 5, `promptly (${seconds.toFixed(2)} s)`);
  t.match(stderr, /rootfs: interrupted \(SIGINT\)/);
  t.equal(stdout, '');
});
