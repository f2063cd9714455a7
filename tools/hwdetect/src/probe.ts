/**
 * Read hardware facts from a sysfs and a procfs tree: the live /sys and /proc,
 * or an extracted capture. Only reads files; an unreadable entry is skipped with
 * a warning (returned, never printed: the caller decides), a missing optional
 * one silently. Only regular files, each within its bound (a FIFO or a device is
 * never opened: an input error), and values no kernel reports are left out with a
 * warning, so the facts always pass FactsSchema. Synchronous on purpose: a few
 * hundred tiny reads are faster without the thread pool, and the budget is 100 ms.
 */
import { readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { controlCharName, inputError, READ_LIMITS, readBoundedTextSync, ToolError } from '@debian-atomic/lib';
import {
  CPU_FLAGS_OF_INTEREST,
  FACTS_LIMITS,
  FACTS_VERSION,
  PCI_ADDRESS,
  PCI_MODALIAS,
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
  /** What all files read may add up to (default: a cpuinfo at its bound, and as much again). */
  maxBytes?: number;
}

export interface ProbeResult {
  facts: Facts;
  warnings: string[];
}

const TREE_HINT = 'give --sysfs and --proc a real sysfs and procfs, or an extracted capture of them';
const PROBE_BYTES = 2 * READ_LIMITS.large;

/** File reads that turn every failure into "absent", recording the unexpected ones. */
class Reader {
  readonly warnings: string[] = [];
  /** Bytes read so far: a real machine's few hundred attributes are a few KiB, cpuinfo aside. */
  private bytes = 0;
  constructor(private readonly maxBytes: number) {}

  private problem(path: string, err: unknown, optional: boolean): undefined {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (!(optional && (code === 'ENOENT' || code === 'ENOTDIR')))
      this.warnings.push(`cannot read ${path}: ${code}, skipped`);
    return undefined;
  }

  /**
   * A file's text, at most maxBytes. Real sysfs has unreadable attributes (EIO,
   * EACCES, a directory): skipped with a warning. A FIFO, socket or device where a
   * regular file belongs, or a file over the bound, is not a machine but a bad
   * tree: an input error (exit 2) naming the path, before a byte is read.
   */
  text(path: string, optional = true, maxBytes: number = READ_LIMITS.attribute): string | undefined {
    let st: Stats;
    try {
      st = statSync(path);
    } catch (err) {
      return this.problem(path, err, optional);
    }
    if (st.isDirectory()) {
      this.warnings.push(`cannot read ${path}: EISDIR, skipped`);
      return undefined;
    }
    if (!st.isFile()) throw inputError(`${path}: ${kindOf(st)}, expected a regular file`, { hint: TREE_HINT });
    if (st.size > maxBytes) throw tooLarge(path, maxBytes);
    let text: string;
    try {
      text = readBoundedTextSync(path, { maxBytes });
    } catch (err) {
      // Over the bound while reading (procfs and sysfs files stat smaller than they read).
      if (err instanceof ToolError && /larger than \d+ bytes/.test(err.summary)) throw tooLarge(path, maxBytes);
      this.warnings.push(`${err instanceof ToolError ? err.summary : `cannot read ${path}: ${String(err)}`}, skipped`);
      return undefined;
    }
    this.bytes += text.length;
    if (this.bytes > this.maxBytes)
      throw inputError(`${path}: the files probe read add up to more than ${this.maxBytes} bytes, stopped`, {
        hint: TREE_HINT,
      });
    return text.trim();
  }

  /** A one-line value of at most FACTS_LIMITS.text characters, else absent with a warning. */
  line(path: string, what: string): string | undefined {
    const v = this.text(path);
    if (v === undefined) return undefined;
    return this.bounded(v, `${path} (${what})`);
  }

  /** v if it is one line of at most `max` characters; else undefined, with a warning. */
  bounded(v: string, what: string, max: number = FACTS_LIMITS.text): string | undefined {
    const control = controlCharName(v);
    if (control === null && v.length <= max) return v;
    this.warnings.push(`${what}: ${control ? `contains ${control}` : `longer than ${max} characters`}, ignored`);
    return undefined;
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

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

const tooLarge = (path: string, max: number) =>
  inputError(`${path}: larger than ${max} bytes, refusing to read it`, { hint: TREE_HINT });

function requireDir(path: string, option: string): void {
  let ok = false;
  try {
    ok = statSync(path).isDirectory();
  } catch {
    /* reported below */
  }
  if (!ok) throw inputError(`${option} ${path}: not a directory`);
}

/** A hex id of at most `max` (0xffff for vendor and device ids, 0xffffff for a class code). */
const hexId = (text: string | undefined, max: number): number | undefined => {
  if (text === undefined || !/^0x[0-9a-f]{1,8}$/i.test(text)) return undefined;
  const n = parseInt(text, 16);
  return n <= max ? n : undefined;
};
const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/** A directory's entries, at most `max` of them (the rest skipped, with a warning). */
function entries(r: Reader, dir: string, max: number = FACTS_LIMITS.devices): string[] {
  const names = r.list(dir);
  if (names.length <= max) return names;
  r.warnings.push(`${dir}: more than ${max} entries, the rest skipped`);
  return names.slice(0, max);
}

function probePci(r: Reader, sysfs: string): Facts['pci'] {
  const pci: Facts['pci'] = { gpu: [], audio: [], storage: [], network: [], other: [] };
  const root = join(sysfs, 'bus/pci/devices');
  for (const address of entries(r, root)) {
    if (!PCI_ADDRESS.test(address)) {
      r.warnings.push(`${root}: ${JSON.stringify(address.slice(0, FACTS_LIMITS.text))} is not a PCI address, skipped`);
      continue;
    }
    const dir = join(root, address);
    const classCode = hexId(r.text(join(dir, 'class'), false), 0xffffff);
    const vendor = hexId(r.text(join(dir, 'vendor'), false), 0xffff);
    const device = hexId(r.text(join(dir, 'device'), false), 0xffff);
    if (classCode === undefined || vendor === undefined || device === undefined) {
      r.warnings.push(`PCI device ${address}: class, vendor or device unreadable or not hex, skipped`);
      continue;
    }
    const subVendor = hexId(r.text(join(dir, 'subsystem_vendor')), 0xffff);
    const subDevice = hexId(r.text(join(dir, 'subsystem_device')), 0xffff);
    const driverLink = r.link(join(dir, 'driver'));
    const { group, kind } = classifyPci(classCode, vendor, device);
    const rebuilt = () => pciModalias(classCode, vendor, device, subVendor ?? 0, subDevice ?? 0);
    const modalias = r.text(join(dir, 'modalias'));
    if (modalias && !PCI_MODALIAS.test(modalias))
      r.warnings.push(`${join(dir, 'modalias')}: not a PCI modalias, rebuilt from the ids`);
    const dev: PciDevice = {
      address,
      class: `0x${classCode.toString(16).padStart(6, '0')}`,
      vendor: hex4(vendor),
      device: hex4(device),
      subsystemVendor: subVendor === undefined ? null : hex4(subVendor),
      subsystemDevice: subDevice === undefined ? null : hex4(subDevice),
      kind,
      driver:
        driverLink === undefined
          ? null
          : (r.bounded(driverLink.split('/').pop()!, `${join(dir, 'driver')} (the driver name)`) ?? null),
      modalias: modalias && PCI_MODALIAS.test(modalias) ? modalias : rebuilt(),
    };
    if (group === 'gpu') dev.bootVga = r.text(join(dir, 'boot_vga')) === '1';
    pci[group].push(dev);
  }
  return pci;
}

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

/** A block device's size attribute (512-byte sectors) in bytes, if it is a number of bytes JSON can hold exactly. */
function sizeInBytes(r: Reader, path: string): number | null {
  const sectors = r.text(path);
  if (sectors === undefined || !/^\d+$/.test(sectors)) return null;
  const bytes = Number(sectors) * 512;
  if (Number.isSafeInteger(bytes)) return bytes;
  r.warnings.push(
    `${path}: ${sectors.length > 20 ? `${sectors.slice(0, 20)}...` : sectors} sectors is not a disk size, ignored`,
  );
  return null;
}

function probeStorage(r: Reader, sysfs: string): Facts['storage'] {
  const disks: Disk[] = [];
  const root = join(sysfs, 'block');
  for (const name of entries(r, root)) {
    if (r.bounded(name, `${root} (disk ${JSON.stringify(name.slice(0, 40))})`) === undefined) continue;
    const segments = (r.link(join(root, name)) ?? '').split('/');
    // loop, zram, dm-*, md*: not hardware.
    if (segments.includes('virtual')) continue;
    const flag = (file: string) => {
      const v = r.text(join(root, name, file));
      return v === undefined ? null : v === '1';
    };
    disks.push({
      name,
      kind: diskKind(name, segments),
      controller: segments.filter((s) => PCI_ADDRESS.test(s)).pop() ?? null,
      rotational: flag('queue/rotational'),
      removable: flag('removable'),
      sizeBytes: sizeInBytes(r, join(root, name, 'size')),
    });
  }
  const kinds = STORAGE_KINDS.filter((k) => disks.some((d) => d.kind === k));
  return { kinds, disks };
}

/** "0-3,8,10-11" → 7; undefined for anything else (a reversed range, more CPUs than any kernel has). */
export function countCpuList(list: string): number | undefined {
  let n = 0;
  for (const part of list.split(',')) {
    const m = /^(\d{1,7})(?:-(\d{1,7}))?$/.exec(part.trim());
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi >= FACTS_LIMITS.cpus) return undefined;
    n += hi - lo + 1;
    if (n > FACTS_LIMITS.cpus) return undefined;
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

/** The flags line of a real CPU is a few hundred names. */
const MAX_FLAGS_LINE = 64 << 10;
const CPUINFO_KEYS = new Set(['processor', 'vendor_id', 'model name', 'flags']);

/**
 * The fields of /proc/cpuinfo we use (the first of each) and the number of processors.
 * A line scan without split or regex: cpuinfo may be large (many cores) or hostile.
 */
export function parseCpuinfo(text: string): { fields: Map<string, string>; processors: number } {
  const fields = new Map<string, string>();
  let processors = 0;
  for (let at = 0; at < text.length;) {
    let eol = text.indexOf('\n', at);
    if (eol === -1) eol = text.length;
    const colon = text.indexOf(':', at);
    if (colon !== -1 && colon < eol) {
      const key = text.slice(at, colon).trimEnd();
      if (CPUINFO_KEYS.has(key)) {
        if (key === 'processor') processors++;
        let v = text.slice(colon + 1, eol);
        if (/^\s/.test(v)) v = v.slice(1);
        if (!fields.has(key)) fields.set(key, v);
      }
    }
    at = eol + 1;
  }
  return { fields, processors };
}

function probeCpu(r: Reader, sysfs: string, proc: string): { cpu: Facts['cpu']; allFlags: Set<string> } {
  const path = join(proc, 'cpuinfo');
  const { fields, processors } = parseCpuinfo(r.text(path, false, READ_LIMITS.large) ?? '');
  const flagsLine = fields.get('flags') ?? '';
  // Only known names are kept from it, so only its length matters.
  if (flagsLine.length > MAX_FLAGS_LINE)
    r.warnings.push(`${path}: the flags line is longer than ${MAX_FLAGS_LINE} characters, ignored`);
  const allFlags = new Set(flagsLine.length > MAX_FLAGS_LINE ? [] : flagsLine.split(/\s+/).filter(Boolean));
  const field = (key: string) => {
    const v = fields.get(key);
    return v === undefined ? null : (r.bounded(v, `${path} (${key})`) ?? null);
  };
  const vendorId = field('vendor_id');
  const online = r.text(join(sysfs, 'devices/system/cpu/online'));
  return {
    allFlags,
    cpu: {
      vendor: vendorId === 'GenuineIntel' ? 'intel' : vendorId === 'AuthenticAMD' ? 'amd' : 'other',
      vendorId,
      model: field('model name'),
      count:
        (online === undefined ? undefined : countCpuList(online)) ??
        (processors > 0 && processors <= FACTS_LIMITS.cpus ? processors : null),
      flags: CPU_FLAGS_OF_INTEREST.filter((f) => allFlags.has(f)),
      level: x86Level(allFlags),
    },
  };
}

function probeMemory(r: Reader, proc: string): Facts['memory'] {
  const path = join(proc, 'meminfo');
  const text = r.text(path, false) ?? '';
  const m = /^MemTotal:[ \t]+(\d{1,15})[ \t]*kB/m.exec(text);
  if (!m && /^MemTotal:/m.test(text)) r.warnings.push(`${path}: MemTotal is not a number of kB, ignored`);
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

function probeVirtualization(
  r: Reader,
  sysfs: string,
  dmi: Facts['dmi'],
  hypervisorFlag: boolean,
): Facts['virtualization'] {
  const evidence: string[] = [];
  if (hypervisorFlag) evidence.push('cpu flag hypervisor');
  const hypervisorType = r.line(join(sysfs, 'hypervisor/type'), 'the hypervisor type');
  if (hypervisorType) evidence.push(`/sys/hypervisor/type ${hypervisorType}`);
  const clocksources = (
    r.text(join(sysfs, 'devices/system/clocksource/clocksource0/available_clocksource')) ?? ''
  ).split(/\s+/);
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
    sysVendor: r.line(join(dir, 'sys_vendor'), 'the DMI vendor') || null,
    productName: r.line(join(dir, 'product_name'), 'the DMI product name') || null,
    // SMBIOS chassis types are one byte.
    chassisType: chassis !== undefined && /^\d{1,3}$/.test(chassis) && Number(chassis) <= 255 ? Number(chassis) : null,
  };
}

/** COMMAND_LINE_SIZE is 2048 to 4096 on most architectures; none has more than 64 KiB. */
const MAX_CMDLINE = 64 << 10;

/** The kernel's arguments; one that no kernel would print (a control character, kilobytes) is left out. */
function probeCmdline(r: Reader, path: string): string[] {
  const args = splitCmdline(r.text(path, false, MAX_CMDLINE) ?? '').filter(
    (a) => r.bounded(a, `${path} (argument ${JSON.stringify(a.slice(0, 40))})`, FACTS_LIMITS.kernelArg) !== undefined,
  );
  if (args.length <= FACTS_LIMITS.kernelArgs) return args;
  r.warnings.push(`${path}: more than ${FACTS_LIMITS.kernelArgs} arguments, the rest ignored`);
  return args.slice(0, FACTS_LIMITS.kernelArgs);
}

export function probe(opts: ProbeOptions = {}): ProbeResult {
  const sysfs = opts.sysfs ?? '/sys';
  const proc = opts.proc ?? '/proc';
  requireDir(sysfs, '--sysfs');
  requireDir(proc, '--proc');
  const r = new Reader(opts.maxBytes ?? PROBE_BYTES);
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
    kernel: { cmdline: probeCmdline(r, join(proc, 'cmdline')) },
  };
  return { facts, warnings: r.warnings };
}
