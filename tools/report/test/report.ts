import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSteps, readManifest } from '../src/inputs.js';
import { buildReport, currentRun, packageSizes, PIPELINE, ReportSchema, stepRows } from '../src/report.js';

// Real step records of two `make commit` runs of the base variant (the first built everything,
// the second found everything up to date but the resolve step make always runs).
const STEPS = join(import.meta.dirname, 'fixtures/steps.ndjson');
const records = parseSteps(STEPS, readFileSync(STEPS, 'utf8'));
const FIRST = records[0]!.run!;
const SECOND = records.at(-1)!.run!;

t.test('the fixture is two runs', async (t) => {
  t.not(FIRST, SECOND);
  t.same([...new Set(records.map((r) => r.step))], ['treefile-lint', 'rootfs', 'usr-unify', 'ostree-commit']);
});

t.test('the run reported on: the one asked for, else the last recorded', async (t) => {
  t.equal(currentRun(records, undefined), SECOND);
  t.equal(currentRun(records, FIRST), FIRST);
  t.equal(currentRun([], undefined), null);
});

t.test('a no-change run: its one step rebuilt, the others cache hits with their last build', async (t) => {
  const rows = stepRows(records, SECOND);
  t.same(
    rows.map((r) => [r.step, r.status]),
    [
      ['treefile-lint', 'rebuilt'],
      ['rootfs', 'cached'],
      ['usr-unify', 'cached'],
      ['ostree-commit', 'cached'],
    ],
  );
  const rootfs = records.find((r) => r.step === 'rootfs')!;
  t.equal(rows[1]!.run, FIRST, 'the times of a cache hit are its last build');
  t.equal(rows[1]!.seconds, rootfs.seconds);
  t.equal(rows[1]!.times, 0);
  t.equal(rows[0]!.times, 1);
});

t.test('the first run: every step rebuilt, in pipeline order', async (t) => {
  const rows = stepRows(records, FIRST);
  t.ok(rows.every((r) => r.status === 'rebuilt' && r.run === FIRST));
  t.same(
    rows.map((r) => r.step),
    PIPELINE.filter((s) => rows.some((r) => r.step === s)),
  );
});

t.test('failures, repeats, steps outside the pipeline, and the report itself', async (t) => {
  const base = records.find((r) => r.step === 'ostree-commit')!;
  const later = (s: number) => new Date(Date.parse(base.end) + s * 1000).toISOString();
  const more = [
    { ...base, run: 'r3', start: later(1), end: later(2), exit: 1 },
    { ...base, step: 'custom-step', tool: 'custom-step', run: 'r3', start: later(0), end: later(1) },
    { ...base, step: 'oci-wrap', tool: 'oci-wrap', run: 'r3', start: later(3), end: later(4), exit: 1 },
    { ...base, step: 'report', tool: 'report', run: 'r3', start: later(5), end: later(6) },
    { ...base, step: 'treefile-lint', tool: 'treefile-lint', run: 'r3', start: later(-1), end: later(0) },
    { ...base, step: 'treefile-lint', tool: 'treefile-lint', run: 'r3', start: later(2), end: later(3) },
  ];
  const rows = stepRows([...records, ...more], 'r3');
  t.same(
    rows.map((r) => [r.step, r.status, r.times]),
    [
      ['treefile-lint', 'rebuilt', 2],
      ['rootfs', 'cached', 0],
      ['usr-unify', 'cached', 0],
      ['ostree-commit', 'failed', 1],
      ['oci-wrap', 'failed', 1],
      ['custom-step', 'rebuilt', 1],
    ],
  );
  // A step that only ever failed, in an earlier run, is no cache hit: it is left out.
  t.same(
    stepRows([...records, ...more], SECOND).map((r) => r.step),
    ['treefile-lint', 'rootfs', 'usr-unify', 'ostree-commit', 'custom-step'],
  );
});

t.test('size by package: the largest by name, the rest as other, totals that add up', async (t) => {
  const file = join(import.meta.dirname, 'fixtures/packages.json');
  const pkgs = await readManifest(file);
  const p = packageSizes(file, pkgs, 5);
  t.equal(p.count, 15);
  t.same(
    p.top.map((x) => x.name),
    ['linux-image-6.12.117+deb13-amd64', 'libnode115', 'libicu76', 'skopeo', 'coreutils'],
  );
  t.equal(p.other.count, 10);
  t.equal(p.top.reduce((n, x) => n + x.installedSizeKiB, 0) + p.other.installedKiB, p.installedKiB);
  t.equal(
    p.installedKiB,
    pkgs.reduce((n, x) => n + x.installedSizeKiB, 0),
  );
  t.ok(Math.abs(p.top[0]!.share - 108901 / p.installedKiB) < 1e-12);
  t.same(packageSizes(file, [], 5), {
    manifest: file,
    count: 0,
    installedKiB: 0,
    top: [],
    other: { count: 0, installedKiB: 0 },
  });
  t.equal(
    packageSizes(file, [{ name: 'empty', version: '1', architecture: 'all', installedSizeKiB: 0 }], 5).top[0]!.share,
    0,
  );
});

t.test('the report: timing of this run, valid against its own schema', async (t) => {
  const generated = new Date('2026-12-07T09:00:00Z');
  const r = buildReport({ variant: 'base', records, manifest: null, stages: {}, top: 10, generated });
  t.same(ReportSchema.parse(r), r);
  t.equal(r.run, SECOND);
  t.same([r.timing.rebuilt, r.timing.cached, r.timing.failed], [1, 3, 0]);
  const lint = records.at(-1)!;
  t.equal(r.timing.start, lint.start);
  t.equal(r.timing.end, lint.end);
  t.equal(r.timing.stepSeconds, lint.seconds);
  t.equal(r.packages, null);
  t.equal(r.generated, generated.toISOString());

  const first = buildReport({ variant: 'base', records, run: FIRST, manifest: null, stages: {}, top: 10, generated });
  const firstRecords = records.filter((x) => x.run === FIRST);
  t.equal(first.timing.wallSeconds, (Date.parse(firstRecords.at(-1)!.end) - Date.parse(firstRecords[0]!.start)) / 1000);
  t.ok(first.timing.wallSeconds >= first.timing.stepSeconds - 0.01, 'the steps ran one after the other');

  const none = buildReport({ variant: 'base', records: [], manifest: null, stages: {}, top: 10, generated });
  t.same([none.run, none.timing.start, none.timing.wallSeconds, none.steps], [null, null, 0, []]);
});
