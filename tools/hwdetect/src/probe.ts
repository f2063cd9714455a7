/**
 * Read hardware facts from a sysfs and a procfs tree: the live /sys and /proc,
 * or an extracted capture. Only reads files; an unreadable entry is skipped with
 * a warning (returned, never printed: the caller decides), a missing optional
 * one silently. Synchronous on purpose: a few hundred tiny reads are faster
 * without the thread pool, and the budget is 100 ms.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inputError } from '@debian-atomic/lib';
import {
  CPU_FLAGS_OF_INTEREST,
  FACTS_VERSION,
  type Disk,
  type Facts,
  type PciDevice,
  type StorageKind,
  STORAGE_KINDS,
  type VirtualizationType,
} from './facts.js';
import { splitCmdline } from './kargs.js';
import { classifyPci, pciModalias } from './pci.js';

export interface ProbeOptions {
  sysfs?: string;
  proc?: string;
}

export interface ProbeResult {
  facts: Facts;
  warnings: string[];
}

/** File reads that turn every failure into "absent", recording the unexpected ones. */
class Reader {
  readonly warnings: string[] = [];

  private problem(path: string, err: unknown, optional: boolean): undefined {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (!(optional && (code === 'ENOENT' || code === 'ENOTDIR'))) this.warnings.push(`cannot read ${path}: ${code}, skipped`);
    return undefined;
  }

  text(path: string, optional = true): string | undefined {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (err) {
      return this.problem(path, err, optional);
    }
  }

