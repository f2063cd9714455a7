import t from 'tap';
import { bootImageKiB, BOOT_FILES, volumeId } from '../src/esp.js';
import { squashfsArgs } from '../src/live.js';
import { xorrisoArgs } from '../src/xorriso.js';

t.test('xorriso: the EFI image appended as a GPT ESP and named in El Torito', async (t) => {
  const a = xorrisoArgs({
    tree: '/w/tree',
    efiImage: '/w/efi.img',
    label: 'L',
    output: '/w/o.iso',
    epoch: '1700000000',
  });
  t.equal(
    a[a.indexOf('--set_all_file_dates') + 1],
    '=1700000000',
    'every file dated SOURCE_DATE_EPOCH: the work tree was made now',
  );
  t.same(a.slice(0, 2), ['-as', 'mkisofs']);
  t.equal(a[a.indexOf('-V') + 1], 'L');
  t.same(a.slice(a.indexOf('-append_partition'), a.indexOf('-append_partition') + 4), [
    '-append_partition',
    '2',
    '0xef',
    '/w/efi.img',
  ]);
  t.ok(a.includes('-appended_part_as_gpt'));
  t.equal(a[a.indexOf('-e') + 1], '--interval:appended_partition_2:all::');
  t.equal(a.at(-1), '/w/tree');
});

t.test('the boot image: shim as the removable-media path, the CD GRUB beside it', async (t) => {
  t.same(
    BOOT_FILES.map((f) => f.esp),
    ['EFI/BOOT/BOOTX64.EFI', 'EFI/BOOT/grubx64.efi', 'EFI/BOOT/mmx64.efi'],
  );
  t.match(BOOT_FILES[1].source, /gcdx64\.efi\.signed$/);
  t.equal(bootImageKiB(0), 1024);
  t.equal(bootImageKiB(5 * 1024 * 1024 + 1), 7 * 1024);
  t.match(volumeId('a'), /^[0-9A-F]{8}$/);
  t.equal(volumeId('a'), volumeId('a'));
  t.not(volumeId('a'), volumeId('b'));
});

t.test('mksquashfs: fixed options, never appending, times from SOURCE_DATE_EPOCH alone', async (t) => {
  const a = squashfsArgs('/t', '/o.img');
  t.ok(a.includes('-noappend'));
  t.notOk(a.includes('-all-time') || a.includes('-mkfs-time'), 'squashfs-tools refuses them beside SOURCE_DATE_EPOCH');
  t.equal(a[a.indexOf('-comp') + 1], 'zstd');
});
