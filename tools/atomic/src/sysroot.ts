/**
 * The deployments of a sysroot, as `ostree admin status` lists them (ostree 2025.2 has no JSON
 * status), with what ostree keeps beside them: the origin file, the kernel arguments of the BLS
 * entry that boots each one, and for a staged deployment the arguments recorded in
 * /run/ostree/staged-deployment (it has no BLS entry until it is finalized at shutdown).
 */
import { existsSync } from 'node:fs';
import { readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import {
  inputError,
  readBoundedFile,
  readBoundedText,
  READ_LIMITS,
  toolboxRun,
  ToolError,
  type RunResult,
} from '@debian-atomic/lib';
import { GVariantError, readVardict } from './gvariant.js';
import { NO_REQUESTS, parseOrigin, parseRequests, type Origin, type Requests } from './origin.js';

export interface Deployment extends StatusEntry {
  /** Commit time, seconds since the epoch. */
  timestamp?: number | undefined;
  /** A commit merged from a derived image: its base commit (oci-wrap's subject `derived from <base>`). */
  base?: string | undefined;
  origin: Origin | null;
  /** Why the origin file could not be read (then origin is null). */
  originProblem?: string | undefined;
  kernelArgs: string[];
  /** The packages layered on the base (the origin's [packages] and [overrides]; none when it has no origin). */
  requests: Requests;
  /** A layered commit (atomic install): its base commit and the packages it adds and removes ("NAME VERSION"). */
  layered?: { base: string; added: string[]; removed: string[] } | undefined;
  /** The position in `ostree admin status` (0 = the default on next boot). */
  index: number;
}

/** Where ostree records a staged deployment until shutdown finalizes it. */
export const STAGED_DEPLOYMENT = '/run/ostree/staged-deployment';

/** ostree through the toolbox on a build host, /usr/bin/ostree on the target; `binds`: every path it touches. */
export async function ostree(
  args: readonly string[],
  binds: readonly string[],
  what: string,
  o: { network?: boolean } = {},
): Promise<RunResult> {
  return toolboxRun('ostree', args, {
    binds: [...new Set(binds)],
    providedBy: 'ostree',
    what,
    network: o.network ?? false,
  }).catch((err: unknown) => {
    // Name ostree and what it said, not the sandbox that ran it.
    if (err instanceof ToolError && err.code === 'command-failed') {
      const said = (err.output ?? '')
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error: '))
        .at(-1)
        ?.slice('error: '.length);
      const sub = args
        .filter((a) => !a.startsWith('-'))
        .slice(0, 2)
        .join(' ');
      throw new ToolError('command-failed', `ostree ${sub} failed (${what})${said ? `: ${said}` : ''}`, {
        detail: err.detail,
        output: err.output,
        cause: err,
      });
    }
    throw err;
  });
}

/** ostree's own message for a directory that is no sysroot is about ostree/repo; say it plainly. */
export function checkSysroot(sysroot: string): void {
  if (!existsSync(join(sysroot, 'ostree/repo/config'))) {
    throw inputError(`${sysroot}: not an OSTree sysroot (no ostree/repo)`, {
      hint:
        sysroot === '/'
          ? 'atomic runs on a booted Debian Atomic system'
          : 'name the directory that holds ostree/ and boot/',
    });
  }
}

export const repoOf = (sysroot: string) => join(sysroot, 'ostree/repo');
export const deployDir = (sysroot: string, d: { osname: string; checksum: string; serial: number }) =>
  join(sysroot, 'ostree/deploy', d.osname, 'deploy', `${d.checksum}.${d.serial}`);

/** One deployment as `ostree admin status` prints it. */
export interface StatusEntry {
  osname: string;
  checksum: string;
  serial: number;
  booted: boolean;
  staged: boolean;
  pending: boolean;
  rollback: boolean;
  pinned: boolean;
  version?: string | undefined;
}

const HEADER = /^([* ]) (\S+) ([0-9a-f]{64})\.(\d+)(?: \(([^)]*)\))?$/;

/**
 * `ostree admin status -S` (ot-admin-builtin-status.c): a header per deployment,
 * "* OSNAME CSUM.SERIAL (staged|pending|rollback|finalization locked)", then indented lines
 * ("Version: V", "Pinned: yes", "origin refspec: R", "Unlocked: …") this reads or skips.
 */
export function parseAdminStatus(text: string): StatusEntry[] {
  const out: StatusEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line === 'No deployments.') continue;
    const h = HEADER.exec(line);
    if (h) {
      const tag = h[5];
      out.push({
        osname: h[2]!,
        checksum: h[3]!,
        serial: Number(h[4]),
        booted: h[1] === '*',
        // Only a staged deployment can be finalization-locked.
        staged: tag === 'staged' || tag === 'finalization locked',
        pending: tag === 'pending',
        rollback: tag === 'rollback',
        pinned: false,
      });
      continue;
    }
    const cur = out.at(-1);
    if (!cur || !line.startsWith('    '))
      throw new ToolError('ostree-status', `cannot read this line of 'ostree admin status': ${JSON.stringify(line)}`);
    const body = line.trim();
    if (body.startsWith('Version: ')) cur.version = body.slice('Version: '.length);
    else if (body === 'Pinned: yes') cur.pinned = true;
  }
  return out;
}

