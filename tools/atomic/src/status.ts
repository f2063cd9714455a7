/** `atomic status`: the deployments as a Host document (--json) or as rpm-ostree prints them. */
import { hasRequests } from './origin.js';
import { API_VERSION, type BootloaderSummary, type DeploymentJson, type Host, type LayeringJson } from './schema.js';
import type { Deployment } from './sysroot.js';

export function deploymentJson(d: Deployment): DeploymentJson {
  return {
    osname: d.osname,
    checksum: d.checksum,
    serial: d.serial,
    index: d.index,
    version: d.version ?? null,
    timestamp: d.timestamp === undefined ? null : new Date(d.timestamp * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    base: d.base ?? null,
    origin:
      d.origin === null
        ? null
        : d.origin.kind === 'ostree'
          ? { type: 'ostree', refspec: d.origin.refspec }
          : { type: 'image', image: d.origin.image, digest: d.origin.digest ?? null },
    pinned: d.pinned,
    layering: layeringJson(d),
    kernelArgs: d.kernelArgs,
  };
}

export function layeringJson(d: Deployment): LayeringJson | null {
  if (!d.layered && !hasRequests(d.requests)) return null;
  return {
    baseCommit: d.layered?.base ?? d.checksum,
    requested: d.requests.packages,
    requestedLocal: d.requests.local.map((l) => `${l.sha256}:${l.name}`),
    removed: d.requests.remove,
    layeredPackages: d.layered?.added ?? [],
    removedPackages: d.layered?.removed ?? [],
  };
}

/** `bootloader`: the ESP against the booted image (bootloader.ts); null without a state file. */
export function hostDocument(deployments: readonly Deployment[], bootloader: BootloaderSummary | null = null): Host {
  const find = (f: (d: Deployment) => boolean) => {
    const d = deployments.find(f);
    return d ? deploymentJson(d) : null;
  };
  const named = (d: Deployment) => d.booted || d.staged || d.pending || d.rollback;
  return {
    apiVersion: API_VERSION,
    kind: 'Host',
    status: {
      booted: find((d) => d.booted),
      staged: find((d) => d.staged),
      pending: find((d) => d.pending && !d.staged),
      rollback: find((d) => d.rollback),
      otherDeployments: deployments.filter((d) => !named(d)).map(deploymentJson),
      bootloader,
    },
  };
}

/** rpm-ostree's layout: one block per deployment, "* " marks the booted one, labels right-aligned. */
export function formatStatus(deployments: readonly Deployment[]): string {
  if (deployments.length === 0) return 'No deployments.\n';
  const blocks = deployments.map((d) => {
    const o = d.origin;
    const title =
      o === null
        ? `(no origin${d.originProblem ? `: ${d.originProblem}` : ''})`
        : o.kind === 'ostree'
          ? `ostree: ${o.refspec}`
          : o.image;
    const state = d.staged ? ' (staged)' : d.pending ? ' (pending)' : d.rollback ? ' (rollback)' : '';
    const rows: [string, string][] = [];
    if (o?.kind === 'image' && o.digest) rows.push(['Digest', o.digest]);
    const when =
      d.timestamp === undefined ? '' : ` (${new Date(d.timestamp * 1000).toISOString().replace('.000Z', 'Z')})`;
    if (d.version !== undefined || when) rows.push(['Version', `${d.version ?? '(none)'}${when}`]);
    rows.push(['Commit', d.checksum]);
    if (d.base) rows.push(['Base', `${d.base} (derived image)`]);
    if (d.layered) rows.push(['BaseCommit', d.layered.base]);
    const list = (xs: readonly string[]) => xs.join(', ');
    if (d.requests.packages.length) rows.push(['LayeredPackages', list(d.requests.packages)]);
    if (d.requests.local.length) rows.push(['LocalPackages', list(d.requests.local.map((l) => l.name))]);
    if (d.requests.remove.length) rows.push(['RemovedBasePackages', list(d.requests.remove)]);
    if (d.layered?.added.length) rows.push(['Installed', list(d.layered.added)]);
    if (d.layered?.removed.length) rows.push(['Removed', list(d.layered.removed)]);
    if (d.serial !== 0) rows.push(['Serial', String(d.serial)]);
    rows.push(['OS', d.osname]);
    if (d.pinned) rows.push(['Pinned', 'yes']);
    rows.push(['KernelArgs', d.kernelArgs.join(' ')]);
    return [`${d.booted ? '*' : ' '} ${title}${state}`, ...rows.map(([k, v]) => `${k.padStart(16)}: ${v}`)].join('\n');
  });
  return `Deployments:\n${blocks.join('\n\n')}\n`;
}
