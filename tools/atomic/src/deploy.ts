/**
 * A new deployment of a commit, as bootc makes one: the merge deployment's kernel arguments
 * (ostree carries them over), changed by the difference between the old and the new commit's
 * usr/lib/bootc/kargs.d (arguments the image dropped are deleted, new ones appended; the
 * user's own stay), then by explicit edits; the origin file says where updates come from next.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bootcArch,
  commitKargs as libCommitKargs,
  kernelArgProblem,
  onInterrupt,
  readBoundedText,
  READ_LIMITS,
  ToolError,
} from '@debian-atomic/lib';
import { rewriteOrigin, withRequests, type Origin, type Requests } from './origin.js';
import { deployDir, ostree, readDeployments, repoOf, type Deployment } from './sysroot.js';

export interface KargsEdits {
  append?: string[] | undefined;
  delete?: string[] | undefined;
  /** KEY=VALUE (every KEY= argument becomes this one) or KEY=OLD=NEW (that one value changes). */
  replace?: string[] | undefined;
}

export interface DeployOptions {
  sysroot: string;
  osname: string;
  commit: string;
  origin: Origin;
  /** --stage: finalized at shutdown (always on a booted system; ostree refuses it elsewhere). */
  stage: boolean;
  kargs?: KargsEdits | undefined;
  /** Apply the merge→new kargs.d difference (default true). */
  fromImageKargs?: boolean;
  /**
   * The arguments explicit edits start from (atomic kargs: the staged deployment's when there is
   * one); default the merge deployment's. With edits, atomic computes the whole list and ostree
   * is told exactly that (--karg-none, then each argument).
   */
  baseKernelArgs?: readonly string[] | undefined;
  /** The layering requests the new origin records (default: the merge deployment's, kept as they were). */
  requests?: Requests | undefined;
}

export interface DeployResult {
  /** What the kargs.d difference appended and deleted. */
  appended: string[];
  deleted: string[];
}

/** The kernel arguments a commit's kargs.d gives this machine (lib's one reader and parser, bootc's order). */
export async function commitKargs(sysroot: string, commit: string, arch: string = bootcArch()): Promise<string[]> {
  return libCommitKargs(repoOf(sysroot), commit, { binds: [sysroot], arch, tool: 'atomic' });
}

/** What bootc does on upgrade: old → new kargs.d, against the arguments the system has now. */
export function kargsDifference(
  current: readonly string[],
  oldImage: readonly string[],
  newImage: readonly string[],
): DeployResult {
  const uniq = (xs: string[]) => [...new Set(xs)];
  return {
    deleted: uniq(oldImage.filter((a) => !newImage.includes(a) && current.includes(a))),
    appended: uniq(newImage.filter((a) => !oldImage.includes(a) && !current.includes(a))),
  };
}

export const hasEdits = (e: KargsEdits | undefined): boolean =>
  Boolean(e && (e.append?.length ?? 0) + (e.delete?.length ?? 0) + (e.replace?.length ?? 0) > 0);

const keyOf = (arg: string) => arg.split('=', 1)[0]!;

/**
 * rpm-ostree kargs' edits on a list of arguments, in its order (replace, delete, append):
 * --replace KEY=VALUE changes the one argument named KEY, KEY=OLD=NEW the argument KEY=OLD;
 * --delete KEY=VALUE removes that argument, KEY alone the one argument named KEY;
 * --append adds at the end. An edit that matches nothing, or KEY alone that matches several,
 * is an error (nothing is deployed).
 */
