import t from 'tap';
import { BOOT_COMPONENTS, BootloaderStateSchema, ESP_FILES, ESP_GRUB_CFG, espGrubConfig } from '../src/bootloader.js';

t.test(
  'ESP_FILES: in each directory GRUB before MokManager before shim; the vendor directory before the removable path',
  async (t) => {
    const order = ESP_FILES.map((e) => e.esp);
    for (const dir of ['EFI/debian/', 'EFI/BOOT/']) {
      const here = ESP_FILES.filter((e) => e.esp.startsWith(dir)).map((e) => e.component);
      t.same(here, ['grub', 'mokmanager', 'shim'], dir);
    }
    t.ok(order.findLastIndex((p) => p.startsWith('EFI/debian/')) < order.findIndex((p) => p.startsWith('EFI/BOOT/')));
    t.same([...new Set(ESP_FILES.map((e) => e.component))].sort(), [...BOOT_COMPONENTS].sort());
    for (const c of BOOT_COMPONENTS)
      t.equal(
        new Set(ESP_FILES.filter((e) => e.component === c).map((e) => `${e.source} ${e.package}`)).size,
        1,
        `${c}: one source, one package`,
      );
  },
);

t.test('espGrubConfig: find the root file system, read the menu ostree keeps there', async (t) => {
  t.equal(
    espGrubConfig('0e6b1e0a-1111-4222-8333-444455556666'),
    "search --no-floppy --fs-uuid --set=root 0e6b1e0a-1111-4222-8333-444455556666\nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n",
  );
  t.equal(ESP_GRUB_CFG, 'EFI/debian/grub.cfg');
});

t.test('BootloaderStateSchema: paths from the ESP root only, dpkg names and versions', async (t) => {
  const state = (over: object = {}) => ({
    apiVersion: 'org.debian-atomic/v1',
    kind: 'BootloaderState',
    esp: { partuuid: '5b1d6a0e-0c3a-4c1b-9a55-2f0e8d7c6b5a', volumeId: '1A2B-3C4D' },
    commit: 'a'.repeat(64),
    packages: { 'grub-efi-amd64-signed': '1+2.12+9+deb13u4', 'shim-signed': '1.51~1+deb13u1+16.1-2~deb13u1' },
    files: [...ESP_FILES.map((e) => e.esp), ESP_GRUB_CFG].map((path) => ({ path, sha256: 'b'.repeat(64), size: 1 })),
    ...over,
  });
  t.ok(BootloaderStateSchema.safeParse(state()).success);
  for (const path of ['/EFI/BOOT/BOOTX64.EFI', '../etc/shadow', 'EFI/../../x', 'EFI//x', 'EFI/./x', 'EFI/BOOT/'])
    t.notOk(
      BootloaderStateSchema.safeParse(state({ files: [{ path, sha256: 'b'.repeat(64), size: 1 }] })).success,
      path,
    );
  t.notOk(
    BootloaderStateSchema.safeParse(state({ packages: { 'shim-signed': '1\u001b[2J' } })).success,
    'a version with a terminal escape',
  );
  t.notOk(BootloaderStateSchema.safeParse(state({ packages: { 'Shim Signed': '1' } })).success, 'not a package name');
});
