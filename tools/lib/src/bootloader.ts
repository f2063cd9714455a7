/**
 * The boot chain on the ESP, shared by disk-image (which installs it) and atomic (which
 * updates it, bootupd's job): Debian's signed shim → Debian's signed GRUB → a two-line
 * grub.cfg that hands over to /boot/grub/grub.cfg on the root file system, a link to
 * /boot/loader/grub.cfg, which ostree rewrites (grub-mkconfig + 15_ostree) into
 * /boot/loader.N before it swaps /boot/loader on every deploy, upgrade and rollback.
 *
 * The binaries come from the commit, where Debian's packages put them; the ESP files are
 * copies, and the state file on /boot records which copies are there (bootupd-state.json's job).
 */
import { z } from 'zod';

/** The three programs of the boot chain, in the order the firmware runs them (MokManager only on a MOK request). */
export const BOOT_COMPONENTS = ['shim', 'grub', 'mokmanager'] as const;
export type BootComponent = (typeof BOOT_COMPONENTS)[number];

export interface EspFile {
  /** Path on the ESP, from its root. */
  esp: string;
  /** Path in the commit (a deployment), from its root. */
  source: string;
  /** The Debian package that ships `source`. */
  package: string;
  /** Which program of the boot chain the file is. */
  component: BootComponent;
}

/**
 * What the ESP holds, in the order an update renames the new copies into place: GRUB before
 * shim (an old shim boots the new GRUB: both are Debian's, shim checks GRUB against Debian's
 * key), the removable-media path (what firmware boots without a boot entry) after the vendor
 * directory, so a cut at any point leaves a shim and a GRUB that boot each other.
 */
export const ESP_FILES: readonly EspFile[] = [
  {
    esp: 'EFI/debian/grubx64.efi',
    source: 'usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed',
    package: 'grub-efi-amd64-signed',
    component: 'grub',
  },
  {
    esp: 'EFI/debian/mmx64.efi',
    source: 'usr/lib/shim/mmx64.efi.signed',
    package: 'shim-helpers-amd64-signed',
    component: 'mokmanager',
  },
  {
    esp: 'EFI/debian/shimx64.efi',
    source: 'usr/lib/shim/shimx64.efi.signed',
    package: 'shim-signed',
    component: 'shim',
  },
  {
    esp: 'EFI/BOOT/grubx64.efi',
    source: 'usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed',
    package: 'grub-efi-amd64-signed',
    component: 'grub',
  },
  {
    esp: 'EFI/BOOT/mmx64.efi',
    source: 'usr/lib/shim/mmx64.efi.signed',
    package: 'shim-helpers-amd64-signed',
    component: 'mokmanager',
  },
  { esp: 'EFI/BOOT/BOOTX64.EFI', source: 'usr/lib/shim/shimx64.efi.signed', package: 'shim-signed', component: 'shim' },
];

/** Debian's signed GRUB is built with this prefix: it reads `grub.cfg` here on the device it was loaded from. */
export const ESP_GRUB_CFG = 'EFI/debian/grub.cfg';

/** The ESP's grub.cfg: find the root file system and read the menu ostree keeps there. */
export function espGrubConfig(rootFsUuid: string): string {
  return [
    `search --no-floppy --fs-uuid --set=root ${rootFsUuid}`,
    "set prefix=($root)'/boot/grub'",
    'configfile $prefix/grub.cfg',
    '',
  ].join('\n');
}

/** Where the state lives, from the sysroot (the root file system): `/boot/atomic/bootloader.json` on a booted system. */
export const BOOTLOADER_STATE = 'boot/atomic/bootloader.json';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
/** A path from the ESP's root: no leading '/', no '.' or '..' parts (atomic reads what the state names). */
const espPath = z.string().regex(/^[A-Za-z0-9_+-][A-Za-z0-9._+-]*(\/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)*$/);
// What dpkg itself accepts (as atomic's db.ts): the names and versions are printed on a terminal.
const packageName = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/);
const packageVersion = z.string().regex(/^[A-Za-z0-9.+~:-]{1,256}$/);

export const BootloaderStateSchema = z
  .strictObject({
    apiVersion: z.literal('org.debian-atomic/v1'),
    kind: z.literal('BootloaderState'),
    esp: z
      .strictObject({
        partuuid: z
          .string()
          .regex(/^[0-9a-f-]{36}$/)
          .describe('GPT partition GUID of the ESP, lower case (/dev/disk/by-partuuid)'),
        volumeId: z
          .string()
          .regex(/^[0-9A-F]{4}-[0-9A-F]{4}$/)
          .describe('FAT volume ID (/dev/disk/by-uuid)'),
      })
      .describe('The ESP these files were written to'),
    commit: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .describe('The OSTree commit the files were copied from'),
    packages: z.record(packageName, packageVersion).describe('Package → version of the packages the files come from'),
    files: z
      .array(z.strictObject({ path: espPath.describe('Path on the ESP, from its root'), sha256, size: z.int().min(0) }))
      .describe('Every file written, with its digest: the ESP_FILES paths, and ESP_GRUB_CFG if the writer records it'),
  })
  .describe('What the ESP holds, written by disk-image and atomic bootloader update');

export type BootloaderState = z.infer<typeof BootloaderStateSchema>;
