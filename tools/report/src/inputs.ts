/**
 * What the report reads, each through a schema: the step records (NDJSON, tools/lib's steps),
 * the package manifest rootfs writes into the tree, and the stage outputs make keeps in
 * build/<variant>/. A bad input is exit 2 with `file:line:col: message`.
 */
import {
  formatDiagnostic,
  inputError,
  parseYamlText,
  READ_LIMITS,
  readBoundedText,
  schemaDiagnostics,
  StepRecordSchema,
  syntaxDiagnostics,
  zodObjectKeys,
  type Diagnostic,
  type StepRecord,
} from '@debian-atomic/lib';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** One entry of /usr/share/debian-atomic/packages.json (tools/rootfs/src/manifest.ts). */
export const PackageSchema = z.object({
  name: z.string().min(1),
  version: z.string(),
  architecture: z.string(),
  source: z.string().optional(),
  sourceVersion: z.string().optional(),
  installedSizeKiB: z.number().int().nonnegative(),
});
export const ManifestSchema = z.array(PackageSchema);
export type Package = z.infer<typeof PackageSchema>;

/** The few fields of each stage's output (its tool's JSON on stdout) that the report shows. */
export const StageSchemas = {
  rootfs: z.object({
    packages: z.number().int(),
    installedSizeKiB: z.number(),
    kernel: z.string().nullable().optional(),
    suite: z.string(),
    seconds: z.number(),
  }),
  commit: z.object({ ref: z.string(), commit: z.string(), version: z.string().nullable(), timestamp: z.number() }),
  oci: z.object({ image: z.string(), bytes: z.number(), layers: z.array(z.unknown()), seconds: z.number() }),
  disk: z.object({ output: z.string(), format: z.string(), fileBytes: z.number(), virtualSize: z.number() }),
  iso: z.object({ output: z.string(), bytes: z.number(), seconds: z.number() }),
} as const;
export type StageName = keyof typeof StageSchemas;
export type Stages = { [K in StageName]?: z.infer<(typeof StageSchemas)[K]> };

function invalid(what: string, diagnostics: readonly Diagnostic[]) {
  const [first, ...rest] = diagnostics.map(formatDiagnostic);
  return inputError(`invalid ${what}: ${first}`, { detail: rest.length ? rest.join('\n') : undefined });
}

/** A JSON text against a schema; JSON.parse when it is valid, the YAML parser's positions when not. */
export function parseJson<T>(file: string, text: string, schema: z.ZodType<T>, what: string, line = 1): T {
  try {
    const r = schema.safeParse(JSON.parse(text));
    if (r.success) return r.data;
  } catch {
    /* not JSON: the YAML parser below says where */
  }
  const y = parseYamlText(file, text);
  // An NDJSON record is its own one-line document: its line in the file replaces line 1.
  const shift = (ds: Diagnostic[]) => ds.map((d) => ({ ...d, line: d.line + line - 1 }));
  const syntax = syntaxDiagnostics(y);
  if (syntax.length) throw invalid(what, shift(syntax));
  const { data, diagnostics } = schemaDiagnostics(y, schema, (path) => zodObjectKeys(schema, path));
  if (data === undefined) throw invalid(what, shift(diagnostics));
  return data;
}

/** The step records of a steps file, one JSON object per line (blank lines allowed). */
export function parseSteps(file: string, text: string): StepRecord[] {
  const out: StepRecord[] = [];
  text.split('\n').forEach((l, i) => {
    if (l.trim()) out.push(parseJson(file, l, StepRecordSchema, 'step record', i + 1));
  });
  return out;
}

export async function readSteps(file: string): Promise<StepRecord[]> {
  return parseSteps(file, await readBoundedText(file, { maxBytes: READ_LIMITS.large, what: 'step records' }));
}

export async function readManifest(file: string): Promise<Package[]> {
  return parseJson(
    file,
    await readBoundedText(file, { maxBytes: READ_LIMITS.large, what: 'package manifest' }),
    ManifestSchema,
    'package manifest',
  );
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/** The stage outputs there are in a build directory (a build that stopped early has fewer). */
export async function readStages(dir: string): Promise<Stages> {
  const stages: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(StageSchemas)) {
    const file = join(dir, `${name}.json`);
    if (await exists(file))
      stages[name] = parseJson(
        file,
        await readBoundedText(file, { what: `${name} output` }),
        schema as z.ZodType<unknown>,
        `${name} output`,
      );
  }
  return stages as Stages;
}
