/**
 * The single executables (packaging/sea.sh, `make dist`): dist/debian-atomic and its links
 * dist/<tool>. Each answers --help through its link and through `debian-atomic TOOL`, and
 * runs one real invocation (shipped.ts). Uses the host's ostree or the toolbox, as the tools do.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { prepareWork, realInvocations, ROOT, tempWork, TOOLS, type Runner } from './fixtures/shipped.js';

const dist = process.env.DEBIAN_ATOMIC_DIST ?? join(ROOT, 'dist');
const multi = join(dist, 'debian-atomic');
if (!existsSync(multi)) throw new Error(`${multi}: missing: run 'make dist' first`);

const run: Runner = (tool, args, env = {}) => {
  const r = spawnSync(join(dist, tool), args, {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

t.test('one file that carries node: no node_modules, no node on PATH needed', async (t) => {
  t.ok(statSync(multi).size > 50e6, `size ${statSync(multi).size}`);
  const r = spawnSync(multi, ['treefile-lint', '--help'], { encoding: 'utf8', env: { PATH: '/nonexistent' } });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^treefile-lint \[--resolve\]/);
});

t.test("the tests' tool list is what packaging ships (tools.mjs)", async (t) => {
  const shipped = (await import(join(ROOT, 'packaging/tools.mjs'))) as { TOOLS: Record<string, unknown> };
  t.same([...TOOLS], Object.keys(shipped.TOOLS));
});

t.test('debian-atomic alone, --help, and an unknown tool', async (t) => {
  const none = spawnSync(multi, [], { encoding: 'utf8' });
  t.equal(none.status, 2);
  t.match(none.stderr, /usage: debian-atomic TOOL/);
  const help = spawnSync(multi, ['--help'], { encoding: 'utf8' });
  t.equal(help.status, 0);
  t.match(help.stdout, TOOLS.join(', '));
  const bad = spawnSync(multi, ['nope'], { encoding: 'utf8' });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /debian-atomic: nope: no such tool/);
});

for (const tool of TOOLS) {
  t.test(`${tool} --help (link and first argument)`, async (t) => {
    const viaLink = run(tool, ['--help']);
    t.equal(viaLink.status, 0, viaLink.stderr);
    t.match(viaLink.stdout, new RegExp(`^${tool} `));
    const viaArg = spawnSync(multi, [tool, '--help'], { encoding: 'utf8' });
    t.equal(viaArg.stdout, viaLink.stdout);
    const usage = run(tool, ['--no-such-option']);
    t.equal(usage.status, 2, 'usage error → 2');
  });
}

t.test('real invocations', async (t) => {
  const { dir, cleanup } = await tempWork();
  t.teardown(cleanup);
  await prepareWork(dir);
  for (const inv of realInvocations(dir)) t.test(`${inv.tool}: ${inv.what}`, async (t) => inv.check(run, t));
});
