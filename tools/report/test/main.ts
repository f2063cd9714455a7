import t, { type Test } from 'tap';
import { PassThrough } from 'node:stream';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '@debian-atomic/lib';
import { main } from '../src/main.js';
import { MANIFEST_IN_TREE } from '../src/commands.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

async function run(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr] = [new PassThrough(), new PassThrough()];
  const text = { stdout: '', stderr: '' };
  stdout.on('data', (c: Buffer) => (text.stdout += c.toString()));
  stderr.on('data', (c: Buffer) => (text.stderr += c.toString()));
  const code = await main(argv, { stdout, stderr, stdin: new PassThrough(), env });
  return { code, ...text };
}

async function failure(argv: string[]): Promise<ToolError> {
  try {
    await run(argv);
  } catch (err) {
    if (err instanceof ToolError) return err;
    throw err;
  }
  throw new Error(`no error from ${argv.join(' ')}`);
}

/** A build directory as make leaves it after `make commit`: step records, the tree's manifest, the stage outputs. */
function buildDir(t: Test): string {
  const dir = join(t.testdir({}), 'base');
  mkdirSync(join(dir, 'rootfs/usr/share/debian-atomic'), { recursive: true });
  cpSync(join(FIXTURES, 'packages.json'), join(dir, MANIFEST_IN_TREE));
  for (const f of ['steps.ndjson', 'rootfs.json', 'commit.json', 'oci.json']) cpSync(join(FIXTURES, f), join(dir, f));
  return dir;
}

t.test('writes report.json and report.html beside each other, the report on stdout', async (t) => {
  const dir = buildDir(t);
  const { code, stdout } = await run(['--quiet', dir]);
  t.equal(code, 0);
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  t.same(JSON.parse(stdout), report);
  t.equal(report.variant, 'base');
  t.equal(report.kind, 'BuildReport');
  t.equal(report.packages.count, 15);
  t.equal(report.packages.top.length, 15);
  t.equal(report.packages.other.count, 0);
  t.equal(report.stages.rootfs.packages, 225);
  t.match(report.stages.commit.ref, /^debian\/13\/x86_64\/base$/);
  t.equal(report.stages.oci.layers.length > 0, true);
  t.same(
    readdirSync(dir).filter((f) => f.startsWith('.')),
    [],
    'no temporary file left beside them',
  );
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  t.match(html, /<h1>Build report: base<\/h1>/);
  t.match(html, /linux-image-6\.12\.117\+deb13-amd64/);
});

t.test('the run: --run, else DEBIAN_ATOMIC_RUN, else the last recorded', async (t) => {
  const dir = buildDir(t);
  const lines = readFileSync(join(dir, 'steps.ndjson'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const first = lines[0].run,
    last = lines.at(-1).run;
  t.equal(JSON.parse((await run(['--quiet', dir])).stdout).run, last);
  t.equal(JSON.parse((await run(['--quiet', dir], { DEBIAN_ATOMIC_RUN: first })).stdout).run, first);
  t.equal(JSON.parse((await run(['--quiet', dir], { DEBIAN_ATOMIC_RUN: '' })).stdout).run, last, 'empty is unset');
  t.equal(JSON.parse((await run(['--quiet', '--run', first, dir], { DEBIAN_ATOMIC_RUN: last })).stdout).run, first);
});

t.test('--top, --output-dir, --steps and --packages elsewhere', async (t) => {
  const dir = buildDir(t);
  const out = join(dir, '../out');
  const r = JSON.parse(
    (
      await run([
        '--quiet',
        '--top',
        '3',
        '--output-dir',
        out,
        '--steps',
        join(FIXTURES, 'steps.ndjson'),
        '--packages',
        join(FIXTURES, 'packages.json'),
        dir,
      ])
    ).stdout,
  );
  t.equal(r.packages.top.length, 3);
  t.equal(r.packages.other.count, 12);
  t.equal(r.packages.manifest, join(FIXTURES, 'packages.json'));
  t.same(readdirSync(out).sort(), ['report.html', 'report.json']);
});

t.test('a build that has just begun: no steps, no tree yet (warnings, an empty report)', async (t) => {
  const dir = join(t.testdir({}), 'fresh');
  mkdirSync(dir);
  const { stdout, stderr } = await run([dir]);
  const r = JSON.parse(stdout);
  t.same([r.steps, r.packages, r.stages, r.run], [[], null, {}, null]);
  t.match(stderr, /^report: warning: .*steps\.ndjson: no step records yet$/m);
  t.match(stderr, /^report: warning: .*packages\.json: no package manifest yet$/m);
  t.equal((await run(['--quiet', dir])).stderr, '', '--quiet: none');
  t.match(readFileSync(join(dir, 'report.html'), 'utf8'), /No steps recorded yet/);
});

t.test('bad inputs: exit 2, file:line:col', async (t) => {
  const dir = buildDir(t);
  const steps = readFileSync(join(FIXTURES, 'steps.ndjson'), 'utf8').split('\n');
  writeFileSync(
    join(dir, 'steps.ndjson'),
    [steps[0], steps[1]!.replace('"exit":0', '"exit":"zero"'), ...steps.slice(2)].join('\n'),
  );
  let e = await failure([dir]);
  t.equal(e.exitCode, 2);
  t.match(e.summary, new RegExp(`^invalid step record: .*steps\\.ndjson:2:\\d+: exit: `));

  writeFileSync(join(dir, 'steps.ndjson'), `${steps[0]}\n\n{"step": "rootfs",\n`);
  e = await failure([dir]);
  t.match(e.summary, /steps\.ndjson:3:\d+: YAML syntax/);

  writeFileSync(join(dir, 'steps.ndjson'), `${steps[0]}\n${steps[0]!.replace('"step"', '"stpe"')}\n`);
  e = await failure([dir]);
  t.match(e.summary, /steps\.ndjson:2:\d+: /);

  writeFileSync(join(dir, 'steps.ndjson'), steps.join('\n'));
  writeFileSync(
    join(dir, MANIFEST_IN_TREE),
    '[\n  {"name": "bash", "version": "5.2", "architecture": "amd64", "installedSizeKiB": -1}\n]\n',
  );
  e = await failure([dir]);
  t.equal(e.exitCode, 2);
  t.match(e.summary, /^invalid package manifest: .*packages\.json:2:\d+: 0\.installedSizeKiB|installedSizeKiB/);

  cpSync(join(FIXTURES, 'packages.json'), join(dir, MANIFEST_IN_TREE));
  writeFileSync(join(dir, 'commit.json'), '{"ref": 13}\n');
  e = await failure([dir]);
  t.match(e.summary, /^invalid commit output: .*commit\.json:1:\d+: /);

  t.equal((await failure([join(dir, 'missing')])).exitCode, 2);
  t.match(
    (await failure(['--packages', join(dir, 'nope.json'), dir])).summary,
    /nope\.json: cannot read package manifest: no such file/,
  );
  t.equal((await failure(['--top', '0', dir])).exitCode, 2);
  t.equal((await failure([])).exitCode, 2);
});

t.test('schema prints the JSON Schema of each document', async (t) => {
  for (const doc of ['report', 'step', 'packages']) {
    const { code, stdout } = await run(['schema', doc]);
    t.equal(code, 0);
    const schema = JSON.parse(stdout);
    t.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    t.match(schema.type, doc === 'packages' ? 'array' : 'object');
  }
  t.ok(JSON.parse((await run(['schema', 'report'])).stdout).properties.steps, 'the report has steps');
});
