/**
 * The facts `hwdetect probe` reports: one zod schema gives the type, validates
 * `--facts` input and produces the JSON Schema (`hwdetect schema facts`).
 */
import { z } from 'zod';

export const FACTS_VERSION = 1;

export const PCI_GROUPS = ['gpu', 'audio', 'storage', 'network', 'other'] as const;
export type PciGroup = (typeof PCI_GROUPS)[number];

export const STORAGE_KINDS = ['nvme', 'sata', 'virtio', 'scsi', 'usb', 'mmc', 'other'] as const;
export type StorageKind = (typeof STORAGE_KINDS)[number];

/** systemd-detect-virt's names, plus vm-other for "a hypervisor, but which one is unknown". */
export const VIRTUALIZATION_TYPES = ['none', 'kvm', 'qemu', 'xen', 'vmware', 'microsoft', 'oracle', 'amazon', 'google', 'vm-other'] as const;
export type VirtualizationType = (typeof VIRTUALIZATION_TYPES)[number];

export const CPU_VENDORS = ['intel', 'amd', 'other'] as const;

/** The CPU flags policies may match on (the full list is long and machine-specific). */
export const CPU_FLAGS_OF_INTEREST = ['hypervisor', 'vmx', 'svm', 'aes', 'avx', 'avx2', 'avx512f', 'sse4_2', 'sha_ni', 'rdrand', 'nx', 'pdpe1gb'] as const;

export const X86_64_LEVELS = ['x86-64', 'x86-64-v2', 'x86-64-v3', 'x86-64-v4'] as const;

const hex4 = z.string().regex(/^0x[0-9a-f]{4}$/, 'expected a 16-bit id like 0x10de');

export const PciDeviceSchema = z.strictObject({
  address: z.string().regex(/^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/, 'expected a PCI address like 0000:01:00.0'),
  class: z.string().regex(/^0x[0-9a-f]{6}$/, 'expected a 24-bit class like 0x030000'),
  vendor: hex4,
  device: hex4,
  subsystemVendor: hex4.nullable(),
  subsystemDevice: hex4.nullable(),
  /** What the class code (or the virtio device id) says it is: vga, hda, nvme, ahci, virtio-net... */
  kind: z.string(),
  driver: z.string().nullable(),
  modalias: z.string(),
  /** Only for display devices: the one the firmware used. */
  bootVga: z.boolean().optional(),
});
export type PciDevice = z.infer<typeof PciDeviceSchema>;

export const DiskSchema = z.strictObject({
  name: z.string(),
  kind: z.enum(STORAGE_KINDS),
  /** PCI address of the controller the disk hangs off, if any. */
  controller: z.string().nullable(),
  rotational: z.boolean().nullable(),
  removable: z.boolean().nullable(),
  sizeBytes: z.number().int().nonnegative().nullable(),
});
export type Disk = z.infer<typeof DiskSchema>;

export const FactsSchema = z.strictObject({
  version: z.literal(FACTS_VERSION),
  pci: z.strictObject({
    gpu: z.array(PciDeviceSchema),
    audio: z.array(PciDeviceSchema),
    storage: z.array(PciDeviceSchema),
    network: z.array(PciDeviceSchema),
    other: z.array(PciDeviceSchema),
  }),
  cpu: z.strictObject({
    vendor: z.enum(CPU_VENDORS),
    vendorId: z.string().nullable(),
    model: z.string().nullable(),
    count: z.number().int().positive().nullable(),
    flags: z.array(z.enum(CPU_FLAGS_OF_INTEREST)),
    level: z.enum(X86_64_LEVELS).nullable(),
  }),
  memory: z.strictObject({ totalMiB: z.number().int().nonnegative().nullable() }),
  storage: z.strictObject({
    kinds: z.array(z.enum(STORAGE_KINDS)),
    disks: z.array(DiskSchema),
  }),
  firmware: z.enum(['uefi', 'bios']),
  virtualization: z.strictObject({
    type: z.enum(VIRTUALIZATION_TYPES),
    /** Which files said so, for a human reading the facts. */
    evidence: z.array(z.string()),
  }),
  dmi: z.strictObject({
    sysVendor: z.string().nullable(),
    productName: z.string().nullable(),
    chassisType: z.number().int().nullable(),
  }),
  iommu: z.strictObject({ groups: z.number().int().nonnegative() }),
  kernel: z.strictObject({
    /** The kernel's own parameters from /proc/cmdline (what follows "--" goes to init and is left out). */
    cmdline: z.array(z.string()),
  }),
});
export type Facts = z.infer<typeof FactsSchema>;

/** Every PCI device, whatever its group, in address order. */
export function allPciDevices(facts: Facts): PciDevice[] {
  return PCI_GROUPS.flatMap((g) => facts.pci[g]).sort((a, b) => a.address.localeCompare(b.address));
}
