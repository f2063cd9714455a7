/**
 * The build report as data: the steps in pipeline order (this run's rebuilt or failed ones, the
 * others as cache hits with their last build), the image's size by package (top N + other), and
 * the stage outputs' figures. report.html is drawn from this and nothing else.
 */
import type { StepRecord } from '@debian-atomic/lib';
import { z } from 'zod';
import { StageSchemas, type Package, type Stages } from './inputs.js';

/** The order make runs the stages in (Makefile); a step not listed here comes after, by start time. */
export const PIPELINE = [
  'treefile-lint',
  'hwdetect plan',
  'rootfs',
  'rootfs install-debs',
  'hwdetect apply',
  'usr-unify',
  'ostree-commit',
  'oci-wrap',
  'disk-image',
  'iso-image',
] as const;

const StepRowSchema = z.object({
  step: z.string(),
  status: z
    .enum(['rebuilt', 'failed', 'cached'])
    .describe('rebuilt/failed: ran in this run; cached: did not run, its last successful run is shown'),
  run: z.string().nullable().describe('The run the times are from'),
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  seconds: z.number(),
  exit: z.number().int(),
  times: z.number().int().describe('How often the step ran in this run (0 for a cache hit)'),
  argv: z.array(z.string()),
  output: z.string().nullable(),
  stdout: z.string().nullable(),
});

const PackageRowSchema = z.object({
  name: z.string(),
  version: z.string(),
  architecture: z.string(),
  installedSizeKiB: z.number(),
  share: z.number().describe('Of all installed KiB, 0…1'),
});

export const ReportSchema = z.object({
  apiVersion: z.literal('org.debian-atomic/v1'),
  kind: z.literal('BuildReport'),
  variant: z.string(),
  run: z.string().nullable().describe('The make run reported on (DEBIAN_ATOMIC_RUN)'),
  generated: z.iso.datetime(),
  steps: z.array(StepRowSchema),
  timing: z.object({
    rebuilt: z.number().int(),
    failed: z.number().int(),
    cached: z.number().int(),
    start: z.iso.datetime().nullable().describe("This run's first step start"),
    end: z.iso.datetime().nullable(),
    stepSeconds: z.number().describe("Sum of this run's step durations"),
    wallSeconds: z.number().describe('From the first start to the last end of this run'),
  }),
  packages: z
    .object({
      manifest: z.string(),
      count: z.number().int(),
      installedKiB: z.number(),
      top: z.array(PackageRowSchema).describe('The largest packages, largest first'),
      other: z.object({ count: z.number().int(), installedKiB: z.number() }),
    })
    .nullable()
    .describe('null when there is no package manifest (no rootfs built yet)'),
  stages: z.object(
    Object.fromEntries(Object.entries(StageSchemas).map(([k, s]) => [k, s.optional()])) as {
      [K in keyof typeof StageSchemas]: z.ZodOptional<(typeof StageSchemas)[K]>;
    },
  ),
});
export type Report = z.infer<typeof ReportSchema>;
export type StepRow = Report['steps'][number];

const time = (iso: string) => Date.parse(iso);

function row(r: StepRecord, status: StepRow['status'], times: number): StepRow {
  return {
    step: r.step,
    status,
    run: r.run,
    start: r.start,
    end: r.end,
    seconds: r.seconds,
    exit: r.exit,
    times,
    argv: r.argv,
    output: r.output,
    stdout: r.stdout,
  };
}

/** The run reported on: the one asked for, else the last one recorded. */
export function currentRun(records: readonly StepRecord[], asked: string | undefined): string | null {
  if (asked) return asked;
  const last = [...records].sort((a, b) => time(a.end) - time(b.end)).at(-1);
  return last?.run ?? null;
}

export function stepRows(records: readonly StepRecord[], run: string | null): StepRow[] {
  const byStep = new Map<string, StepRecord[]>();
  for (const r of [...records].sort((a, b) => time(a.start) - time(b.start))) {
    if (r.tool === 'report') continue; // the report's own runs are not a step of the image
    byStep.set(r.step, [...(byStep.get(r.step) ?? []), r]);
  }
  const rows: StepRow[] = [];
  for (const [, rs] of byStep) {
    const now = rs.filter((r) => run !== null && r.run === run);
    const last = now.at(-1);
    if (last) rows.push(row(last, last.exit === 0 ? 'rebuilt' : 'failed', now.length));
    else {
      const built = rs.filter((r) => r.exit === 0).at(-1);
      if (built) rows.push(row(built, 'cached', 0));
    }
  }
  const rank = (step: string) => {
    const i = (PIPELINE as readonly string[]).indexOf(step);
    return i < 0 ? PIPELINE.length : i;
  };
  // Stable sort: steps outside the pipeline keep their order of first start.
  return rows.sort((a, b) => rank(a.step) - rank(b.step));
}

export function packageSizes(
  manifest: string,
  packages: readonly Package[],
  top: number,
): NonNullable<Report['packages']> {
  const total = packages.reduce((n, p) => n + p.installedSizeKiB, 0);
  const sorted = [...packages].sort((a, b) => b.installedSizeKiB - a.installedSizeKiB || (a.name < b.name ? -1 : 1));
  const head = sorted.slice(0, top);
  const rest = sorted.slice(top);
  return {
    manifest,
    count: packages.length,
    installedKiB: total,
    top: head.map((p) => ({
      name: p.name,
      version: p.version,
      architecture: p.architecture,
      installedSizeKiB: p.installedSizeKiB,
      share: total ? p.installedSizeKiB / total : 0,
    })),
    other: { count: rest.length, installedKiB: rest.reduce((n, p) => n + p.installedSizeKiB, 0) },
  };
}

export interface ReportInput {
  variant: string;
  records: readonly StepRecord[];
  run?: string | undefined;
  manifest: { file: string; packages: readonly Package[] } | null;
  stages: Stages;
  top: number;
  generated: Date;
}

export function buildReport(i: ReportInput): Report {
  const run = currentRun(i.records, i.run);
  const steps = stepRows(i.records, run);
  const ran = steps.filter((s) => s.status !== 'cached');
  const start = ran.length ? ran.reduce((m, s) => (time(s.start) < time(m) ? s.start : m), ran[0]!.start) : null;
  const end = ran.length ? ran.reduce((m, s) => (time(s.end) > time(m) ? s.end : m), ran[0]!.end) : null;
  return {
    apiVersion: 'org.debian-atomic/v1',
    kind: 'BuildReport',
    variant: i.variant,
    run,
    generated: i.generated.toISOString(),
    steps,
    timing: {
      rebuilt: steps.filter((s) => s.status === 'rebuilt').length,
      failed: steps.filter((s) => s.status === 'failed').length,
      cached: steps.filter((s) => s.status === 'cached').length,
      start,
      end,
      stepSeconds: Math.round(ran.reduce((n, s) => n + s.seconds, 0) * 1000) / 1000,
      wallSeconds: start && end ? (time(end) - time(start)) / 1000 : 0,
    },
    packages: i.manifest ? packageSizes(i.manifest.file, i.manifest.packages, i.top) : null,
    stages: i.stages,
  };
}
