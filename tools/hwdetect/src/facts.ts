/**
 * The facts `hwdetect probe` reports: one zod schema gives the type, validates
 * `--facts` input and produces the JSON Schema (`hwdetect schema facts`).
 */
import { lineText } from '@debian-atomic/lib';
import { z } from 'zod';

export const FACTS_VERSION = 1;

export const PCI_GROUPS = ['gpu', 'audio', 'storage', 'network', 'other'] as const;
export type PciGroup = (typeof PCI_GROUPS)[number];

export const STORAGE_KINDS = ['nvme', 'sata', 'virtio', 'scsi', 'usb', 'mmc', 'other'] as const;
export type StorageKind = (typeof STORAGE_KINDS)[number];

/** systemd-detect-virt's names, plus vm-other for "a hypervisor, but which one is unknown". */
export const VIRTUALIZATION_TYPES = [
  'none',
  'kvm',
  'qemu',
  'xen',
  'vmware',
  'microsoft',
  'oracle',
  'amazon',
  'google',
  'vm-other',
] as const;
export type VirtualizationType = (typeof VIRTUALIZATION_TYPES)[number];

export const CPU_VENDORS = ['intel', 'amd', 'other'] as const;

/** The CPU flags policies may match on (the full list is long and machine-specific). */
export const CPU_FLAGS_OF_INTEREST = [
  'hypervisor',
  'vmx',
  'svm',
  'aes',
  'avx',
  'avx2',
  'avx512f',
  'sse4_2',
  'sha_ni',
  'rdrand',
  'nx',
  'pdpe1gb',
] as const;

export const X86_64_LEVELS = ['x86-64', 'x86-64-v2', 'x86-64-v3', 'x86-64-v4'] as const;

const hex4 = z.string().regex(/^0x[0-9a-f]{4}$/, 'expected a 16-bit id like 0x10de');

/**
 * Bounds that probe keeps to (it normalises or leaves out what a machine, or a hostile
 * capture, reports beyond them), so that what probe writes, plan reads back.
 */
export const FACTS_LIMITS = {
  /** The kernel's NR_CPUS is at most 8192; leave room. */
  cpus: 1 << 20,
  /** Free text read from the machine (DMI strings, CPU model, driver and disk names). */
  text: 256,
  /** One kernel command line argument (as the lib's kernel argument grammar). */
  kernelArg: 4096,
  /** Kernel command line arguments: the command line itself is at most a few KiB. */
  kernelArgs: 4096,
  /** PCI functions (all groups together), and disks: large servers with SR-IOV have a few hundred. */
  devices: 2048,
} as const;

/** A PCI address: domain (16 bits, 32 with VMD), bus, device, function. */
export const PCI_ADDRESS = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
/** The kernel's PCI modalias (drivers/pci/pci-driver.c): fixed width, hex ids. */
export const PCI_MODALIAS =
  /^pci:v[0-9a-f]{8}d[0-9a-f]{8}sv[0-9a-f]{8}sd[0-9a-f]{8}bc[0-9a-f]{2}sc[0-9a-f]{2}i[0-9a-f]{2}$/i;

const text = (what: string) => lineText(FACTS_LIMITS.text, what);

export const PciDeviceSchema = z.strictObject({
  address: z.string().regex(PCI_ADDRESS, 'expected a PCI address like 0000:01:00.0'),
  class: z.string().regex(/^0x[0-9a-f]{6}$/, 'expected a 24-bit class like 0x030000'),
  vendor: hex4,
  device: hex4,
  subsystemVendor: hex4.nullable(),
  subsystemDevice: hex4.nullable(),
  /** What the class code (or the virtio device id) says it is: vga, hda, nvme, ahci, virtio-net... */
  kind: text('a device kind'),
  driver: text('a driver name').nullable(),
  modalias: z
    .string()
    .regex(PCI_MODALIAS, 'expected a PCI modalias like pci:v000010DEd00002684sv00001043sd000088E2bc03sc00i00'),
  /** Only for display devices: the one the firmware used. */
  bootVga: z.boolean().optional(),
});
export type PciDevice = z.infer<typeof PciDeviceSchema>;

export const DiskSchema = z.strictObject({
  name: text('a disk name'),
  kind: z.enum(STORAGE_KINDS),
  /** PCI address of the controller the disk hangs off, if any. */
  controller: z.string().regex(PCI_ADDRESS, 'expected a PCI address like 0000:01:00.0').nullable(),
  rotational: z.boolean().nullable(),
  removable: z.boolean().nullable(),
  sizeBytes: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable(),
});
export type Disk = z.infer<typeof DiskSchema>;

const devices = z.array(PciDeviceSchema).max(FACTS_LIMITS.devices, `at most ${FACTS_LIMITS.devices} devices`);

export const FactsSchema = z.strictObject({
  version: z.literal(FACTS_VERSION),
  pci: z
    .strictObject({
      gpu: devices,
      audio: devices,
      storage: devices,
      network: devices,
      other: devices,
    })
    .refine(
      (pci) => PCI_GROUPS.reduce((n, g) => n + pci[g].length, 0) <= FACTS_LIMITS.devices,
      `at most ${FACTS_LIMITS.devices} PCI devices in all`,
    ),
  cpu: z.strictObject({
    vendor: z.enum(CPU_VENDORS),
    vendorId: text('a CPU vendor id').nullable(),
    model: text('a CPU model name').nullable(),
    count: z.number().int().positive().max(FACTS_LIMITS.cpus).nullable(),
    flags: z.array(z.enum(CPU_FLAGS_OF_INTEREST)),
    level: z.enum(X86_64_LEVELS).nullable(),
  }),
  memory: z.strictObject({ totalMiB: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable() }),
  storage: z.strictObject({
    kinds: z.array(z.enum(STORAGE_KINDS)),
    disks: z.array(DiskSchema).max(FACTS_LIMITS.devices, `at most ${FACTS_LIMITS.devices} disks`),
  }),
  firmware: z.enum(['uefi', 'bios']),
  virtualization: z.strictObject({
    type: z.enum(VIRTUALIZATION_TYPES),
    /** Which files said so, for a human reading the facts. */
    evidence: z.array(lineText(2 * FACTS_LIMITS.text, 'evidence')).max(16),
  }),
  dmi: z.strictObject({
    sysVendor: text('a DMI vendor').nullable(),
    productName: text('a DMI product name').nullable(),
    /** SMBIOS chassis type: one byte. */
    chassisType: z.number().int().min(0).max(255).nullable(),
  }),
  iommu: z.strictObject({ groups: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER) }),
  kernel: z.strictObject({
    /** The kernel's own parameters from /proc/cmdline (what follows "--" goes to init and is left out). */
    cmdline: z
      .array(lineText(FACTS_LIMITS.kernelArg, 'a kernel command line argument'))
      .max(FACTS_LIMITS.kernelArgs, `at most ${FACTS_LIMITS.kernelArgs} arguments`),
  }),
});
export type Facts = z.infer<typeof FactsSchema>;

/** Every PCI device, whatever its group, in address order. */
export function allPciDevices(facts: Facts): PciDevice[] {
  return PCI_GROUPS.flatMap((g) => facts.pci[g]).sort((a, b) => a.address.localeCompare(b.address));
}
