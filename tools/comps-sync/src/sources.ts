/**
 * Where the tasks and indexes come from: a mirror (verified, cached) or files
 * given on the command line (a .desc or tasksel-data .deb; Packages or Packages.xz).
 * Local files are read only if they are regular files, and every read is bounded.
 */
import { readBoundedText, ToolError, usageError } from '@debian-atomic/lib';
import { parseTaskDescs, type TaskDesc } from './desc.js';
import { DESC_LIMITS, descFromDeb, fetchDeb, fetchPackagesIndex, fetchRelease, type MirrorOptions } from './fetch.js';
import { PACKAGES_LIMITS, PackagesIndexReader, type PackagesIndex } from './packages.js';
import { streamText, xzText } from './stream.js';
import { ARCHES } from './tasksfile.js';

export interface Sources {
  tasks: Map<string, TaskDesc>;
  indexes: PackagesIndex[];
  /** Provenance for the JSON report. */
  source: Record<string, unknown>;
  warnings: string[];
}

/** A .desc file (or .desc.xz): small, read whole but bounded. */
async function readDesc(file: string): Promise<string> {
  if (file.endsWith('.deb')) return descFromDeb(file);
  if (!file.endsWith('.xz')) return readBoundedText(file, { maxBytes: DESC_LIMITS.member });
  const parts: string[] = [];
  await xzText({ file }, 'task descriptions', DESC_LIMITS.member, (text) => parts.push(text));
  return parts.join('');
}

/** A Packages or Packages.xz file, parsed as it is read (or decompressed): never held whole. */
export async function readPackagesFile(file: string, arch: string): Promise<PackagesIndex> {
  const reader = new PackagesIndexReader(file, arch);
  await streamText(file, 'Packages index', PACKAGES_LIMITS.bytes, (text) => reader.push(text));
  return reader.end();
}

/**
 * Pair --packages values with arches: `amd64=FILE`, or plain FILEs in the order of --arch.
 */
export function pairPackagesFiles(values: readonly string[], arches: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const plain: string[] = [];
  for (const v of values) {
    const m = /^([a-z0-9]+)=(.+)$/.exec(v);
    if (m && (ARCHES as readonly string[]).includes(m[1]!)) {
      if (!arches.includes(m[1]!)) throw usageError(`--packages ${v}: ${m[1]} is not in --arch ${arches.join(',')}`);
      out.set(m[1]!, m[2]!);
    } else plain.push(v);
  }
  const rest = arches.filter((a) => !out.has(a));
  if (plain.length !== rest.length) {
    throw usageError(
      `--packages: ${values.length} file(s) for ${arches.length} arch(es) (${arches.join(', ')})`,
      'give one Packages file per --arch, in the same order, or write ARCH=FILE',
    );
  }
  rest.forEach((a, i) => out.set(a, plain[i]!));
  return out;
}

export async function loadOffline(
  desc: string,
  packages: readonly string[],
  arches: readonly string[],
): Promise<Sources> {
  const files = pairPackagesFiles(packages, arches);
  const descText = await readDesc(desc);
  const indexes: PackagesIndex[] = [];
  for (const arch of arches) indexes.push(await readPackagesFile(files.get(arch)!, arch));
  return {
    tasks: parseTaskDescs(descText, desc),
    indexes,
    source: { desc, packages: Object.fromEntries(files) },
    warnings: [],
  };
}

export async function loadFromMirror(opts: MirrorOptions): Promise<Sources> {
  const t0 = Date.now();
  const secs = (t: number) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
  const rel = await fetchRelease(opts);
  opts.progress?.(`verified ${rel.url} (${secs(t0)})`);
  const indexes: PackagesIndex[] = [];
  const fetched: Record<string, unknown> = {};
  for (const arch of opts.arches) {
    const t = Date.now();
    const idx = await fetchPackagesIndex(opts, rel, arch);
    indexes.push(idx.index);
    fetched[arch] = { url: idx.url, sha256: idx.sha256 };
    opts.progress?.(`${idx.cached ? 'cached' : 'fetched'} ${idx.url} (${secs(t)})`);
  }
  // tasksel-data is Architecture: all: the same .deb on every arch.
  const t = Date.now();
  const entry = indexes[0]!.packages.get('tasksel-data');
  if (!entry) throw new ToolError('packages', `${indexes[0]!.file}: no tasksel-data package in ${opts.suite}`);
  const deb = await fetchDeb(opts, entry, indexes[0]!.file);
  const descText = await descFromDeb(deb.path);
  opts.progress?.(`${deb.cached ? 'cached' : 'fetched'} ${deb.url} (${secs(t)})`);
  return {
    tasks: parseTaskDescs(descText, `${deb.url}:/usr/share/tasksel/descs/debian-tasks.desc`),
    indexes,
    source: {
      mirror: opts.mirror,
      suite: opts.suite,
      release: { url: rel.url, date: rel.release.date, validUntil: rel.release.validUntil, signers: rel.signers },
      packages: fetched,
      taskselData: { version: entry.version, url: deb.url, sha256: deb.sha256 },
    },
    warnings: rel.warnings,
  };
}
