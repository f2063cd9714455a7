/**
 * The Makefile's side of the report, read from `make -n` (prints the recipes, runs none): the
 * tool calls of the stage recipes record steps into the variant's steps.ndjson, nothing else
 * does (the packaging's --help runs, lint), and the targets people run end with the report.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { PIPELINE } from '../src/report.js';

const ROOT = resolve(import.meta.dirname, '../../..');

function dryRun(args: string[]): string[] {
  const env = { ...process.env };
  for (const k of [
    'MAKEFLAGS',
    'MAKELEVEL',
    'MFLAGS',
    'VARIANT',
    'FORMAT',
    'NODE',
    'DEBIAN_ATOMIC_RUN',
    'DEBIAN_ATOMIC_STEPS',
  ])
    delete env[k];
  // -B: every recipe, as on a first build, whatever this checkout's build/ holds.
  const r = spawnSync('make', ['-n', '-B', '--no-print-directory', ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`make -n ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.split('\n');
}

t.test('make commit: the stage tools record into build/server/steps.ndjson, the report comes last', async (t) => {
  const lines = dryRun(['commit', 'VARIANT=server']);
  const steps = `DEBIAN_ATOMIC_STEPS=${ROOT}/build/server/steps.ndjson `;
  for (const tool of ['treefile-lint', 'rootfs', 'usr-unify', 'ostree-commit']) {
    const line = lines.find((l) => l.includes(`tools/${tool}/dist/bin.js`));
    t.ok(line?.startsWith(steps), `${tool} records its step: ${line}`);
  }
  const hwdetect = lines.filter((l) => l.includes('tools/hwdetect/dist/bin.js'));
  t.equal(hwdetect.length, 2, 'plan and apply');
  t.ok(
    hwdetect.every((l) => l.startsWith(steps)),
    'the hwdetect steps record theirs',
  );
  const unrecorded = lines.filter((l) => /packaging\/|scripts\/|node_modules\/\.bin\/tsc/.test(l));
  t.ok(unrecorded.length > 0);
  t.notOk(
    unrecorded.some((l) => l.includes('DEBIAN_ATOMIC_STEPS')),
    'not the packaging (its --help runs), the compiler, the toolbox',
  );
  t.match(lines.filter(Boolean).at(-1), /^node tools\/report\/dist\/bin\.js --quiet build\/server >\/dev\/null$/);
  // Every recorded step (the tool and its subcommand, as the record names it) has its place in
  // the report's pipeline order, in the order make runs them.
  const recorded = lines
    .filter((l) => l.startsWith(steps))
    .map((l) => /tools\/([\w-]+)\/dist\/bin\.js(?: ([a-z][\w-]*))?/.exec(l))
    .map((m) => (m?.[2] && ['hwdetect', 'rootfs'].includes(m[1]!) ? `${m[1]} ${m[2]}` : m?.[1]));
  t.same(
    recorded,
    PIPELINE.filter((s) => recorded.includes(s)),
    `${recorded.join(', ')}: in PIPELINE, in its order`,
  );
});

t.test('make image, make oci end with the report; lint records nothing', async (t) => {
  for (const target of ['image', 'oci'])
    t.match(
      dryRun([target]).filter(Boolean).at(-1),
      /tools\/report\/dist\/bin\.js --quiet build\/base /,
      `make ${target}`,
    );
  t.notOk(dryRun(['lint']).some((l) => l.includes('DEBIAN_ATOMIC_STEPS')));
  t.match(
    dryRun(['report']).join('\n'),
    /^DEBIAN_ATOMIC_RUN= node tools\/report\/dist\/bin\.js --quiet build\/base /m,
    'make report: the last recorded run',
  );
});
