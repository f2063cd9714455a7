import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FactsSchema } from '../src/facts.js';
import { countCpuList, diskKind, parseCpuinfo, probe, x86Level } from '../src/probe.js';
import { CAPTURES, extractCapture, golden } from './fixtures/capture.js';

t.test('every capture probes to valid facts that match the golden file', async (t) => {
  for (const name of CAPTURES) {
    const c = extractCapture(t, name);
    const { facts, warnings } = probe(c);
    t.same(warnings, [], `${name}: no warnings`);
    t.ok(FactsSchema.safeParse(facts).success, `${name}: facts satisfy the schema`);
    const g = golden(`${name}.facts`, facts);
    t.equal(g.actual, g.expected, `${name}: facts as recorded`);
  }
});

t.test('firecracker-vm: this development machine, a Firecracker (KVM) guest', async (t) => {
  const { facts } = probe(extractCapture(t, 'firecracker-vm'));
  t.equal(facts.virtualization.type, 'kvm');
  t.same(facts.virtualization.evidence, ['cpu flag hypervisor', 'clocksource kvm-clock']);
  t.equal(facts.firmware, 'bios', 'no /sys/firmware/efi');
  t.same(facts.dmi, { sysVendor: null, productName: null, chassisType: null }, 'Firecracker has no DMI');
  t.equal(facts.cpu.vendor, 'amd');
  t.equal(facts.cpu.count, 2);
  t.equal(facts.cpu.level, 'x86-64-v4');
  t.ok(facts.cpu.flags.includes('hypervisor'));
  t.notOk(facts.cpu.flags.includes('svm'), 'no nested virtualization');
  t.same(facts.pci.gpu, []);
  t.same(facts.pci.audio, []);
  t.same(
    facts.pci.storage.map((d) => [d.address, d.kind, d.driver]),
    [['0000:00:02.0', 'virtio-block', 'virtio-pci']],
  );
  t.same(
    facts.pci.network.map((d) => [d.address, d.kind]),
    [['0000:00:03.0', 'virtio-net']],
  );
  t.same(
    facts.pci.other.map((d) => d.kind),
    ['bridge', 'virtio-balloon', 'virtio-vsock', 'virtio-rng'],
  );
  t.same(facts.storage.kinds, ['virtio']);
  t.same(facts.storage.disks, [
    {
      name: 'vda',
      kind: 'virtio',
      controller: '0000:00:02.0',
      rotational: true,
      removable: false,
      sizeBytes: 274877906944,
    },
  ]);
  t.ok(facts.memory.totalMiB! > 1000);
  t.equal(facts.kernel.cmdline.at(-1), 'rdinit=/process_api', 'arguments after -- are for init');
  t.notOk(facts.kernel.cmdline.includes('--firecracker-init'));
});

t.test('qemu-q35-tcg-uefi: a QEMU guest with real emulated devices', async (t) => {
  const { facts } = probe(extractCapture(t, 'qemu-q35-tcg-uefi'));
  t.equal(facts.virtualization.type, 'qemu', 'TCG: QEMU DMI, no kvm-clock');
  t.equal(facts.firmware, 'uefi', 'booted by OVMF');
  t.same(facts.dmi, { sysVendor: 'QEMU', productName: 'Standard PC (Q35 + ICH9, 2009)', chassisType: 1 });
  t.equal(facts.cpu.level, 'x86-64-v3');
  t.ok(facts.cpu.flags.includes('svm'));
  const gpu = facts.pci.gpu[0]!;
  t.match(gpu, {
    address: '0000:00:01.0',
    class: '0x030000',
    vendor: '0x1234',
    device: '0x1111',
    kind: 'vga',
    driver: 'bochs-drm',
    bootVga: true,
  });
  t.match(facts.pci.audio, [{ kind: 'hda', driver: 'snd_hda_intel', vendor: '0x8086' }]);
  t.same(
    facts.pci.storage.map((d) => [d.kind, d.driver]),
    [
      ['nvme', 'nvme'],
      ['virtio-block', 'virtio-pci'],
      ['ahci', 'ahci'],
    ],
  );
  t.same(
    facts.pci.network.map((d) => [d.kind, d.driver]),
    [
      ['ethernet', 'e1000e'],
      ['virtio-net', 'virtio-pci'],
    ],
    'a transitional virtio-net (0x1000) is network despite its class',
  );
  t.same(facts.storage.kinds, ['nvme', 'sata', 'virtio']);
  t.same(
    facts.storage.disks.map((d) => [d.name, d.kind, d.controller, d.rotational]),
    [
      ['nvme0n1', 'nvme', '0000:00:03.0', false],
      ['sda', 'sata', '0000:00:1f.2', true],
      ['vda', 'virtio', '0000:00:07.0', true],
    ],
  );
  t.same(facts.kernel.cmdline, ['console=ttyS0', 'quiet', 'panic=-1', 'initrd=initrd']);
});

