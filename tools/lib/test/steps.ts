import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StepRecordSchema, stepName, stepRecord } from '../src/steps.js';

// The environment without make's run: `make check` exports DEBIAN_ATOMIC_RUN/STEPS to what it runs.
const ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'DEBIAN_ATOMIC_RUN' && k !== 'DEBIAN_ATOMIC_STEPS'),
);

// The compiled library driven as a real tool process, as make runs the tools.
const lib = resolve(import.meta.dirname, '../dist/index.js');
// A dozen node processes: seconds each on a loaded 2-core machine.
t.setTimeout(300_000);

function tool(dir: string): string {
  const file = join(dir, 'demo.mjs');
  writeFileSync(
    file,
    `import { cli, runTool, usageError } from ${JSON.stringify(lib)};\n` +
      `await runTool('demo', async () => {\n` +
      `  const argv = await cli('demo', 'demo [--output FILE] [--exit N] [--sleep]').option('output', { type: 'string' }).option('exit', { type: 'number', default: 0 }).option('sleep', { type: 'boolean' }).parseAsync();\n` +
      `  if (argv.sleep) { process.stdout.write('ready\\n'); await new Promise((r) => setTimeout(r, 10000)); }\n` +
      `  if (argv.exit === 2) throw usageError('bad');\n` +
      `  process.stdout.write('{"data":true}\\n');\n` +
      `  return argv.exit;\n` +
      `});\n`,
  );
  return file;
}

const records = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => StepRecordSchema.parse(JSON.parse(l)));

t.test('a subcommand is part of the step; options and paths are not', async (t) => {
  t.equal(stepName('hwdetect', ['plan', '--any-hardware']), 'hwdetect plan');
  t.equal(stepName('atomic', ['install', 'htop']), 'atomic install');
  t.equal(stepName('treefile-lint', ['--resolve', 'variants/base.yaml']), 'treefile-lint');
  t.equal(stepName('usr-unify', ['build/base/rootfs']), 'usr-unify');
  t.equal(stepName('ostree-commit', []), 'ostree-commit');
});

t.test('a record: clipped arguments, --output in both spellings, no run id as null', async (t) => {
  const start = new Date('2026-12-07T08:00:00.000Z');
  const end = new Date('2026-12-07T08:01:08.250Z');
  const long = 'x'.repeat(1000);
  const r = stepRecord({
    tool: 'rootfs',
    argv: ['--output', 'build/base/rootfs', long, ...Array(70).fill('a')],
    run: '',
    start,
    end,
    exit: 0,
    stdout: null,
  });
  t.equal(r.seconds, 68.25);
  t.equal(r.output, 'build/base/rootfs');
  t.equal(r.run, null);
  t.equal(r.argv[2]!.length, 256);
  t.equal(r.argv.length, 65);
  t.equal(r.argv[64], '… 9 more');
  t.same(StepRecordSchema.parse(r), r);
  t.equal(
    stepRecord({
      tool: 'x',
      argv: ['--output=oci:build/base/oci:latest'],
      run: 'r1',
      start,
      end: start,
      exit: 1,
      stdout: null,
    }).output,
    'oci:build/base/oci:latest',
  );
  t.equal(
    stepRecord({ tool: 'x', argv: ['-o', 'plan.json'], run: 'r1', start, end: start, exit: 1, stdout: null }).output,
    'plan.json',
  );
});

t.test('with DEBIAN_ATOMIC_STEPS, each exit appends one line; stdout and exit codes stay as they were', async (t) => {
  const dir = t.testdir({});
  const f = tool(dir);
  const steps = join(dir, 'build/base/steps.ndjson');
  const env = { ...ENV, DEBIAN_ATOMIC_STEPS: steps, DEBIAN_ATOMIC_RUN: 'run-1' };
  const plain = spawnSync('node', [f, '--exit', '1'], { env: { ...ENV, DEBIAN_ATOMIC_STEPS: '' } });
  t.notOk(existsSync(steps), 'nothing recorded without the variable');

  const ok = spawnSync('node', [f, '--output', 'out.json', '--exit', '1'], { env });
  t.equal(ok.status, 1);
  t.equal(ok.stdout.toString(), plain.stdout.toString());
  t.equal(ok.stderr.toString(), '');
  const usage = spawnSync('node', [f, '--exit', '2'], { env });
  t.equal(usage.status, 2);
  const help = spawnSync('node', [f, '--help'], { env });
  t.equal(help.status, 0);

  // Standard output redirected to a file, as in a make recipe: the record names the file.
  const outFile = join(dir, 'rootfs.json.tmp');
  const fd = openSync(outFile, 'w');
  t.equal(spawnSync('node', [f], { env, stdio: ['ignore', fd, 'pipe'] }).status, 0);
  closeSync(fd);
  t.equal(readFileSync(outFile, 'utf8'), '{"data":true}\n');

  const rs = records(steps);
  t.same(
    rs.map((r) => [r.step, r.exit, r.run]),
    [
      ['demo', 1, 'run-1'],
      ['demo', 2, 'run-1'],
      ['demo', 0, 'run-1'],
      ['demo', 0, 'run-1'],
    ],
  );
  t.equal(rs[0]!.output, 'out.json');
  t.same(rs[0]!.argv, ['--output', 'out.json', '--exit', '1']);
  t.equal(rs[0]!.stdout, null, 'a pipe is not a file');
  t.equal(rs[3]!.stdout, outFile);
  t.ok(
    rs.every((r) => r.seconds > 0 && Date.parse(r.end) >= Date.parse(r.start)),
    'the process start counts: node is not free',
  );
});

t.test('an interrupted tool is recorded with 130', async (t) => {
  const dir = t.testdir({});
  const steps = join(dir, 'steps.ndjson');
  const child = spawn('node', [tool(dir), '--sleep'], { env: { ...ENV, DEBIAN_ATOMIC_STEPS: steps } });
  await new Promise<void>((r) => child.stdout.once('data', () => r()));
  child.kill('SIGINT');
  t.equal(await new Promise<number | null>((r) => child.on('exit', (c) => r(c))), 130);
  t.same(
    records(steps).map((r) => [r.exit, r.run]),
    [[130, null]],
  );
});

t.test('tools exiting at once (make -j) never interleave lines', async (t) => {
  const dir = t.testdir({});
  const f = tool(dir);
  const steps = join(dir, 'steps.ndjson');
  const n = 4;
  const argv = (i: number) => ['--output', `out-${i}-${'p'.repeat(200)}`];
  const codes = await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<number | null>((r) =>
          spawn('node', [f, ...argv(i)], { env: { ...ENV, DEBIAN_ATOMIC_STEPS: steps }, stdio: 'ignore' }).on(
            'exit',
            r,
          ),
        ),
    ),
  );
  t.same(codes, Array(n).fill(0));
  t.same(
    records(steps)
      .map((r) => r.output)
      .sort(),
    Array.from({ length: n }, (_, i) => argv(i)[1]).sort(),
  );
});

t.test('a steps file that cannot be written: one line on stderr, same stdout and exit code', async (t) => {
  const dir = t.testdir({ file: 'a regular file, not a directory' });
  const r = spawnSync('node', [tool(dir), '--exit', '1'], {
    env: { ...ENV, DEBIAN_ATOMIC_STEPS: join(dir, 'file/steps.ndjson') },
  });
  t.equal(r.status, 1);
  t.equal(r.stdout.toString(), '{"data":true}\n');
  t.match(r.stderr.toString(), /^demo: DEBIAN_ATOMIC_STEPS=.*file\/steps\.ndjson: step not recorded: /);
});
