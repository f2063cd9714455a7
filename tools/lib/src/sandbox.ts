/**
 * bubblewrap: run a command with a directory tree as its root filesystem.
 * Used for postprocess scripts (inside the tree being built, no network) and to
 * run newer Debian tools (trixie's ostree) from a "toolbox" tree on an older host.
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { run, type RunOptions, type RunResult } from './exec.js';

export interface SandboxOptions {
  /** Directory to use as / . */
  root: string;
  /** Host paths bound at the same path inside (read-write). */
  binds?: readonly string[];
  /** Host paths bound read-only at the same path inside. */
  roBinds?: readonly string[];
  /** Share the host network (with /etc/resolv.conf and /etc/hosts bound in). Default: no network. */
  network?: boolean;
  /** Bind the root read-only. */
  readOnlyRoot?: boolean;
  /** The host's /dev and a read-only /sys instead of a minimal /dev (a tool that makes its own sandbox or loop devices: mkosi). */
  hostDevices?: boolean;
  /** Keep every capability (bwrap drops them for a non-root sandbox user; a nested sandbox needs them). */
  allCaps?: boolean;
  cwd?: string;
  env?: Record<string, string>;
}

/** What --clearenv would drop that a sandbox with the network needs to reach it. */
const PROXY_ENV = ['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];

/** The parts of a tree a program needs to run from it: the rest is scratch or user data. */
const SYSTEM_DIRS = new Set(['usr', 'etc', 'opt']);

/**
 * A read-only root is assembled on a tmpfs from the tree's system directories and
 * top-level links (bin -> usr/bin...), so that binds of host paths (under /home,
 * /work, /srv...) can create their mount points without writing into the tree.
 */
function readOnlyRootArgs(root: string): string[] {
  const args = ['--tmpfs', '/'];
  for (const name of readdirSync(root).sort()) {
    const st = lstatSync(join(root, name));
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(join(root, name)), `/${name}`);
    else if (st.isDirectory() && SYSTEM_DIRS.has(name)) args.push('--ro-bind', join(root, name), `/${name}`);
  }
  args.push('--dir', '/var/tmp', '--dir', '/run');
  return args;
}

export function bwrapArgs(opts: SandboxOptions): string[] {
  const rootArgs = opts.readOnlyRoot ? readOnlyRootArgs(opts.root) : ['--bind', opts.root, '/'];
  const devices = opts.hostDevices ? ['--dev-bind', '/dev', '/dev', '--ro-bind', '/sys', '/sys'] : ['--dev', '/dev'];
  // /tmp as on a real system (1777): apt drops to _apt for its downloads and signature checks.
  const args = [...rootArgs, ...devices, '--proc', '/proc', '--perms', '1777', '--tmpfs', '/tmp', '--die-with-parent'];
  if (!opts.network) args.push('--unshare-net');
  else args.push('--ro-bind', '/etc/resolv.conf', '/etc/resolv.conf', '--ro-bind', '/etc/hosts', '/etc/hosts');
  args.push('--unshare-ipc', '--unshare-uts', '--unshare-pid');
  // A device node (a disk's partition for mkfs or mtools) keeps working only through --dev-bind.
  for (const b of opts.binds ?? []) args.push(b.startsWith('/dev/') ? '--dev-bind' : '--bind', b, b);
  for (const b of opts.roBinds ?? []) args.push('--ro-bind', b, b);
  if (opts.allCaps) args.push('--cap-add', 'ALL');
  args.push('--clearenv', '--setenv', 'PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  args.push('--setenv', 'LC_ALL', 'C.UTF-8', '--setenv', 'HOME', '/root');
  // With the network, the host's proxy settings too (as apt or ostree run outside would see them).
  if (opts.network) for (const k of PROXY_ENV) if (process.env[k]) args.push('--setenv', k, process.env[k]!);
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push('--setenv', k, v);
  if (opts.cwd) args.push('--chdir', opts.cwd);
  return args;
}

export async function sandboxRun(
  opts: SandboxOptions,
  cmd: string,
  args: readonly string[],
  runOpts: RunOptions = {},
): Promise<RunResult> {
  return run('bwrap', [...bwrapArgs(opts), '--', cmd, ...args], { providedBy: 'bubblewrap', ...runOpts });
}
