/**
 * Reproducibility (issue "From treefile to OSTree commit"): two clean builds of
 * the variant with the same SOURCE_DATE_EPOCH and package set give the same
 * commit checksum. If they do not, the test fails listing which files differ.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { toolboxRun } from '@debian-atomic/lib';
import { ROOT, VARIANT } from './fixtures/images.js';

const tool = (name: string) => join(ROOT, 'tools', name, 'dist/bin.js');
const EPOCH = '1763812800';

function step(name: string, args: string[], input?: string): string {
  const r = spawnSync('node', [tool(name), '--quiet', ...args], { encoding: 'utf8', input, env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH }, cwd: ROOT });
  if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
  return r.stdout;
}

t.test(`${VARIANT}: two clean builds give the same commit`, async (t) => {
  const dir = join(ROOT, 'build', 'repro');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const treefile = step('treefile-lint', ['--resolve', join(ROOT, 'variants', `${VARIANT}.yaml`)]);
  const commits: string[] = [];
  for (const side of ['a', 'b']) {
    const tree = join(dir, side, 'rootfs');
    step('rootfs', ['--treefile', '-', '--output', tree], treefile);
    step('usr-unify', [tree]);
    commits.push(JSON.parse(step('ostree-commit', ['--repo', join(dir, side, 'repo'), tree])).commit as string);
  }
  if (commits[0] !== commits[1]) {
    // Which files differ: pull b's commit into a's repo and let ostree diff them.
    const repoA = join(dir, 'a', 'repo');
    await toolboxRun('ostree', [`--repo=${repoA}`, 'pull-local', join(dir, 'b', 'repo'), commits[1]!], { binds: [dir] });
    const diff = (await toolboxRun('ostree', [`--repo=${repoA}`, 'diff', commits[0]!, commits[1]!], { binds: [dir] })).stdout;
    t.fail(`commits differ: ${commits[0]} vs ${commits[1]}; files:\n${diff}`);
  } else t.pass(`both builds committed ${commits[0]}`);
});