t.test('qemu-debian-atomic-server: our server image booted under QEMU (make hwdetect-boot-test)', async (t) => {
  const { facts } = probe(extractCapture(t, 'qemu-debian-atomic-server'));
  t.equal(facts.virtualization.type, 'qemu');
  t.equal(facts.firmware, 'uefi');
  t.same(
    facts.pci.storage.map((d) => [d.kind, d.driver]),
    [
      ['nvme', 'nvme'],
      ['virtio-block', 'virtio-pci'],
      ['ahci', 'ahci'],
    ],
  );
  t.same(
    facts.storage.disks.map((d) => [d.name, d.kind, d.removable]),
    [
      ['nvme0n1', 'nvme', false],
      ['sr0', 'sata', true],
      ['vda', 'virtio', false],
    ],
    "the extra NVMe disk, q35's CD-ROM, the image's root disk",
  );
  t.ok(facts.kernel.cmdline.includes('iommu=pt'), "booted with the server policy's kargs.d (merged by disk-image)");
  t.ok(
    facts.kernel.cmdline.some((a) => a.startsWith('ostree=/ostree/boot.')),
    'an ostree deployment',
  );
});

t.test('unreadable entries are skipped with a warning, never a crash', async (t) => {
  const c = extractCapture(t, 'qemu-q35-tcg-uefi');
  const dev = (a: string) => join(c.sysfs, 'devices/pci0000:00', a);
  // A file that cannot be read (a directory where a file should be: EISDIR).
  rmSync(join(dev('0000:00:04.0'), 'modalias'));
  mkdirSync(join(dev('0000:00:04.0'), 'modalias'));
  rmSync(join(dev('0000:00:02.0'), 'class'));
  mkdirSync(join(dev('0000:00:02.0'), 'class'));
  // A device whose essential files are gone.
  rmSync(join(dev('0000:00:06.0'), 'vendor'));
  // A driver link that loops, and a block link that dangles.
  rmSync(join(dev('0000:00:05.0'), 'driver'));
  symlinkSync('driver', join(dev('0000:00:05.0'), 'driver'));
  rmSync(join(c.sysfs, 'block/sda'));
  symlinkSync('../devices/pci0000:00/0000:00:1f.2/ata9/block/sda', join(c.sysfs, 'block/sda'));
  rmSync(join(c.proc, 'meminfo'));
  mkdirSync(join(c.proc, 'meminfo'));
  writeFileSync(join(dev('0000:00:03.0'), 'vendor'), 'garbage\n');

  const { facts, warnings } = probe(c);
  t.ok(FactsSchema.safeParse(facts).success);
  t.same(
    warnings.map((w) => w.replace(c.dir, 'CAPTURE')),
    [
      'cannot read CAPTURE/sys/bus/pci/devices/0000:00:02.0/class: EISDIR, skipped',
      'PCI device 0000:00:02.0: class, vendor or device unreadable or not hex, skipped',
      'PCI device 0000:00:03.0: class, vendor or device unreadable or not hex, skipped',
      'cannot read CAPTURE/sys/bus/pci/devices/0000:00:04.0/modalias: EISDIR, skipped',
      'cannot read CAPTURE/sys/bus/pci/devices/0000:00:06.0/vendor: ENOENT, skipped',
      'PCI device 0000:00:06.0: class, vendor or device unreadable or not hex, skipped',
      'cannot read CAPTURE/proc/meminfo: EISDIR, skipped',
    ],
  );
  t.same(facts.pci.audio, [], 'audio device without class is skipped');
  const e1000e = facts.pci.network.find((d) => d.address === '0000:00:04.0')!;
  t.equal(e1000e.modalias, 'pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00', 'modalias rebuilt from the ids');
  t.equal(
    facts.pci.network.find((d) => d.address === '0000:00:05.0')!.driver,
    'driver',
    'a looping link is still a name',
  );
  t.equal(facts.memory.totalMiB, null);
  const sda = facts.storage.disks.find((d) => d.name === 'sda')!;
  t.same(
    [sda.kind, sda.rotational, sda.sizeBytes],
    ['sata', null, null],
    'dangling link: kind from the path, attributes unknown',
  );
});

