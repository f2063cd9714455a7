/**
 * The machine's disks as `atomic install to-disk` sees them: lsblk's tree (partitions, holders,
 * mount points), which of them may be installed to, and what an install would destroy.
 * Everything here reads; nothing writes.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { run, ToolError, usageError } from '@debian-atomic/lib';

/** The smallest disk an install accepts: the ESP, a deployment and room for an update. */
export const MIN_DISK_BYTES = 4 * 1024 ** 3;

const LSBLK_COLUMNS = 'NAME,PATH,SIZE,TYPE,RO,RM,MODEL,TRAN,FSTYPE,LABEL,PARTLABEL,PARTTYPE,MOUNTPOINTS';

// lsblk --json: numbers with --bytes; booleans as true/false (util-linux ≥ 2.37) or "0"/"1" (older).
const flag = z
  .union([z.boolean(), z.string(), z.number()])
  .nullish()
  .transform((v) => v === true || v === '1' || v === 1);
const text = z
  .string()
  .nullish()
  .transform((v) => v ?? null);

export interface BlockDevice {
  name: string;
  path: string;
  size: number;
  type: string;
  ro: boolean;
  rm: boolean;
  model: string | null;
  tran: string | null;
  fstype: string | null;
  label: string | null;
  partlabel: string | null;
  parttype: string | null;
  mountpoints: string[];
  children: BlockDevice[];
}

const deviceSchema: z.ZodType<BlockDevice, unknown> = z.lazy(() =>
  z.object({
    name: z.string(),
    path: z.string(),
    size: z.union([z.number(), z.string()]).transform((v) => Number(v)),
    type: z.string(),
    ro: flag,
    rm: flag,
    model: text.transform((v) => v?.trim() || null),
    tran: text,
    fstype: text,
    label: text,
    partlabel: text,
    parttype: text,
    mountpoints: z
      .array(z.string().nullable())
      .nullish()
      .transform((v) => (v ?? []).filter((m): m is string => Boolean(m))),
    children: z
      .array(deviceSchema)
      .optional()
      .transform((v) => v ?? []),
  }),
);

/** lsblk's JSON (lsblk --json --bytes -o LSBLK_COLUMNS), checked. */
export function parseLsblk(json: string): BlockDevice[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    throw new ToolError('lsblk', `lsblk printed no JSON: ${(err as Error).message}`);
  }
  const r = z.object({ blockdevices: z.array(deviceSchema) }).safeParse(data);
  if (!r.success) throw new ToolError('lsblk', `lsblk's JSON is not as expected: ${r.error.issues[0]?.message}`);
  return r.data.blockdevices;
}

/** The block devices (one device and what is on it, or all of them). */
export async function lsblk(device?: string): Promise<BlockDevice[]> {
  const r = await run('lsblk', ['--json', '--bytes', '--output', LSBLK_COLUMNS, ...(device ? [device] : [])], {
    providedBy: 'util-linux',
    what: 'list the disks',
  });
  return parseLsblk(r.stdout);
}

/** Every node of a tree: the device, its partitions, what is built on them (LVM, RAID, crypt). */
export function walk(d: BlockDevice): BlockDevice[] {
  return [d, ...d.children.flatMap(walk)];
}

const sizeText = (n: number) =>
  n >= 1024 ** 4
    ? `${(n / 1024 ** 4).toFixed(1)} TiB`
    : n >= 1024 ** 3
      ? `${(n / 1024 ** 3).toFixed(1)} GiB`
      : `${Math.round(n / 1024 ** 2)} MiB`;
export { sizeText };

/** One line about a disk: path, size, model, bus. */
export function describeDisk(d: BlockDevice): string {
  return [d.path, sizeText(d.size), d.model, d.tran, d.rm ? 'removable' : null].filter(Boolean).join('  ');
}

/** Why the disk is in use (mounted, swap, held by LVM/RAID/crypt), or null. */
export function inUse(d: BlockDevice): string | null {
  for (const n of walk(d)) {
    if (n.mountpoints.length)
      return `${n.path} is ${n.mountpoints.includes('[SWAP]') ? 'in use as swap' : `mounted on ${n.mountpoints.join(', ')}`}`;
    if (n !== d && n.type !== 'part') return `${n.path} (${n.type}) is built on it`;
  }
  return null;
}

/** What an install would destroy: partitions and file systems, one line each; empty for a blank disk. */
export function contents(d: BlockDevice): string[] {
  const out: string[] = [];
  if (d.fstype) out.push(`${d.path}: a ${d.fstype} file system on the whole disk${d.label ? ` (${d.label})` : ''}`);
  for (const p of d.children)
    out.push(
      `${p.path}: ${sizeText(p.size)}${p.fstype ? ` ${p.fstype}` : ''}${p.label ? ` "${p.label}"` : ''}${p.partlabel ? ` (partition ${p.partlabel})` : ''}`,
    );
  return out;
}

/** Why the disk cannot be installed to (read-only, too small, not a whole disk), or null. */
export function unsuitable(d: BlockDevice): string | null {
  // A loop device named on the command line is a disk too (bootc's --via-loopback: installing into an image file).
  if (d.type === 'part') return `${d.path} is a partition: install to-disk takes a whole disk`;
  if (d.type !== 'disk' && d.type !== 'loop') return `${d.path} is a ${d.type} device, not a whole disk`;
  if (d.ro) return `${d.path} is read-only`;
  if (d.size < MIN_DISK_BYTES)
    return `${d.path} holds ${sizeText(d.size)}: an install needs at least ${sizeText(MIN_DISK_BYTES)}`;
  return null;
}

/** The disks a person may choose from: whole, writable, large enough, not in use (zram and the like left out). */
export function candidates(all: readonly BlockDevice[]): BlockDevice[] {
  return all.filter(
    (d) => d.type === 'disk' && !/^(zram|ram|loop)/.test(d.name) && unsuitable(d) === null && inUse(d) === null,
  );
}

/** The one device lsblk shows for a path, checked: a whole disk, writable, large enough, not in use. */
export function checkTarget(path: string, devices: readonly BlockDevice[]): BlockDevice {
  const d = devices[0];
  if (!d) throw usageError(`${path}: lsblk knows no such block device`);
  const why = unsuitable(d) ?? inUse(d);
  if (why)
    throw new ToolError('disk-unsuitable', `cannot install to ${path}: ${why}`, {
      hint: 'choose another disk (lsblk lists them), or unmount what uses this one',
    });
  return d;
}

/**
 * The partitions of a freshly partitioned disk by number (1: the ESP, 2: the root, as written):
 * the kernel's numbers from sysfs, as lsblk's PARTTYPE needs udev or a probe to be filled in.
 */
export async function installedPartitions(
  d: BlockDevice,
  partitionNumber: (name: string) => Promise<number | null> = sysfsPartition,
): Promise<{ esp: string; root: string }> {
  const byNumber = new Map<number, string>();
  for (const c of d.children) {
    const n = c.type === 'part' ? await partitionNumber(c.name) : null;
    if (n !== null) byNumber.set(n, c.path);
  }
  const esp = byNumber.get(1);
  const root = byNumber.get(2);
  if (!esp || !root)
    throw new ToolError(
      'partition-missing',
      `${d.path}: partitions 1 and 2 are not there after partitioning (lsblk shows ${d.children.map((c) => c.path).join(', ') || 'none'})`,
    );
  return { esp, root };
}

async function sysfsPartition(name: string): Promise<number | null> {
  const text = await readFile(`/sys/class/block/${name}/partition`, 'utf8').catch(() => null);
  return text === null || !/^\d+\s*$/.test(text) ? null : Number(text);
}
