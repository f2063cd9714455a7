/**
 * `debian-atomic-sandbox`: the sandbox of sandbox.ts for shell scripts (bench/, scripts/), so the
 * bubblewrap command line (the read-only root of a tree's usr, etc and opt...) is built in one
 * place. The command's stdin, stdout and stderr are this process's; its exit status is returned.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { cli } from './cli.js';
import { usageError } from './errors.js';
import { bwrapArgs } from './sandbox.js';

const TOOL = 'debian-atomic-sandbox';
const USAGE = `$0 --root TREE [--read-only-root] [--bind DIR]... [--ro-bind DIR]... [--network] [--setenv NAME=VALUE]... -- CMD [ARG...]

Run CMD with TREE as its root filesystem through bubblewrap: no network unless --network, a
private /tmp, host paths bound at their own path. With --read-only-root, / is a tmpfs holding
TREE's system directories (usr, etc, opt) read-only and its top-level links (the toolbox).`;

const list = (v: unknown): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String));

/** The bwrap arguments for a command line of this tool (the part before CMD). */
export async function parseSandboxArgs(argv: readonly string[]): Promise<{ bwrap: string[]; command: string[] }> {
  const dash = argv.indexOf('--');
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const a = await cli(TOOL, USAGE, [...(dash < 0 ? argv : argv.slice(0, dash))])
    .option('root', { type: 'string', requiresArg: true, demandOption: true, describe: 'The tree to run in' })
    .option('read-only-root', {
      type: 'boolean',
      default: false,
      describe: "TREE's system directories, read-only, on a tmpfs /",
    })
    .option('bind', {
      type: 'string',
      array: true,
      requiresArg: true,
      describe: 'A host path, read-write at the same path',
    })
    .option('ro-bind', {
      type: 'string',
      array: true,
      requiresArg: true,
      describe: 'A host path, read-only at the same path',
    })
    .option('network', {
      type: 'boolean',
      default: false,
      describe: "The host's network (and its resolv.conf and hosts)",
    })
    .option('host-devices', { type: 'boolean', default: false, describe: "The host's /dev, and /sys read-only" })
    .option('all-caps', {
      type: 'boolean',
      default: false,
      describe: 'Keep every capability (a nested sandbox: mkosi)',
    })
    .option('chdir', { type: 'string', requiresArg: true, describe: 'Working directory inside' })
    .option('setenv', {
      type: 'string',
      array: true,
      requiresArg: true,
      describe: 'NAME=VALUE in the otherwise empty environment',
    })
    .parseAsync();
  if (command.length === 0) throw usageError('no command: give it after --', `see '${TOOL} --help'`);
  const env: Record<string, string> = {};
  for (const kv of list(a.setenv)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw usageError(`--setenv ${kv}: expected NAME=VALUE`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const bwrap = bwrapArgs({
    root: resolve(a.root),
    readOnlyRoot: a['read-only-root'],
    binds: list(a.bind).map((b) => resolve(b)),
    roBinds: list(a['ro-bind']).map((b) => resolve(b)),
    network: a.network,
    hostDevices: a['host-devices'],
    allCaps: a['all-caps'],
    cwd: a.chdir,
    env,
  });
  return { bwrap, command };
}

export async function sandboxMain(argv: readonly string[]): Promise<number> {
  const { bwrap, command } = await parseSandboxArgs(argv);
  const child = spawn('bwrap', [...bwrap, '--', ...command], { stdio: 'inherit' });
  return new Promise((done, fail) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      fail(
        err.code === 'ENOENT' ? usageError('bwrap: command not found', 'install it: apt-get install bubblewrap') : err,
      ),
    );
    child.on('exit', (code, signal) => done(code ?? (signal === 'SIGINT' ? 130 : 1)));
  });
}
