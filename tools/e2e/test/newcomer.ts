/**
 * A newcomer's first command: every public make target, in a fresh clone (no node_modules, no
 * build/), must install what it needs (scripts/deps.sh) before it compiles or runs any tool.
 * `make -n` prints the commands in the order make would run them, so this costs seconds; the
 * real first build from a fresh clone is `make fresh-clone-test` (check-slow).
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from './fixtures/images.js';

// Commands that need the dependencies: the compiler, a compiled tool, the packaging, a VM, the Debian tools.
const WORK =
  /node_modules\/\.bin\/|\bnpx\b|tools\/[a-z0-9-]+\/dist\/|packaging\/(bundle\.mjs|build-debs\.sh|sea\.sh)|scripts\/(toolbox|run-vm|run-tests|check)\.sh|\bmmdebstrap\b|qemu-/;
const DEPS = /(^|\s)scripts\/deps\.sh(\s|$)/;

/** The tracked (and new, unignored) files of this checkout as they are now, without build outputs. */
function freshCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'newcomer-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    try {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      cpSync(join(ROOT, f), join(dir, f), { verbatimSymlinks: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // deleted in the work tree, not yet in git
    }
  }
  return dir;
}

/** What `make -n ARGS` would run, in order. A clean environment: no MAKEFLAGS from the make running this. */
export function dryRun(dir: string, args: string[]): { lines: string[]; status: number | null; stderr: string } {
  const env = { ...process.env };
  for (const k of ['MAKEFLAGS', 'MAKELEVEL', 'MFLAGS', 'MAKEOVERRIDES', 'VARIANT', 'FORMAT']) delete env[k];
  const r = spawnSync('make', ['-n', ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  return { lines: r.stdout.split('\n'), status: r.status, stderr: r.stderr };
}

const TARGETS: string[][] = [
  [],
  ['check'],
  ['boot-test-images'],
  ['VARIANT=server'],
  ['image', 'FORMAT=raw'],
  ['oci'],
  ['debs'],
  ['dist'],
  ['run'],
  ['serve'],
  ['lint'],
  ['test'],
  ['resolve'],
  ['plan', 'VARIANT=server'],
  ['rootfs'],
  ['install-debs'],
  ['hwdetect-apply'],
  ['usr-unify'],
  ['commit'],
  ['report'],
  ['boot-test'],
  ['update-test'],
  ['registry-test'],
  ['layering-test'],
  ['iso'],
  ['iso-test'],
  ['derived-test'],
  ['desktop-test'],
  ['check-slow'],
];

t.test('every public target installs its dependencies before any work, in a fresh clone', async (t) => {
  const dir = freshCopy();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const args of TARGETS) {
    const name = `make ${args.join(' ')}`.trim();
    const { lines, status, stderr } = dryRun(dir, args);
    t.equal(status, 0, `${name}: make -n succeeds${status ? `: ${stderr.slice(0, 300)}` : ''}`);
    const deps = lines.findIndex((l) => DEPS.test(l));
    const work = lines.findIndex((l) => WORK.test(l));
    t.ok(work >= 0, `${name}: does some work (first: ${lines[work]?.slice(0, 100)})`);
    t.ok(
      deps >= 0 && deps < work,
      `${name}: scripts/deps.sh (line ${deps}) runs before the first command that needs it (line ${work}: ${lines[work]?.slice(0, 100)})`,
    );
    t.notOk(
      lines.some((l) => /\bnpx tsc\b/.test(l)),
      `${name}: never npx tsc (npx fetches an unrelated "tsc" package when TypeScript is missing)`,
    );
  }
});

t.test('the check catches the old bug: a compile reached without deps', async (t) => {
  const dir = freshCopy();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Today's bug, put back: build/.tsc-stamp without its order-only dependency on deps.
  execFileSync('sed', ['-i', 's/^\\(build\\/\\.tsc-stamp: .*\\) | deps$/\\1/', join(dir, 'Makefile')]);
  const { lines } = dryRun(dir, []);
  const deps = lines.findIndex((l) => DEPS.test(l));
  const work = lines.findIndex((l) => WORK.test(l));
  t.ok(
    work >= 0 && (deps < 0 || deps > work),
    `without "| deps", make compiles first (deps at ${deps}, work at ${work})`,
  );
});
