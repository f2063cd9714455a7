import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { writeFileSync } from 'node:fs';

// The compiled library (built before tests) driven as a real tool process.
const lib = resolve(import.meta.dirname, '../dist/index.js');

function tool(dir: string, body: string): string {
  const file = join(dir, 'tool.mjs');
  writeFileSync(
    file,
    `import { cli, runTool, ToolError, onInterrupt } from ${JSON.stringify(lib)};\n` +
      `await runTool('demo', async () => {\n` +
      `  const argv = await cli('demo', 'demo [--fail] FILE').option('fail', { type: 'string' }).option('need', { type: 'string', requiresArg: true }).parseAsync();\n` +
      body +
      `\n});\n`,
  );
  return file;
}

t.test('exit codes and clean error lines', async (t) => {
  const dir = t.testdir({});
  const f = tool(
    dir,
    `if (argv.fail === 'user') throw new ToolError('x', 'bad input here', { hint: 'fix it' });
  if (argv.fail === 'bug') throw new TypeError('oops');
  if (argv.fail === 'findings') return 1;
  if (argv.fail === 'sleep') { onInterrupt(() => process.stderr.write('cleaned\\n')); process.stdout.write('ready\\n'); await new Promise((r) => setTimeout(r, 10000)); }
  process.stdout.write(JSON.stringify({ ok: true }) + '\\n'); return 0;`,
  );
  const ok = spawnSync('node', [f]);
  t.equal(ok.status, 0);
  t.equal(ok.stdout.toString(), '{"ok":true}\n');
  t.equal(ok.stderr.toString(), '');

  const user = spawnSync('node', [f, '--fail', 'user']);
  t.equal(user.status, 1);
  t.equal(user.stderr.toString(), 'demo: bad input here\n  hint: fix it\n');
  t.equal(user.stdout.toString(), '');

  const bug = spawnSync('node', [f, '--fail', 'bug']);
  t.equal(bug.status, 1);
  t.match(bug.stderr.toString(), /internal error: oops/);
  t.notMatch(bug.stderr.toString(), /\n\s+at /);
  t.match(spawnSync('node', [f, '--fail', 'bug', '--debug']).stderr.toString(), /\n\s+at /);

  t.equal(spawnSync('node', [f, '--fail', 'findings']).status, 1);

  const usage = spawnSync('node', [f, '--no-such-flag']);
  t.equal(usage.status, 2);
  t.match(usage.stderr.toString(), /^demo: Unknown argument/);

  // An option without its value is the user's mistake, not the tool's: exit 2, no "internal error".
  const missing = spawnSync('node', [f, '--need']);
  t.equal(missing.status, 2);
  t.match(missing.stderr.toString(), /^demo: Not enough arguments following: need\n  hint: see 'demo --help'/);
  t.notMatch(missing.stderr.toString(), /internal error|please report/);

  const help = spawnSync('node', [f, '--help']);
  t.equal(help.status, 0);
  t.match(help.stdout.toString(), /demo \[--fail\] FILE/);
});

t.test("'--opt -' keeps '-' as the option's value", async (t) => {
  const { joinDashValues } = await import('../src/cli.js');
  t.same(joinDashValues(['--treefile', '-', '--output', 'x', '-']), ['--treefile=-', '--output', 'x', '-']);
  t.same(joinDashValues(['--a=b', '-']), ['--a=b', '-']);
});

t.test('SIGINT runs cleanups and exits 130', async (t) => {
  const dir = t.testdir({});
  const f = tool(
    dir,
    `onInterrupt(() => process.stderr.write('cleaned\\n')); process.stdout.write('ready\\n'); await new Promise((r) => setTimeout(r, 10000)); return 0;`,
  );
  const { spawn } = await import('node:child_process');
  const child = spawn('node', [f]);
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise<void>((r) => child.stdout.once('data', () => r()));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  t.equal(code, 130);
  t.match(err, /interrupted \(SIGINT\)/);
  t.match(err, /cleaned/);
});
