import t from 'tap';
import { run, tailLines } from '../src/exec.js';
import { ToolError } from '../src/errors.js';

t.test('run returns stdout and stderr of a real command', async (t) => {
  const r = await run('sh', ['-c', 'echo out; echo err >&2']);
  t.equal(r.stdout, 'out\n');
  t.equal(r.stderr, 'err\n');
  t.equal(r.exitCode, 0);
  const withInput = await run('cat', [], { input: 'hello' });
  t.equal(withInput.stdout, 'hello');
});

t.test('a failing command becomes a ToolError with the tail of its stderr', async (t) => {
  const err = await run('sh', ['-c', 'echo first >&2; echo why it failed >&2; exit 3'], { what: 'testing' }).catch(
    (e: unknown) => e,
  );
  t.ok(err instanceof ToolError);
  const e = err as ToolError;
  t.equal(e.code, 'command-failed');
  t.match(e.summary, /^sh -c .* failed \(exit 3\) \(testing\)$/);
  t.match(e.detail, /why it failed/);
  t.equal(e.output, 'first\nwhy it failed\n', 'the full output is kept for callers');
});

t.test('a missing command names the package to install', async (t) => {
  const e = (await run('no-such-command-xyz', [], { providedBy: 'xyz-tools' }).catch((e: unknown) => e)) as ToolError;
  t.equal(e.code, 'missing-command');
  t.match(e.hint, /apt-get install xyz-tools/);
});

t.test('allowed exit codes are returned, not thrown', async (t) => {
  const r = await run('sh', ['-c', 'echo answer; exit 2'], { allowExitCodes: [1, 2] });
  t.equal(r.exitCode, 2);
  t.equal(r.stdout, 'answer\n');
  const e = (await run('sh', ['-c', 'exit 3'], { allowExitCodes: [1, 2] }).catch((e: unknown) => e)) as ToolError;
  t.equal(e.code, 'command-failed');
});

t.test('timeouts are reported', async (t) => {
  const e = (await run('sleep', ['5'], { timeout: 100 }).catch((e: unknown) => e)) as ToolError;
  t.equal(e.code, 'timeout');
});

t.test('tailLines keeps the last n lines', async (t) => {
  t.equal(tailLines('a\nb\nc\n', 2), 'b\nc');
  t.equal(tailLines('a', 5), 'a');
});