/** Split a kernel command line as the kernel and ostree do: white space, except inside double quotes. */
export function splitKernelArgs(cmdline: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of cmdline) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && /\s/.test(ch)) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/** BLS entries: each one's `options` keyed by the deployment directory its ostree= argument names. */
async function bootEntryArgs(sysroot: string): Promise<Map<string, string[]>> {
  const dir = join(sysroot, 'boot/loader/entries');
  const out = new Map<string, string[]>();
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.conf')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const name of names) {
    const text = await readBoundedText(join(dir, name), { maxBytes: READ_LIMITS.attribute, what: 'boot entry' });
    const options = /^options[ \t]+(.*)$/m.exec(text)?.[1] ?? '';
    const args = splitKernelArgs(options);
    const target = args.find((a) => a.startsWith('ostree='))?.slice('ostree='.length);
    if (!target) continue;
    // ostree=/ostree/boot.N/OS/BOOTCSUM/I: a chain of relative links to ostree/deploy/OS/deploy/CSUM.SERIAL.
    const deployment = await realpath(join(sysroot, target)).catch(() => null);
    if (deployment) out.set(deployment, args);
  }
  return out;
}

/** The kernel arguments ostree recorded for the staged deployment, or null (none recorded: the merge deployment's). */
export async function stagedKernelArgs(file: string): Promise<string[] | null> {
  let data: Buffer;
  try {
    data = await readBoundedFile(file, { maxBytes: READ_LIMITS.config, what: 'staged deployment' });
  } catch (err) {
    if (err instanceof ToolError && /no such file/.test(err.summary)) return null;
    throw err;
  }
  let dict;
  try {
    dict = readVardict(data);
  } catch (err) {
    if (err instanceof GVariantError)
      throw new ToolError('staged-deployment', `${file}: cannot read it: ${err.message}`);
    throw err;
  }
  const kargs = dict.get('kargs');
  return Array.isArray(kargs) ? kargs : null;
}

/** The base commit `ostree show` names in a derived commit's subject (oci-wrap's `derived from <base>`). */
export function parseShowBase(text: string): string | undefined {
  return /^\s+derived from ([0-9a-f]{64})$/m.exec(text)?.[1];
}

/** A layered commit (`layered on <base>`, atomic install's subject) and the packages its body lists. */
export function parseShowLayered(text: string): Deployment['layered'] {
  const base = /^ {4}layered on ([0-9a-f]{64})$/m.exec(text)?.[1];
  if (!base) return undefined;
  const out = { base, added: [] as string[], removed: [] as string[] };
  for (const m of text.matchAll(/^ {4}([+-])(\S+) (\S+)$/gm))
    (m[1] === '+' ? out.added : out.removed).push(`${m[2]} ${m[3]}`);
  return out;
}

/** "Date:  2026-12-02 16:35:31 +0000" of `ostree show`, as seconds since the epoch. */
export function parseShowDate(text: string): number | undefined {
  const m = /^Date:\s+(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)$/m.exec(text);
  if (!m) return undefined;
  const t = Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4]}`);
  return Number.isNaN(t) ? undefined : t / 1000;
}

export interface ReadOptions {
  /** /run/ostree/staged-deployment when the sysroot is /, else none. */
  stagedFile?: string | null | undefined;
}

export async function readDeployments(sysroot: string, o: ReadOptions = {}): Promise<Deployment[]> {
  checkSysroot(sysroot);
  const status = await ostree(['admin', `--sysroot=${sysroot}`, 'status', '-S'], [sysroot], 'read the deployments');
  const entries = parseAdminStatus(status.stdout);
  const boot = await bootEntryArgs(sysroot);
  const stagedFile = o.stagedFile === undefined ? (sysroot === '/' ? STAGED_DEPLOYMENT : null) : o.stagedFile;
  const shown = new Map<
    string,
    Promise<{ timestamp?: number | undefined; base?: string | undefined; layered?: Deployment['layered'] }>
  >();
  const showOf = (c: string) => {
    if (!shown.has(c))
      shown.set(
        c,
        ostree([`--repo=${repoOf(sysroot)}`, 'show', c], [sysroot], 'read the commit').then(
          (r) => ({
            timestamp: parseShowDate(r.stdout),
            base: parseShowBase(r.stdout),
            layered: parseShowLayered(r.stdout),
          }),
          () => ({}),
        ),
      );
    return shown.get(c)!;
  };
  const out: Deployment[] = [];
  for (const [index, e] of entries.entries()) {
    const dir = deployDir(sysroot, e);
    const originFile = `${dir}.origin`;
    const originText = await readBoundedText(originFile, {
      maxBytes: READ_LIMITS.attribute,
      what: 'origin file',
    }).catch(() => null);
    let origin: Origin | null = null;
    let originProblem: string | undefined;
    let requests = NO_REQUESTS;
    try {
      origin = originText === null ? null : parseOrigin(originText, originFile);
      if (originText !== null) requests = parseRequests(originText, originFile);
    } catch (err) {
      if (!(err instanceof ToolError)) throw err;
      originProblem = err.summary;
    }
    const real = await realpath(dir).catch(() => dir);
    let kernelArgs = boot.get(real)?.filter((a) => !a.startsWith('ostree=')) ?? null;
    // The staged file's kargs carry the merge deployment's ostree= (ostree replaces it at finalize).
    if (kernelArgs === null && e.staged && stagedFile)
      kernelArgs = (await stagedKernelArgs(stagedFile))?.filter((a) => !a.startsWith('ostree=')) ?? null;
    const { timestamp, base, layered } = await showOf(e.checksum);
    out.push({
      ...e,
      timestamp,
      ...(base ? { base } : {}),
      ...(layered ? { layered } : {}),
      origin,
      ...(originProblem ? { originProblem } : {}),
      kernelArgs: kernelArgs ?? [],
      requests,
      index,
    });
  }
  // A staged deployment without recorded arguments boots with its merge deployment's: the booted one's.
  for (const d of out)
    if (d.staged && d.kernelArgs.length === 0)
      d.kernelArgs = [
        ...((out.find((x) => x.booted && x.osname === d.osname) ?? out.find((x) => !x.staged && x.osname === d.osname))
          ?.kernelArgs ?? []),
      ];
  return out;
}
