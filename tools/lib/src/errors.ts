/**
 * One error shape for every tool: {code, summary, detail, hint}.
 * A ToolError is a user-facing failure: printed as one clean line (plus optional
 * detail/hint lines), never with a stack trace unless --debug.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface ToolErrorOptions {
  detail?: string | undefined;
  hint?: string | undefined;
  exitCode?: ExitCode | undefined;
  cause?: unknown;
  /** The full output of a failed command, for callers that explain failures (never printed). */
  output?: string | undefined;
}

export class ToolError extends Error {
  readonly code: string;
  readonly summary: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  readonly output: string | undefined;

  constructor(code: string, summary: string, opts: ToolErrorOptions = {}) {
    super(summary, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ToolError';
    this.code = code;
    this.summary = summary;
    this.detail = opts.detail;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? EXIT.failure;
    this.output = opts.output;
  }

  toJSON(): { code: string; summary: string; detail?: string; hint?: string } {
    return {
      code: this.code,
      summary: this.summary,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    };
  }
}

/** Bad command line or unreadable input: exit 2. */
export function usageError(summary: string, hint?: string): ToolError {
  return new ToolError('usage', summary, { hint, exitCode: EXIT.usage });
}

/** Input that cannot be read at all (missing file, not YAML/JSON): exit 2. */
export function inputError(summary: string, opts: Omit<ToolErrorOptions, 'exitCode'> = {}): ToolError {
  return new ToolError('input', summary, { ...opts, exitCode: EXIT.usage });
}

/** Render an error for stderr. User errors are one line (+ detail/hint); others get a stack only with debug. */
export function formatError(tool: string, err: unknown, debug = false): string {
  if (err instanceof ToolError) {
    const lines = [`${tool}: ${err.summary}`];
    if (err.detail)
      lines.push(
        ...err.detail
          .trimEnd()
          .split('\n')
          .map((l) => `  ${l}`),
      );
    if (err.hint) lines.push(`  hint: ${err.hint}`);
    if (debug && err.stack) lines.push(err.stack);
    return lines.join('\n') + '\n';
  }
  const message = err instanceof Error ? err.message : String(err);
  const lines = [`${tool}: internal error: ${message}`];
  if (debug && err instanceof Error && err.stack) lines.push(err.stack);
  else lines.push('  (run with --debug for a stack trace; please report this)');
  return lines.join('\n') + '\n';
}
