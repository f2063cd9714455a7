/**
 * `atomic install PKG…`, `uninstall`, `override remove|reset`: the layering requests of what boots
 * next, edited, then a new deployment of the base + the requests (layering.ts). rpm-ostree's rules:
 * a package is asked for once; one the base has is not layered; only layered packages are
 * uninstalled, only base packages overridden.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { run, ToolError, usageError } from '@debian-atomic/lib';
import { packagesOfCommit } from './db.js';
import { deploy, mergeDeployment } from './deploy.js';
import { buildLayered, localDebPath, syncBaseRefs, type Layered } from './layering.js';
import { hasRequests, PACKAGE_NAME, type Origin, type Requests } from './origin.js';
import { deployDir, readDeployments, repoOf, type Deployment } from './sysroot.js';

/** What a layered deployment is built on: its base commit, or the commit itself. */
export const baseOf = (d: Deployment): string => d.layered?.base ?? d.checksum;

const isLocalDeb = (arg: string) => arg.endsWith('.deb') || arg.includes('/');

export interface LayerTarget {
  sysroot: string;
  osname: string;
  /** What boots next: the requests start from its. */
  next: Deployment;
  deployments: readonly Deployment[];
  stage: boolean;
}

/** A local .deb: its Package field and digest; kept in the stateroot's /var so that every later upgrade can apply it again. */
async function keepLocalDeb(t: LayerTarget, file: string): Promise<{ sha256: string; name: string }> {
  const path = resolve(file);
  const data = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw usageError(`${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  const name = (
    await run('dpkg-deb', ['--field', path, 'Package'], { what: `read ${file}`, providedBy: 'dpkg' })
  ).stdout.trim();
  if (!PACKAGE_NAME.test(name)) throw usageError(`${file}: not a Debian package (no valid Package field)`);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const to = localDebPath(t.sysroot, t.osname, sha256);
  await mkdir(dirname(to), { recursive: true });
  await copyFile(path, `${to}.tmp`);
  await rename(`${to}.tmp`, to);
  return { sha256, name };
}

export type RequestEdit =
  | { op: 'install'; args: string[] }
  | { op: 'uninstall'; args: string[] }
  | { op: 'override-remove'; args: string[] }
  | { op: 'override-reset'; args: string[]; all: boolean };

/** The requests after an edit; errors say why an edit does not apply (exit 1) or is malformed (exit 2). */
export async function editRequests(t: LayerTarget, r: Requests, e: RequestEdit): Promise<Requests> {
  const out: Requests = { packages: [...r.packages], local: [...r.local], remove: [...r.remove] };
  const base = baseOf(t.next);
  const basePkgs = new Set((await packagesOfCommit(repoOf(t.sysroot), base)).map((p) => p.name));
  const layered = new Set([...r.packages, ...r.local.map((l) => l.name)]);
  const named = (a: string) => {
    if (!PACKAGE_NAME.test(a)) throw usageError(`${a}: not a Debian package name`);
    return a.replace(/:.*$/, '');
  };
  for (const a of e.args) {
    if (e.op === 'install') {
      if (isLocalDeb(a)) {
        const deb = await keepLocalDeb(t, a);
        if (layered.has(deb.name))
          throw new ToolError('already-requested', `${deb.name} (${a}) is already layered`, {
            hint: `atomic uninstall ${deb.name} first to replace it`,
          });
        out.local.push(deb);
        layered.add(deb.name);
        continue;
      }
      const n = named(a);
      if (layered.has(n)) throw new ToolError('already-requested', `${a} is already requested`);
      if (r.remove.includes(n))
        throw new ToolError('removed-base', `${a} is a base package removed by an override`, {
          hint: `atomic override reset ${n}`,
        });
      if (basePkgs.has(n))
        throw new ToolError('in-base', `${a} is already installed in the base image ${base.slice(0, 12)}`);
      out.packages.push(a);
      layered.add(n);
    } else if (e.op === 'uninstall') {
      const n = named(a);
      if (!layered.has(n))
        throw new ToolError('not-requested', `${a} is not a layered package`, {
          hint: basePkgs.has(n)
            ? `it comes with the base image: atomic override remove ${n}`
            : `the layered packages: ${[...layered].join(', ') || 'none'}`,
        });
      out.packages = out.packages.filter((p) => p.replace(/:.*$/, '') !== n);
      out.local = out.local.filter((l) => l.name !== n);
      layered.delete(n);
    } else if (e.op === 'override-remove') {
      const n = named(a);
      if (out.remove.includes(n)) throw new ToolError('already-removed', `${a} is already removed by an override`);
      if (!basePkgs.has(n))
        throw new ToolError('not-in-base', `${a} is not a package of the base image ${base.slice(0, 12)}`, {
          hint: layered.has(n) ? `a layered package: atomic uninstall ${n}` : undefined,
        });
      out.remove.push(n);
    } else {
      const n = named(a);
      if (!out.remove.includes(n))
        throw new ToolError('not-overridden', `${a} has no override`, {
          hint: `the removed base packages: ${out.remove.join(', ') || 'none'}`,
        });
      out.remove = out.remove.filter((x) => x !== n);
    }
  }
  if (e.op === 'override-reset' && e.all) out.remove = [];
  return out;
}

export interface LayerDeployed {
  commit: string;
  base: string;
  layered: Layered | null;
}

/** A new deployment of base + requests (the base itself when there are none), with origin and requests recorded; bases of layered deployments keep a ref. */
export async function deployLayered(
  t: LayerTarget,
  base: string,
  origin: Origin,
  requests: Requests,
  note?: (m: string) => void,
): Promise<LayerDeployed> {
  let layered: Layered | null = null;
  let commit = base;
  if (hasRequests(requests)) {
    const merge = mergeDeployment(t.deployments, t.osname)!;
    layered = await buildLayered({
      sysroot: t.sysroot,
      osname: t.osname,
      base,
      requests,
      etcApt: join(deployDir(t.sysroot, merge), 'etc/apt'),
      note,
    });
    commit = layered.commit;
  }
  await deploy({ sysroot: t.sysroot, osname: t.osname, commit, origin, stage: t.stage, requests });
  await keepBases(t.sysroot);
  return { commit, base, layered };
}

/** The base refs follow the deployments (a rollback's base stays while it is deployed). */
export async function keepBases(sysroot: string): Promise<void> {
  const ds = await readDeployments(sysroot);
  await syncBaseRefs(sysroot, [...new Set(ds.flatMap((d) => (d.layered ? [d.layered.base] : [])))]);
}

/** How a layering result reads: what was added and removed. */
export function describeLayered(l: Layered | null): string {
  if (!l) return 'no layered packages';
  const parts = [...l.added.map((p) => `+${p.name} ${p.version}`), ...l.removed.map((p) => `-${p.name} ${p.version}`)];
  return parts.length ? parts.join(', ') : 'no package changes';
}
