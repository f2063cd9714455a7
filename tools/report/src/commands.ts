/** The subcommands: read the inputs, build the report, write report.json and report.html. */
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import {
  atomicWriteFile,
  canonicalJson,
  inputError,
  RUN_ENV,
  StepRecordSchema,
  usageError,
  warn,
  writeJson,
  type Io as StandardIo,
  type StepRecord,
} from '@debian-atomic/lib';
import { z } from 'zod';
import { renderHtml } from './html.js';
import { ManifestSchema, readManifest, readStages, readSteps, type Package } from './inputs.js';
import { TOOL, type DOCUMENTS } from './main.js';
import { buildReport, ReportSchema } from './report.js';

/** lib's streams, and the environment (DEBIAN_ATOMIC_RUN). */
export interface Io extends StandardIo {
  env: NodeJS.ProcessEnv;
}

export const MANIFEST_IN_TREE = 'rootfs/usr/share/debian-atomic/packages.json';

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/** A file given on the command line must be there; a default one may not be yet (a build that stopped early). */
async function optional<T>(
  given: string | undefined,
  fallback: string,
  what: string,
  read: (file: string) => Promise<T>,
  quiet: boolean,
  stderr: NodeJS.WritableStream,
): Promise<T | null> {
  const file = given ?? fallback;
  if (given === undefined && !(await exists(file))) {
    warn(TOOL, `${file}: no ${what} yet`, quiet, stderr);
    return null;
  }
  return read(file);
}

export async function writeCommand(
  a: {
    buildDir: string;
    steps?: string;
    packages?: string;
    run?: string;
    top: number;
    outputDir?: string;
    quiet: boolean;
  },
  io: Io,
): Promise<number> {
  if (!Number.isInteger(a.top) || a.top < 1 || a.top > 1000) throw usageError(`--top must be 1…1000 (got ${a.top})`);
  const dir = a.buildDir;
  if (
    !(await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    throw inputError(`${dir}: not a build directory`, { hint: 'make builds build/<variant>/ first' });
  const records: StepRecord[] =
    (await optional(a.steps, join(dir, 'steps.ndjson'), 'step records', readSteps, a.quiet, io.stderr)) ?? [];
  const manifestFile = a.packages ?? join(dir, MANIFEST_IN_TREE);
  const packages: Package[] | null = await optional(
    a.packages,
    manifestFile,
    'package manifest',
    readManifest,
    a.quiet,
    io.stderr,
  );
  const report = buildReport({
    variant: basename(resolve(dir)),
    records,
    run: a.run ?? (io.env[RUN_ENV] || undefined),
    manifest: packages ? { file: manifestFile, packages } : null,
    stages: await readStages(dir),
    top: a.top,
    generated: new Date(),
  });
  const out = a.outputDir ?? dir;
  await atomicWriteFile(join(out, 'report.html'), renderHtml(report));
  await atomicWriteFile(join(out, 'report.json'), canonicalJson(report));
  writeJson(report, io.stdout);
  return 0;
}

export async function schemaCommand(a: { document: (typeof DOCUMENTS)[number] }, io: Io): Promise<number> {
  const schema = a.document === 'report' ? ReportSchema : a.document === 'step' ? StepRecordSchema : ManifestSchema;
  writeJson(z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }), io.stdout);
  return 0;
}
