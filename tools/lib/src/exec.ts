/**
 * Running the real Debian tools: execa with stderr captured and turned into a clean ToolError.
 * execa is loaded on the first run, not with the module: every tool's --help, usage error and
 * pure run would pay for its import (--help of hwdetect and treefile-lint: 0.43 s each, 0.54 s
 * with execa loaded at start).
 */
import type { Options as ExecaOptions } from 'execa';
import { ToolError } from './errors.js';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string | Uint8Array;
  /** Stream the command's stderr to ours as it runs (verbose/progress); it is captured either way. */
  passStderr?: boolean;
  /** Package that provides the command, for the "not found" hint. */
  providedBy?: string;
  /** Non-zero exit codes that are answers, not failures (gpgv: 1 and 2); the caller reads exitCode. */
  allowExitCodes?: readonly number[];
  /** Maximum time in ms; the command is killed past it. */
  timeout?: number;
  /** What the command does, for error messages ("commit the tree"). */
  what?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The last lines of a command's stderr, enough to see why it failed. */
export function tailLines(text: string, n = 20): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(Math.max(0, lines.length - n)).join('\n');
}

export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const execaOpts: ExecaOptions = {
    cwd: opts.cwd,
    env: opts.env,
    input: opts.input,
    reject: false,
    stripFinalNewline: false,
    timeout: opts.timeout,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    stderr: opts.passStderr ? ['pipe', 'inherit'] : 'pipe',
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  };
  const { execa } = await import('execa');
  const res = await execa(cmd, args as string[], execaOpts);
  const stdout = String(res.stdout ?? '');
  const stderr = String(res.stderr ?? '');
  const what = opts.what ? ` (${opts.what})` : '';
  if (
    (res as { code?: string }).code === 'ENOENT' ||
    (res.failed && res.exitCode === undefined && /ENOENT/.test(String(res.message)))
  ) {
    throw new ToolError('missing-command', `${cmd}: command not found${what}`, {
      hint: opts.providedBy
        ? `install it: apt-get install ${opts.providedBy} (or run 'make deps')`
        : `install ${cmd} (or run 'make deps')`,
    });
  }
  if (res.timedOut) {
    throw new ToolError('timeout', `${cmd} timed out after ${opts.timeout} ms${what}`, { detail: tailLines(stderr) });
  }
  if (res.isTerminated && res.signal === 'SIGINT') {
    throw new ToolError('interrupted', `${cmd} interrupted`, { exitCode: 130 });
  }
  if (res.failed && !(res.exitCode !== undefined && opts.allowExitCodes?.includes(res.exitCode))) {
    const status = res.exitCode !== undefined ? `exit ${res.exitCode}` : String(res.signal ?? 'failed');
    throw new ToolError(
      'command-failed',
      `${[cmd, ...args.slice(0, 3)].join(' ')}${args.length > 3 ? ' ...' : ''} failed (${status})${what}`,
      {
        detail: tailLines(stderr || stdout),
        output: stderr || stdout,
      },
    );
  }
  return { stdout, stderr, exitCode: res.exitCode ?? 0 };
}

/** A string as one word of a POSIX shell command line (single-quoted). */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
