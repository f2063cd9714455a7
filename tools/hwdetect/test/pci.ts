import t from 'tap';
import { classifyPci, pciModalias } from '../src/pci.js';

t.test('class codes and virtio ids classify devices', async (t) => {
  const table: [number, number, number, string, string][] = [
    [0x030000, 0x10de, 0x2684, 'gpu', 'vga'],
    [0x030200, 0x10de, 0x20b0, 'gpu', '3d'],
    [0x038000, 0x1002, 0x164e, 'gpu', 'display'],
    [0x040300, 0x8086, 0x51c8, 'audio', 'hda'],
    [0x040100, 0x8086, 0xa0c8, 'audio', 'audio'],
    [0x040000, 0x1131, 0x7160, 'other', 'multimedia'],
    [0x010802, 0x144d, 0xa808, 'storage', 'nvme'],
    [0x010601, 0x8086, 0x2922, 'storage', 'ahci'],
    [0x010400, 0x1000, 0x0014, 'storage', 'raid'],
    [0x010700, 0x1000, 0x0097, 'storage', 'sas'],
    [0x019000, 0x1234, 0x0001, 'storage', 'storage'],
    [0x020000, 0x8086, 0x10d3, 'network', 'ethernet'],
    [0x028000, 0x8086, 0x2725, 'network', 'network'],
    [0x020700, 0x15b3, 0x101b, 'network', 'infiniband'],
    [0x0d8000, 0x14e4, 0x43a0, 'network', 'wireless'],
    [0x0c0330, 0x8086, 0xa0ed, 'other', 'usb'],
    [0x0c0500, 0x8086, 0x2930, 'other', 'smbus'],
    [0x0c8000, 0x8086, 0x0000, 'other', 'serial-bus'],
    [0x060000, 0x8086, 0x29c0, 'other', 'bridge'],
    [0x120000, 0x1002, 0x740f, 'other', 'accelerator'],
    [0x140000, 0x1234, 0x0000, 'other', 'unknown'],
    // virtio: modern (0x1040 + type) and transitional ids, whatever the class says.
    [0x018000, 0x1af4, 0x1042, 'storage', 'virtio-block'],
    [0x010000, 0x1af4, 0x1001, 'storage', 'virtio-block'],
    [0x020000, 0x1af4, 0x1000, 'network', 'virtio-net'],
    [0xffff00, 0x1af4, 0x1053, 'other', 'virtio-vsock'],
    [0x00ff00, 0x1af4, 0x1005, 'other', 'virtio-rng'],
    [0x030000, 0x1af4, 0x1050, 'gpu', 'virtio-gpu'],
    [0x040100, 0x1af4, 0x1059, 'audio', 'virtio-sound'],
    [0xff0000, 0x1af4, 0x106f, 'other', 'virtio-47'],
    [0x050000, 0x1af4, 0x1110, 'other', 'memory'],
  ];
  for (const [cls, vendor, device, group, kind] of table) {
    t.same(
      classifyPci(cls, vendor, device),
      { group, kind },
      `${cls.toString(16)} ${vendor.toString(16)}:${device.toString(16)}`,
    );
  }
});

t.test('modalias as the kernel prints it', async (t) => {
  t.equal(
    pciModalias(0x030000, 0x10de, 0x2684, 0x1043, 0x88e2),
    'pci:v000010DEd00002684sv00001043sd000088E2bc03sc00i00',
  );
});
