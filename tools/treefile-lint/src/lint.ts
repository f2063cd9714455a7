/** Lint treefiles: one report per file, every diagnostic once. */
import { formatDiagnostic, type Diagnostic } from '@debian-atomic/lib';
import { resolveTreefile, type ResolveOptions, type ResolveResult } from './resolve.js';
import { TasksFiles } from './tasks.js';

/** One element of the JSON summary on stdout. */
export interface LintReport {
  file: string;
  ok: boolean;
  /** The ref of a buildable treefile; absent for a fragment (a file without a ref, like common.yaml). */
  ref?: string;
  fragment?: true;
  errors: number;
}

export function lintReport(result: ResolveResult): LintReport {
  return {
    file: result.file,
    ok: result.diagnostics.length === 0,
    ...(result.treefile.ref !== undefined ? { ref: result.treefile.ref } : {}),
    ...(result.complete ? {} : { fragment: true as const }),
    errors: result.diagnostics.length,
  };
}

export async function lintTreefile(
  file: string,
  opts: ResolveOptions = {},
): Promise<{ report: LintReport; result: ResolveResult }> {
  const result = await resolveTreefile(file, opts);
  return { report: lintReport(result), result };
}

/**
 * Lint several files. A fragment included by several of them is reported once.
 * Throws the lib's input error (exit 2) if a file cannot be read; `unreadable` says an include
 * or tasks file could not be (its diagnostic names the line that includes it).
 */
export async function lintTreefiles(
  files: readonly string[],
  opts: Omit<ResolveOptions, 'tasksFiles'> = {},
): Promise<{ reports: LintReport[]; diagnostics: Diagnostic[]; unreadable: boolean }> {
  const tasksFiles = new TasksFiles();
  const reports: LintReport[] = [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  let unreadable = false;
  for (const file of files) {
    const { report, result } = await lintTreefile(file, { ...opts, tasksFiles });
    reports.push(report);
    unreadable ||= result.unreadable;
    for (const d of result.diagnostics) {
      const text = formatDiagnostic(d);
      if (!seen.has(text)) {
        seen.add(text);
        diagnostics.push(d);
      }
    }
  }
  return { reports, diagnostics, unreadable };
}