t.test('missing optional trees are not warnings; missing roots are input errors', async (t) => {
  const dir = t.testdir({ sys: {}, proc: { cpuinfo: '', meminfo: '', cmdline: '' } });
  const { facts, warnings } = probe({ sysfs: join(dir, 'sys'), proc: join(dir, 'proc') });
  t.same(warnings, []);
  t.same(facts.pci, { gpu: [], audio: [], storage: [], network: [], other: [] });
  t.match(facts, {
    cpu: { vendor: 'other', vendorId: null, count: null, level: null },
    firmware: 'bios',
    virtualization: { type: 'none' },
    iommu: { groups: 0 },
  });
  t.throws(() => probe({ sysfs: join(dir, 'nope'), proc: join(dir, 'proc') }), {
    exitCode: 2,
    message: /--sysfs .*nope: not a directory/,
  });
  t.throws(() => probe({ sysfs: join(dir, 'sys'), proc: join(dir, 'proc/cpuinfo') }), {
    exitCode: 2,
    message: /--proc/,
  });
  const noProcFiles = t.testdir({ sys: {}, proc: {} });
  const r = probe({ sysfs: join(noProcFiles, 'sys'), proc: join(noProcFiles, 'proc') });
  t.equal(r.warnings.length, 3, 'cpuinfo, meminfo and cmdline are expected');
});

t.test('virtualization from DMI, /sys/hypervisor and the hypervisor flag', async (t) => {
  const cases: [Record<string, string>, string, string][] = [
    [{ sys_vendor: 'VMware, Inc.', product_name: 'VMware Virtual Platform' }, 'hypervisor', 'vmware'],
    [{ sys_vendor: 'innotek GmbH', product_name: 'VirtualBox' }, 'hypervisor', 'oracle'],
    [{ sys_vendor: 'Microsoft Corporation', product_name: 'Virtual Machine' }, 'hypervisor', 'microsoft'],
    [{ sys_vendor: 'Microsoft Corporation', product_name: 'Surface Laptop 5' }, '', 'none'],
    [{ sys_vendor: 'QEMU', product_name: 'Standard PC (i440FX + PIIX, 1996)' }, 'hypervisor', 'qemu'],
    [{ sys_vendor: 'Dell Inc.', product_name: 'PowerEdge R650' }, 'vmx', 'none'],
    [{}, 'hypervisor', 'vm-other'],
  ];
  for (const [dmi, flags, want] of cases) {
    const dir = t.testdir({
      sys: { class: { dmi: { id: dmi } } },
      proc: {
        cpuinfo: `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: ${flags}\n`,
        meminfo: 'MemTotal:  2048000 kB\n',
        cmdline: 'ro\n',
      },
    });
    const { facts } = probe({ sysfs: join(dir, 'sys'), proc: join(dir, 'proc') });
    t.equal(facts.virtualization.type, want, `${dmi.sys_vendor ?? 'no DMI'} + ${flags || 'no flag'}`);
    t.equal(facts.cpu.vendor, 'intel');
    t.equal(facts.cpu.count, 1, 'counted from cpuinfo without cpu/online');
    t.equal(facts.memory.totalMiB, 2000);
  }
  const xen = t.testdir({ sys: { hypervisor: { type: 'xen\n' } }, proc: { cpuinfo: '', meminfo: '', cmdline: '' } });
  t.equal(probe({ sysfs: join(xen, 'sys'), proc: join(xen, 'proc') }).facts.virtualization.type, 'xen');
});

t.test('helpers: disk kinds, CPU lists, x86-64 levels', async (t) => {
  const kind = (name: string, link: string) => diskKind(name, link.split('/'));
  t.equal(
    kind('sdb', '../devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb'),
    'usb',
  );
  t.equal(kind('mmcblk0', '../devices/platform/soc/mmc0/mmc0:0001/block/mmcblk0'), 'mmc');
  t.equal(kind('sda', '../devices/pci0000:00/0000:00:05.0/virtio2/host0/target0:0:0/0:0:0:0/block/sda'), 'virtio');
  t.equal(
    kind(
      'sdc',
      '../devices/pci0000:00/0000:00:1c.0/0000:01:00.0/host0/port-0:0/end_device-0:0/target0:0:0/0:0:0:0/block/sdc',
    ),
    'scsi',
  );
  t.equal(kind('nbd0', '../devices/platform/nbd0'), 'other');
  t.equal(countCpuList('0-3,8,10-11'), 7);
  t.equal(countCpuList('0'), 1);
  t.equal(countCpuList('x'), undefined);
  t.equal(x86Level(new Set(['lm', 'cmov', 'cx8', 'fpu', 'fxsr', 'mmx', 'syscall', 'sse', 'sse2'])), 'x86-64');
  t.equal(x86Level(new Set(['neon'])), null);
});

