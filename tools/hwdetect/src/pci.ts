/** PCI class codes and virtio device ids → the group and kind of a device. */
import type { PciGroup } from './facts.js';

export const VIRTIO_VENDOR = 0x1af4;

/** virtio device types (virtio spec 5): modern PCI id = 0x1040 + type; transitional ids 0x1000.. below. */
const VIRTIO_TYPES: Record<number, [string, PciGroup]> = {
  1: ['net', 'network'],
  2: ['block', 'storage'],
  3: ['console', 'other'],
  4: ['rng', 'other'],
  5: ['balloon', 'other'],
  8: ['scsi', 'storage'],
  9: ['9p', 'other'],
  16: ['gpu', 'gpu'],
  18: ['input', 'other'],
  19: ['vsock', 'other'],
  20: ['crypto', 'other'],
  25: ['sound', 'audio'],
  26: ['fs', 'other'],
  27: ['pmem', 'storage'],
};
const VIRTIO_TRANSITIONAL: Record<number, number> = {
  0x1000: 1,
  0x1001: 2,
  0x1002: 5,
  0x1003: 3,
  0x1004: 8,
  0x1005: 4,
  0x1009: 9,
};

/** Base-class names for devices that are not in one of the groups policies care about. */
const BASE_CLASS_NAMES: Record<number, string> = {
  0x00: 'unclassified',
  0x04: 'multimedia',
  0x05: 'memory',
  0x06: 'bridge',
  0x07: 'communication',
  0x08: 'system',
  0x09: 'input',
  0x0a: 'docking',
  0x0b: 'processor',
  0x0c: 'serial-bus',
  0x0e: 'intelligent-io',
  0x0f: 'satellite',
  0x10: 'encryption',
  0x11: 'signal-processing',
  0x12: 'accelerator',
  0x13: 'instrumentation',
  0xff: 'unassigned',
};
const SERIAL_BUS_KINDS: Record<number, string> = { 0x03: 'usb', 0x05: 'smbus', 0x07: 'ipmi', 0x80: 'serial-bus' };
const STORAGE_KINDS: Record<number, string> = {
  0x00: 'scsi',
  0x01: 'ide',
  0x04: 'raid',
  0x05: 'ata',
  0x06: 'sata',
  0x07: 'sas',
  0x08: 'nvm',
};
const DISPLAY_KINDS: Record<number, string> = { 0x00: 'vga', 0x01: 'xga', 0x02: '3d' };

export interface Classification {
  group: PciGroup;
  kind: string;
}

/** Classify by virtio device id first (legacy virtio devices carry odd class codes), then by class code. */
export function classifyPci(classCode: number, vendor: number, device: number): Classification {
  if (vendor === VIRTIO_VENDOR) {
    const type = device >= 0x1040 && device <= 0x107f ? device - 0x1040 : VIRTIO_TRANSITIONAL[device];
    const known = type === undefined ? undefined : VIRTIO_TYPES[type];
    if (known) return { group: known[1], kind: `virtio-${known[0]}` };
    if (type !== undefined) return { group: 'other', kind: `virtio-${type}` };
  }
  const base = (classCode >> 16) & 0xff;
  const sub = (classCode >> 8) & 0xff;
  const progIf = classCode & 0xff;
  switch (base) {
    case 0x01: {
      if (sub === 0x08 && progIf === 0x02) return { group: 'storage', kind: 'nvme' };
      if (sub === 0x06 && progIf === 0x01) return { group: 'storage', kind: 'ahci' };
      return { group: 'storage', kind: STORAGE_KINDS[sub] ?? 'storage' };
    }
    case 0x02:
      return { group: 'network', kind: sub === 0x00 ? 'ethernet' : sub === 0x07 ? 'infiniband' : 'network' };
    case 0x03:
      return { group: 'gpu', kind: DISPLAY_KINDS[sub] ?? 'display' };
    case 0x04:
      if (sub === 0x03) return { group: 'audio', kind: 'hda' };
      if (sub === 0x01) return { group: 'audio', kind: 'audio' };
      return { group: 'other', kind: 'multimedia' };
    case 0x0d:
      return { group: 'network', kind: 'wireless' };
    case 0x0c:
      return { group: 'other', kind: SERIAL_BUS_KINDS[sub] ?? 'serial-bus' };
    default:
      return { group: 'other', kind: BASE_CLASS_NAMES[base] ?? 'unknown' };
  }
}

/** The kernel's modalias for a PCI device (drivers/pci/pci-driver.c), for when the file is unreadable. */
export function pciModalias(
  classCode: number,
  vendor: number,
  device: number,
  subVendor: number,
  subDevice: number,
): string {
  const h = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
  return `pci:v${h(vendor, 8)}d${h(device, 8)}sv${h(subVendor, 8)}sd${h(subDevice, 8)}bc${h((classCode >> 16) & 0xff, 2)}sc${h((classCode >> 8) & 0xff, 2)}i${h(classCode & 0xff, 2)}`;
}

/** Well-known GPU vendors, so policies can say `gpu-vendor: nvidia` as well as 0x10de. */
export const GPU_VENDOR_IDS: Record<string, readonly string[]> = {
  nvidia: ['0x10de'],
  amd: ['0x1002', '0x1022'],
  intel: ['0x8086'],
};