export function applyKargsEdits(base: readonly string[], e: KargsEdits): string[] {
  const out = [...base];
  const fail = (message: string) => new ToolError('kargs', message);
  for (const arg of [...(e.replace ?? []), ...(e.append ?? []), ...(e.delete ?? [])]) {
    const problem = kernelArgProblem(arg);
    if (problem) throw new ToolError('usage', problem, { exitCode: 2 });
  }
  const named = (key: string) => out.flatMap((a, i) => (keyOf(a) === key ? [i] : []));
  for (const r of e.replace ?? []) {
    // KEY=OLD=NEW when KEY=OLD is there; otherwise KEY=VALUE (root=UUID=… is a value with '=').
    const m = /^([^=]+)=([^=]*)=(.*)$/.exec(r);
    const i = m ? out.indexOf(`${m[1]}=${m[2]}`) : -1;
    if (m && i >= 0) {
      out[i] = `${m[1]}=${m[3]}`;
      continue;
    }
    if (!r.includes('='))
      throw new ToolError('usage', `--replace ${r}: expected KEY=VALUE or KEY=OLD=NEW`, { exitCode: 2 });
    const at = named(keyOf(r));
    if (at.length === 0)
      throw fail(
        `--replace ${r}: there is no argument named ${keyOf(r)}${m ? ` (nor ${m[1]}=${m[2]})` : ''} (--append adds one)`,
      );
    if (at.length > 1)
      throw fail(
        `--replace ${r}: ${keyOf(r)} is given ${at.length} times; name the one to change as ${keyOf(r)}=OLD=NEW`,
      );
    out[at[0]!] = r;
  }
  for (const d of e.delete ?? []) {
    if (d.includes('=')) {
      const i = out.indexOf(d);
      if (i < 0) throw fail(`--delete ${d}: there is no such argument`);
      out.splice(i, 1);
      continue;
    }
    const at = named(d);
    if (at.length === 0) throw fail(`--delete ${d}: there is no argument named ${d}`);
    if (at.length > 1)
      throw fail(`--delete ${d}: ${d} is given ${at.length} times; name the one to delete as ${d}=VALUE`);
    out.splice(at[0]!, 1);
  }
  out.push(...(e.append ?? []));
  return out;
}

/** The deployment whose /etc and kernel arguments ostree merges into a new one: the booted one, else the first of the stateroot. */
export function mergeDeployment(deployments: readonly Deployment[], osname: string): Deployment | undefined {
  return deployments.find((d) => d.booted && d.osname === osname) ?? deployments.find((d) => d.osname === osname);
}

export async function deploy(o: DeployOptions): Promise<DeployResult> {
  const deployments = await readDeployments(o.sysroot);
  const merge = mergeDeployment(deployments, o.osname);
  let diff: DeployResult = { appended: [], deleted: [] };
  if (merge && o.fromImageKargs !== false) {
    diff = kargsDifference(
      merge.kernelArgs,
      await commitKargs(o.sysroot, merge.checksum),
      await commitKargs(o.sysroot, o.commit),
    );
  }
  const previousOrigin = merge
    ? await readBoundedText(`${deployDir(o.sysroot, merge)}.origin`, {
        maxBytes: READ_LIMITS.attribute,
        what: 'origin file',
      }).catch(() => null)
    : null;
  const rewritten = rewriteOrigin(previousOrigin, o.origin, merge ? `${deployDir(o.sysroot, merge)}.origin` : 'origin');
  const originText = o.requests ? withRequests(rewritten, o.requests) : rewritten;

  const tmp = await mkdtemp(join(tmpdir(), 'atomic-deploy-'));
  const unregister = onInterrupt(() => rm(tmp, { recursive: true, force: true }));
  try {
    const originFile = join(tmp, 'origin');
    await writeFile(originFile, originText);
    let kargs: string[];
    if (hasEdits(o.kargs)) {
      const base = o.baseKernelArgs ?? merge?.kernelArgs ?? [];
      const fromImage = [...base.filter((a) => !diff.deleted.includes(a)), ...diff.appended];
      kargs = ['--karg-none', ...applyKargsEdits(fromImage, o.kargs!).map((a) => `--karg-append=${a}`)];
    } else {
      // Relative to the merge deployment's arguments, which ostree reads itself (none: it keeps them as they are).
      kargs = [...diff.appended.map((a) => `--karg-append=${a}`), ...diff.deleted.map((a) => `--karg-delete=${a}`)];
    }
    await ostree(
      [
        'admin',
        'deploy',
        `--sysroot=${o.sysroot}`,
        `--os=${o.osname}`,
        ...(o.stage ? ['--stage'] : []),
        `--origin-file=${originFile}`,
        ...kargs,
        o.commit,
      ],
      [o.sysroot, tmp],
      `deploy ${o.commit.slice(0, 12)}`,
    );
  } finally {
    unregister();
    await rm(tmp, { recursive: true, force: true });
  }
  return diff;
}
