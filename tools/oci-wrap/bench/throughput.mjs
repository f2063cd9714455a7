#!/usr/bin/env node
/**
 * oci-wrap against `tar -c | gzip -1` of the same tree, in one run, and the
 * number of layers a one-package update changes (with --previous).
 *
 *   node tools/oci-wrap/bench/throughput.mjs [REPO] [REF]
 * (default build/repo debian/13/x86_64/base; the build must be done: make commit)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { toolboxRun } from '@debian-atomic/lib';

const here = import.meta.dirname;
const repo = resolve(process.argv[2] ?? join(here, '../../../build/repo'));
const ref = process.argv[3] ?? 'debian/13/x86_64/base';
const bin = join(here, '../dist/bin.js');
const work = mkdtempSync(join(resolve(repo, '..'), '.oci-bench-'));
const ostree = async (...args) => (await toolboxRun('ostree', args, { binds: [repo, work] })).stdout;
const now = () => performance.now() / 1000;
const mb = (b) => (b / 1e6).toFixed(0);

try {
  const checkout = join(work, 'tree');
  await ostree(`--repo=${repo}`, 'checkout', ref, checkout);

  // CPU seconds (user + sys, children included) beside the wall clock: on a shared machine
  // the wall clock says as much about the other load as about the program.
  const cpu = (file) =>
    readFileSync(file, 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number)
      .reduce((a, b) => a + b, 0);
  // Both sides read from the page cache: the checkout was just written; read the repo's objects once.
  execFileSync('bash', ['-c', `tar -C '${repo}/objects' -c . > /dev/null`]);
  let t0 = now();
  execFileSync('/usr/bin/time', [
    '-o',
    join(work, 'tar.cpu'),
    '-f',
    '%U %S',
    'bash',
    '-c',
    `tar -C '${checkout}' -c . | gzip -1 > '${work}/tree.tar.gz'`,
  ]);
  const tarSeconds = now() - t0;
  const tarBytes = Number(execFileSync('bash', ['-c', `tar -C '${checkout}' -c . | wc -c`], { encoding: 'utf8' }));

  t0 = now();
  const r = spawnSync(
    '/usr/bin/time',
    [
      '-o',
      join(work, 'wrap.cpu'),
      '-f',
      '%U %S',
      'node',
      bin,
      '--quiet',
      '--repo',
      repo,
      '--ref',
      ref,
      '--output',
      `oci:${work}/image:v1`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  const wrapSeconds = now() - t0;
  const wrap = JSON.parse(r.stdout);
  const [tarCpu, wrapCpu] = [cpu(join(work, 'tar.cpu')), cpu(join(work, 'wrap.cpu'))];

  console.log(
    `tree: ${mb(tarBytes)} MB as tar; ${wrap.layers.length} layers, ${mb(wrap.bytes)} MB of layer tar (objects + hardlinks), ${availableParallelism()} CPUs`,
  );
  console.log(`load average (1, 5, 15 min): ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  console.log(
    `tar -c | gzip -1 : ${tarSeconds.toFixed(1)} s  ${(tarBytes / 1e6 / tarSeconds).toFixed(1)} MB/s  (${tarCpu.toFixed(1)} CPU s)`,
  );
  console.log(
    `oci-wrap (gzip 1): ${wrapSeconds.toFixed(1)} s  ${(tarBytes / 1e6 / wrapSeconds).toFixed(1)} MB/s of the same tree  (${wrapCpu.toFixed(1)} CPU s)`,
  );
  console.log(
    `throughput: ${(tarSeconds / wrapSeconds).toFixed(2)}× tar|gzip by the wall clock, ${(tarCpu / wrapCpu).toFixed(2)}× by CPU time (goal ≥ 0.8×)`,
  );

  // A one-package update: change a file of the package owning usr/bin/ls and the dpkg status, commit, re-wrap.
  const local = join(work, 'repo');
  await ostree(`--repo=${local}`, 'init', '--mode=archive');
  await ostree(`--repo=${local}`, 'pull-local', repo, ref);
  const owner = execFileSync(
    'grep',
    ['-l', '-x', '-E', '/(usr/)?bin/ls', '-r', join(checkout, 'usr/lib/sysimage/dpkg/info'), '--include=*.list'],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n')[0];
  const pkg = owner.replace(/^.*\//, '').replace(/(:[a-z0-9]+)?\.list$/, '');
  appendFileSync(join(checkout, 'usr/bin/ls'), Buffer.from('\0updated'));
  writeFileSync(
    join(checkout, 'usr/lib/sysimage/dpkg/status'),
    readFileSync(join(checkout, 'usr/lib/sysimage/dpkg/status'), 'utf8').replace(
      `Package: ${pkg}\n`,
      `Package: ${pkg}\nX-Bench: updated\n`,
    ),
  );
  await ostree(
    `--repo=${local}`,
    'commit',
    `--branch=${ref}`,
    `--tree=dir=${checkout}`,
    '--timestamp=2026-01-01T00:00:00Z',
    '--no-xattrs',
  );
  const v2 = spawnSync(
    'node',
    [
      bin,
      '--quiet',
      '--repo',
      local,
      '--ref',
      ref,
      '--output',
      `oci:${work}/image:v2`,
      '--previous',
      `oci:${work}/image:v1`,
    ],
    { encoding: 'utf8' },
  );
  if (v2.status !== 0) throw new Error(v2.stderr);
  const update = JSON.parse(v2.stdout);
  const layerOf = update.layers.findIndex((l) => l.components.includes(pkg));
  console.log(
    `one-package update (${pkg}, layer ${layerOf + 1} of ${update.layers.length}): ${update.changedLayers} layers changed (goal ≤ 2)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
