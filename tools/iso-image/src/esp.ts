/**
 * The El Torito EFI boot image: a small FAT image (mkfs.vfat -C, mtools: no loop device) with
 * Debian's signed shim as the removable-media path, and the CD build of Debian's signed GRUB
 * (gcdx64: its built-in config finds the ISO by /.disk/info and reads /boot/grub/grub.cfg there).
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { toolboxRun, ToolError } from '@debian-atomic/lib';

/** ESP path → path in the live commit, and the package that ships it. */
export const BOOT_FILES = [
  { esp: 'EFI/BOOT/BOOTX64.EFI', source: 'usr/lib/shim/shimx64.efi.signed', package: 'shim-signed' },
  {
    esp: 'EFI/BOOT/grubx64.efi',
    source: 'usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed',
    package: 'grub-efi-amd64-signed',
  },
  { esp: 'EFI/BOOT/mmx64.efi', source: 'usr/lib/shim/mmx64.efi.signed', package: 'shim-helpers-amd64-signed' },
] as const;

const KiB = 1024;
const MiB = 1024 * KiB;

/** Room for the files plus the FAT's own, in whole MiB (FAT12/16: mkfs.vfat picks by size). */
export function bootImageKiB(fileBytes: number): number {
  return Math.ceil((fileBytes + MiB) / MiB) * (MiB / KiB);
}

/** A FAT volume ID (8 hex digits) from a seed: the same inputs give the same image. */
export function volumeId(seed: string): string {
  return createHash('sha256').update(`${seed}:efiboot`).digest('hex').slice(0, 8).toUpperCase();
}

/**
 * The files are staged in a directory beside the image, every file and directory dated
 * SOURCE_DATE_EPOCH, and copied in one `mcopy -s -m`: mmd would date the directories it makes
 * with the clock (mtools does not read SOURCE_DATE_EPOCH), -m keeps the staged dates.
 */
export async function buildBootImage(liveRoot: string, img: string, seed: string, epoch: string): Promise<void> {
  const stage = `${img}.d`;
  let bytes = 0;
  for (const f of BOOT_FILES) {
    const host = join(liveRoot, f.source);
    const st = await stat(host).catch(() => null);
    if (!st?.isFile())
      throw new ToolError('missing-bootloader', `the live commit has no /${f.source} (package ${f.package})`, {
        hint: "the ISO boots through Debian's signed shim and GRUB: variants/treefiles/base.yaml installs them",
      });
    await mkdir(join(stage, dirname(f.esp)), { recursive: true });
    await copyFile(host, join(stage, f.esp));
    bytes += st.size;
  }
  const time = Number(epoch);
  for (const f of BOOT_FILES) await utimes(join(stage, f.esp), time, time);
  for (const d of ['EFI/BOOT', 'EFI']) await utimes(join(stage, d), time, time);
  const opts = { binds: [dirname(img)], env: { SOURCE_DATE_EPOCH: epoch } };
  await toolboxRun('mkfs.vfat', ['-C', '-n', 'EFIBOOT', '-i', volumeId(seed), img, String(bootImageKiB(bytes))], {
    ...opts,
    providedBy: 'dosfstools',
    what: 'make the EFI boot image',
  });
  await toolboxRun('mcopy', ['-s', '-m', '-i', img, join(stage, 'EFI'), '::/'], {
    ...opts,
    providedBy: 'mtools',
    what: 'copy the boot files to the EFI boot image',
  });
  await rm(stage, { recursive: true, force: true });
}
