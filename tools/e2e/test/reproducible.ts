/**
 * Reproducibility (issue "From treefile to OSTree commit"): two clean builds of
 * the variant with the same SOURCE_DATE_EPOCH and package set give the same
 * commit checksum. If they do not, the test fails listing which files differ.
 * Each build is the Makefile's own pipeline (make commit, every step of it,
 * hwdetect's included) into a build directory and repository of its own.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { toolboxRun } from '@debian-atomic/lib';
import { ROOT, VARIANT } from './fixtures/images.js';

const EPOCH = '1763812800';

/** make commit of the variant into BUILD=dir (its repository in dir/repo); the commit it made. */
function makeCommit(dir: string): string {
  const r = spawnSync(
    'make',
    [
      '--no-print-directory',
      '-C',
      ROOT,
      `VARIANT=${VARIANT}`,
      `BUILD=${dir}`,
      `REPO=${join(dir, 'repo')}`,
      `SOURCE_DATE_EPOCH=${EPOCH}`,
      'commit',
    ],
    {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    },
  );
  if (r.status !== 0) throw new Error(`make commit BUILD=${dir} failed (${r.status}): ${r.stderr.slice(-4000)}`);
  return (JSON.parse(readFileSync(join(dir, 'commit.json'), 'utf8')) as { commit: string }).commit;
}

t.test(`${VARIANT}: two clean builds give the same commit`, async (t) => {
  const dir = join(ROOT, 'build', 'repro');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const commits = ['a', 'b'].map((side) => makeCommit(join(dir, side)));
  if (commits[0] !== commits[1]) {
    // Which files differ: pull b's commit into a's repo and let ostree diff them.
    const repoA = join(dir, 'a', 'repo');
    await toolboxRun('ostree', [`--repo=${repoA}`, 'pull-local', join(dir, 'b', 'repo'), commits[1]!], {
      binds: [dir],
    });
    const diff = (await toolboxRun('ostree', [`--repo=${repoA}`, 'diff', commits[0]!, commits[1]!], { binds: [dir] }))
      .stdout;
    t.fail(`commits differ: ${commits[0]} vs ${commits[1]}; files:\n${diff}`);
  } else t.pass(`both builds committed ${commits[0]}`);
});