t.test('the live machine probes without throwing', async (t) => {
  const { facts } = probe();
  t.ok(FactsSchema.safeParse(facts).success, 'live facts satisfy the schema');
});

t.test('a tree that is not a machine: clear errors, bounded reads, facts plan accepts', async (t) => {
  const tree = (proc: Record<string, string> = {}) => {
    const dir = t.testdir({
      sys: { class: { dmi: { id: { sys_vendor: 'QEMU\n' } } } },
      proc: { cpuinfo: 'processor\t: 0\n', meminfo: 'MemTotal: 1024 kB\n', cmdline: 'ro\n', ...proc },
    });
    return { dir, sysfs: join(dir, 'sys'), proc: join(dir, 'proc') };
  };
  const fifo = tree();
  rmSync(join(fifo.proc, 'cpuinfo'));
  spawnSync('mkfifo', [join(fifo.proc, 'cpuinfo')]);
  t.throws(() => probe(fifo), { exitCode: 2, message: /proc\/cpuinfo: a FIFO, expected a regular file/ });
  const zero = tree();
  rmSync(join(zero.proc, 'meminfo'));
  symlinkSync('/dev/zero', join(zero.proc, 'meminfo'));
  t.throws(() => probe(zero), { exitCode: 2, message: /proc\/meminfo: a character device, expected a regular file/ });
  const big = tree();
  writeFileSync(join(big.sysfs, 'class/dmi/id/product_name'), Buffer.alloc((1 << 20) + 1, 'x'));
  t.throws(() => probe(big), { exitCode: 2, message: /product_name: larger than 1048576 bytes, refusing to read it/ });
  const socket = tree();
  rmSync(join(socket.proc, 'cmdline'));
  symlinkSync('/dev/null', join(socket.proc, 'cmdline'));
  t.throws(() => probe(socket), { exitCode: 2, message: /cmdline: a character device/ });

  const many = tree();
  t.throws(() => probe({ ...many, maxBytes: 20 }), {
    exitCode: 2,
    message: /the files probe read add up to more than 20 bytes, stopped/,
  });
  t.ok(probe({ ...many, maxBytes: 4096 }).facts, 'a real tree is far under the bound');

  const odd = tree({
    cpuinfo: `processor\t: 0\nprocessor\t: 1\nvendor_id: ${'v'.repeat(300)}\nmodel name\t:\tX\nflags\t\t: ${'f '.repeat(40000)}\n`,
    cmdline: `ro ${'a'.repeat(5000)} "x\u0001y"\n`,
  });
  const { facts, warnings } = probe(odd);
  t.ok(FactsSchema.safeParse(facts).success, 'facts satisfy the schema');
  t.same([facts.cpu.count, facts.cpu.vendorId, facts.cpu.model, facts.kernel.cmdline], [2, null, 'X', ['ro']]);
  t.match(warnings, [
    /the flags line is longer than 65536 characters, ignored/,
    /vendor_id\): longer than 256 characters, ignored/,
    /argument "a+"\): longer than 4096/,
    /argument .*contains a control character/,
  ]);
});

t.test('helpers: cpuinfo fields, CPU lists that no kernel prints', async (t) => {
  const { fields, processors } = parseCpuinfo(
    'processor : 0\nvendor_id\t: GenuineIntel\nprocessor\t: 1\nvendor_id : Other\nno colon\n: empty key\nflags\t\t:  fpu sse\n',
  );
  t.equal(processors, 2);
  t.same(
    Object.fromEntries(fields),
    { processor: '0', vendor_id: 'GenuineIntel', flags: ' fpu sse' },
    'the first of each; one blank after the colon is dropped',
  );
  t.same(parseCpuinfo(''), { fields: new Map(), processors: 0 });
  t.equal(countCpuList('5-1'), undefined, 'a reversed range');
  t.equal(countCpuList('0-99999999999'), undefined, 'more digits than any CPU number');
  t.equal(countCpuList('0-1048576'), undefined, 'beyond the bound');
  t.equal(countCpuList('0-1048575'), 1 << 20);
  t.equal(countCpuList('0-1048575,0'), undefined, 'more CPUs in all than the bound');
});
