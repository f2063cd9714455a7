/**
 * The exclude file (YAML): what never gets synced, with the reason in a comment.
 *
 *   packages: [tasksel]            # excluded from every task
 *   patterns: ['fonts-.*']         # regular expressions, matched against the whole name
 *   tasks: [standard]              # tasks in tasks.yaml left exactly as written (not synced)
 *   per-task:
 *     kde-desktop:
 *       packages: [gimp]
 *       patterns: ['libreoffice-.*']
 *
 * An exclusion removes one alternative: excluding `firefox` from `firefox | firefox-esr`
 * leaves `firefox-esr`; a relation whose every alternative is excluded is dropped.
 */
import {
  formatDiagnostic,
  inputError,
  positionOf,
  readYamlFile,
  schemaDiagnostics,
  syntaxDiagnostics,
  zodObjectKeys,
  type Diagnostic,
} from '@debian-atomic/lib';
import { z } from 'zod';

const names = z.array(z.string().min(1));
const Rules = z.strictObject({ packages: names.optional(), patterns: names.optional() });
export const ExcludeSchema = z.strictObject({
  packages: names.optional(),
  patterns: names.optional(),
  tasks: names.optional(),
  'per-task': z.record(z.string(), Rules.nullable()).optional(),
});
export type ExcludeFile = z.infer<typeof ExcludeSchema>;

interface RuleSet {
  packages: Set<string>;
  patterns: { source: string; re: RegExp }[];
}

export class Excludes {
  readonly tasks: Set<string>;
  private readonly global: RuleSet;
  private readonly perTask: Map<string, RuleSet>;
  /** Which rules matched something ("package:x", "pattern:y", per task), to report stale ones. */
  private readonly used = new Set<string>();

  constructor(
    data: ExcludeFile = {},
    readonly file: string | undefined = undefined,
  ) {
    this.tasks = new Set(data.tasks ?? []);
    this.global = ruleSet(data.packages, data.patterns);
    this.perTask = new Map(
      Object.entries(data['per-task'] ?? {}).map(([t, r]) => [t, ruleSet(r?.packages, r?.patterns)]),
    );
  }

  /** Why a package is excluded from a task (for the report), or undefined. */
  reason(task: string, pkg: string): string | undefined {
    const scoped = this.perTask.get(task);
    for (const [scope, rules] of [
      [task, scoped],
      ['*', this.global],
    ] as const) {
      if (!rules) continue;
      if (rules.packages.has(pkg)) {
        this.used.add(`${scope}\0package\0${pkg}`);
        return scope === '*' ? `excluded: ${pkg}` : `excluded for ${task}: ${pkg}`;
      }
      for (const p of rules.patterns) {
        if (p.re.test(pkg)) {
          this.used.add(`${scope}\0pattern\0${p.source}`);
          return `${scope === '*' ? 'excluded' : `excluded for ${task}`} by /${p.source}/`;
        }
      }
    }
    return undefined;
  }

  /** Rules that matched nothing among the given (synced) tasks: stale, or misspelt. */
  unused(syncedTasks: readonly string[]): string[] {
    const out: string[] = [];
    const check = (scope: string, rules: RuleSet, label: string) => {
      for (const p of rules.packages) if (!this.used.has(`${scope}\0package\0${p}`)) out.push(`${label}package ${p}`);
      for (const p of rules.patterns)
        if (!this.used.has(`${scope}\0pattern\0${p.source}`)) out.push(`${label}pattern /${p.source}/`);
    };
    check('*', this.global, '');
    for (const [task, rules] of this.perTask) if (syncedTasks.includes(task)) check(task, rules, `${task}: `);
    return out;
  }
}

function ruleSet(packages: string[] | undefined, patterns: string[] | undefined): RuleSet {
  return {
    packages: new Set(packages ?? []),
    patterns: (patterns ?? []).map((source) => ({ source, re: new RegExp(`^(?:${source})$`) })),
  };
}

export async function loadExcludes(file: string): Promise<Excludes> {
  const y = await readYamlFile(file);
  const diags: Diagnostic[] = syntaxDiagnostics(y);
  let data: ExcludeFile | undefined;
  if (diags.length === 0) {
    if (y.doc.contents === null) return new Excludes({}, file);
    const res = schemaDiagnostics(y, ExcludeSchema, (p) => zodObjectKeys(ExcludeSchema, p));
    diags.push(...res.diagnostics);
    data = res.data;
  }
  if (data) {
    const check = (patterns: string[] | undefined, path: (string | number)[]) =>
      patterns?.forEach((p, i) => {
        try {
          new RegExp(`^(?:${p})$`);
        } catch (err) {
          diags.push({
            file,
            ...positionOf(y, [...path, i]),
            message: `invalid regular expression /${p}/: ${(err as Error).message.replace(/^Invalid regular expression: \/.*\/: /s, '')}`,
          });
        }
      });
    check(data.patterns, ['patterns']);
    for (const [task, rules] of Object.entries(data['per-task'] ?? {}))
      check(rules?.patterns, ['per-task', task, 'patterns']);
  }
  if (diags.length > 0 || !data) {
    throw inputError(formatDiagnostic(diags[0]!), {
      detail: diags.slice(1).map(formatDiagnostic).join('\n') || undefined,
    });
  }
  return new Excludes(data, file);
}
