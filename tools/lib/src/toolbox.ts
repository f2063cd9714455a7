/**
 * The toolbox: a Debian trixie tree that carries the versions of ostree, GRUB,
 * mtools... our stages need, run through bubblewrap on an older host (bookworm's
 * ostree 2022.7 is too old). On a trixie host it is not needed and host tools run.
 *
 * Selected by $DEBIAN_ATOMIC_TOOLBOX (a directory, or "none" for host tools);
 * default: ~/.cache/debian-atomic/toolbox if it exists.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, type RunOptions, type RunResult } from './exec.js';
import { sandboxRun } from './sandbox.js';

export function cacheDir(): string {
  return (
    process.env.DEBIAN_ATOMIC_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'debian-atomic')
  );
}

export function toolboxRoot(): string | undefined {
  const env = process.env.DEBIAN_ATOMIC_TOOLBOX;
  if (env === 'none') return undefined;
  const dir = env ?? join(cacheDir(), 'toolbox');
  return existsSync(join(dir, 'usr/bin')) ? resolve(dir) : undefined;
}

export interface ToolboxRunOptions extends RunOptions {
  /** Host paths the command reads or writes; bound at the same path inside the toolbox. */
  binds?: readonly string[];
  network?: boolean;
}

/** Run a Debian tool from the toolbox (or the host when there is none). */
export async function toolboxRun(
  cmd: string,
  args: readonly string[],
  opts: ToolboxRunOptions = {},
): Promise<RunResult> {
  const root = toolboxRoot();
  if (!root) return run(cmd, args, opts);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v;
  return sandboxRun(
    {
      root,
      binds: opts.binds?.map((b) => resolve(b)),
      network: opts.network ?? false,
      readOnlyRoot: true,
      cwd: opts.cwd,
      env,
    },
    cmd,
    args,
    { ...opts, env: undefined, cwd: undefined },
  );
}