  /** A symlink's target; absent when there is no link. */
  link(path: string): string | undefined {
    try {
      return readlinkSync(path);
    } catch (err) {
      // EINVAL: exists but is not a symlink (old kernels' /sys/block/X were directories).
      if ((err as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
      return this.problem(path, err, true);
    }
  }

  list(dir: string): string[] {
    try {
      return readdirSync(dir).sort();
    } catch (err) {
      this.problem(dir, err, true);
      return [];
    }
  }

  exists(path: string): boolean {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  }
}

function requireDir(path: string, option: string): void {
  let ok = false;
  try {
    ok = statSync(path).isDirectory();
  } catch {
    /* reported below */
  }
  if (!ok) throw inputError(`${option} ${path}: not a directory`);
}

const hexId = (text: string | undefined): number | undefined => (text !== undefined && /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : undefined);
const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

function probePci(r: Reader, sysfs: string): Facts['pci'] {
  const pci: Facts['pci'] = { gpu: [], audio: [], storage: [], network: [], other: [] };
  const root = join(sysfs, 'bus/pci/devices');
  for (const address of r.list(root)) {
    const dir = join(root, address);
    const classCode = hexId(r.text(join(dir, 'class'), false));
    const vendor = hexId(r.text(join(dir, 'vendor'), false));
    const device = hexId(r.text(join(dir, 'device'), false));
    if (classCode === undefined || vendor === undefined || device === undefined) {
      r.warnings.push(`PCI device ${address}: class, vendor or device unreadable or not hex, skipped`);
      continue;
    }
    const subVendor = hexId(r.text(join(dir, 'subsystem_vendor')));
    const subDevice = hexId(r.text(join(dir, 'subsystem_device')));
    const driverLink = r.link(join(dir, 'driver'));
    const { group, kind } = classifyPci(classCode, vendor, device);
    const dev: PciDevice = {
      address,
      class: `0x${classCode.toString(16).padStart(6, '0')}`,
      vendor: hex4(vendor),
      device: hex4(device),
      subsystemVendor: subVendor === undefined ? null : hex4(subVendor),
      subsystemDevice: subDevice === undefined ? null : hex4(subDevice),
      kind,
      driver: driverLink === undefined ? null : driverLink.split('/').pop()!,
      modalias: r.text(join(dir, 'modalias')) || pciModalias(classCode, vendor, device, subVendor ?? 0, subDevice ?? 0),
    };
    if (group === 'gpu') dev.bootVga = r.text(join(dir, 'boot_vga')) === '1';
    pci[group].push(dev);
  }
  return pci;
}

const PCI_ADDRESS = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** What kind of disk, from where its /sys/block link points in the device tree. */
export function diskKind(name: string, segments: readonly string[]): StorageKind {
  const has = (re: RegExp) => segments.some((s) => re.test(s));
  if (has(/^usb\d+$/)) return 'usb';
  if (name.startsWith('nvme') || segments.includes('nvme')) return 'nvme';
  if (name.startsWith('mmcblk') || has(/^mmc\d+$/)) return 'mmc';
  if (has(/^virtio\d+$/)) return 'virtio';
  if (has(/^ata\d+$/)) return 'sata';
  if (has(/^host\d+$/)) return 'scsi';
  return 'other';
}

function probeStorage(r: Reader, sysfs: string): Facts['storage'] {
  const disks: Disk[] = [];
  const root = join(sysfs, 'block');
  for (const name of r.list(root)) {
    const segments = (r.link(join(root, name)) ?? '').split('/');
    // loop, zram, dm-*, md*: not hardware.
    if (segments.includes('virtual')) continue;
    const flag = (file: string) => {
      const v = r.text(join(root, name, file));
      return v === undefined ? null : v === '1';
    };
    const sectors = r.text(join(root, name, 'size'));
    disks.push({
      name,
      kind: diskKind(name, segments),
      controller: segments.filter((s) => PCI_ADDRESS.test(s)).pop() ?? null,
      rotational: flag('queue/rotational'),
      removable: flag('removable'),
      sizeBytes: sectors !== undefined && /^\d+$/.test(sectors) ? Number(sectors) * 512 : null,
    });
  }
  const kinds = STORAGE_KINDS.filter((k) => disks.some((d) => d.kind === k));
  return { kinds, disks };
}

/** "0-3,8,10-11" → 7 */
export function countCpuList(list: string): number | undefined {
  let n = 0;
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    n += m[2] === undefined ? 1 : Number(m[2]) - Number(m[1]) + 1;
  }
  return n > 0 ? n : undefined;
}

const LEVEL_FLAGS: [Facts['cpu']['level'] & string, string[]][] = [
  ['x86-64', ['lm', 'cmov', 'cx8', 'fpu', 'fxsr', 'mmx', 'syscall', 'sse', 'sse2']],
  ['x86-64-v2', ['cx16', 'lahf_lm', 'popcnt', 'pni', 'sse4_1', 'sse4_2', 'ssse3']],
  ['x86-64-v3', ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave']],
  ['x86-64-v4', ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl']],
];

/** The x86-64 micro-architecture level (psABI) the flags reach, or null when not x86-64. */
export function x86Level(flags: ReadonlySet<string>): Facts['cpu']['level'] {
  let level: Facts['cpu']['level'] = null;
  for (const [name, needed] of LEVEL_FLAGS) {
    if (!needed.every((f) => flags.has(f))) break;
    level = name;
  }
  return level;
}

function probeCpu(r: Reader, sysfs: string, proc: string): { cpu: Facts['cpu']; allFlags: Set<string> } {
  const fields = new Map<string, string>();
  let processors = 0;
  for (const line of (r.text(join(proc, 'cpuinfo'), false) ?? '').split('\n')) {
    const m = /^([^:]+?)\s*:\s?(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'processor') processors++;
    if (!fields.has(m[1]!)) fields.set(m[1]!, m[2]!);
  }
  const allFlags = new Set((fields.get('flags') ?? '').split(/\s+/).filter(Boolean));
  const vendorId = fields.get('vendor_id') ?? null;
  const online = r.text(join(sysfs, 'devices/system/cpu/online'));
  return {
    allFlags,
    cpu: {
      vendor: vendorId === 'GenuineIntel' ? 'intel' : vendorId === 'AuthenticAMD' ? 'amd' : 'other',
      vendorId,
      model: fields.get('model name') ?? null,
      count: (online === undefined ? undefined : countCpuList(online)) ?? (processors || null),
      flags: CPU_FLAGS_OF_INTEREST.filter((f) => allFlags.has(f)),
      level: x86Level(allFlags),
    },
  };
}

function probeMemory(r: Reader, proc: string): Facts['memory'] {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(r.text(join(proc, 'meminfo'), false) ?? '');
  return { totalMiB: m ? Math.floor(Number(m[1]) / 1024) : null };
}

/** DMI vendors that name the hypervisor (systemd's detect-virt table, the common part). */
const DMI_VENDORS: [RegExp, VirtualizationType][] = [
  [/^VMware/, 'vmware'],
  [/^innotek GmbH|^Oracle Corporation/, 'oracle'],
  [/^Microsoft Corporation/, 'microsoft'],
  [/^Xen/, 'xen'],
  [/^Amazon EC2/, 'amazon'],
  [/^Google/, 'google'],
];

function probeVirtualization(r: Reader, sysfs: string, dmi: Facts['dmi'], hypervisorFlag: boolean): Facts['virtualization'] {
  const evidence: string[] = [];
  if (hypervisorFlag) evidence.push('cpu flag hypervisor');
  const hypervisorType = r.text(join(sysfs, 'hypervisor/type'));
  if (hypervisorType) evidence.push(`/sys/hypervisor/type ${hypervisorType}`);
  const clocksources = (r.text(join(sysfs, 'devices/system/clocksource/clocksource0/available_clocksource')) ?? '').split(/\s+/);
  const kvmClock = clocksources.includes('kvm-clock');
  if (kvmClock) evidence.push('clocksource kvm-clock');
  const vendor = dmi.sysVendor ?? '';
  if (vendor) evidence.push(`dmi sys_vendor ${vendor}`);

  let type: VirtualizationType = 'none';
  const byDmi = DMI_VENDORS.find(([re]) => re.test(vendor))?.[1];
  const productVirtual = dmi.productName === 'Virtual Machine' || dmi.productName === 'VirtualBox';
  if (byDmi && (byDmi !== 'microsoft' || productVirtual)) type = byDmi;
  else if (hypervisorType === 'xen') type = 'xen';
  // QEMU with KVM reports kvm-clock; QEMU alone (TCG) does not.
  else if (kvmClock) type = 'kvm';
  else if (/^QEMU/.test(vendor)) type = 'qemu';
  else if (hypervisorFlag) type = 'vm-other';
  return { type, evidence };
}

function probeDmi(r: Reader, sysfs: string): Facts['dmi'] {
  const dir = join(sysfs, 'class/dmi/id');
  const chassis = r.text(join(dir, 'chassis_type'));
  return {
    sysVendor: r.text(join(dir, 'sys_vendor')) || null,
    productName: r.text(join(dir, 'product_name')) || null,
    chassisType: chassis !== undefined && /^\d+$/.test(chassis) ? Number(chassis) : null,
  };
}

export function probe(opts: ProbeOptions = {}): ProbeResult {
  const sysfs = opts.sysfs ?? '/sys';
  const proc = opts.proc ?? '/proc';
  requireDir(sysfs, '--sysfs');
  requireDir(proc, '--proc');
  const r = new Reader();
  const { cpu, allFlags } = probeCpu(r, sysfs, proc);
  const dmi = probeDmi(r, sysfs);
  const facts: Facts = {
    version: FACTS_VERSION,
    pci: probePci(r, sysfs),
    cpu,
    memory: probeMemory(r, proc),
    storage: probeStorage(r, sysfs),
    firmware: r.exists(join(sysfs, 'firmware/efi')) ? 'uefi' : 'bios',
    virtualization: probeVirtualization(r, sysfs, dmi, allFlags.has('hypervisor')),
    dmi,
    iommu: { groups: r.list(join(sysfs, 'kernel/iommu_groups')).length },
    kernel: { cmdline: splitCmdline(r.text(join(proc, 'cmdline'), false) ?? '') },
  };
  return { facts, warnings: r.warnings };
}
