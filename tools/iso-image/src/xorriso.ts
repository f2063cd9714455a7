/**
 * The ISO itself: xorriso (mkisofs emulation) writes an ISO 9660 + Rock Ridge + Joliet tree with
 * the EFI boot image appended as a GPT ESP partition and named in El Torito: the same file boots
 * from a CD (El Torito) and from a USB stick (the firmware finds the ESP in the GPT).
 */
import { toolboxRun } from '@debian-atomic/lib';

export function xorrisoArgs(o: {
  tree: string;
  efiImage: string;
  label: string;
  output: string;
  epoch: string;
}): string[] {
  return [
    '-as',
    'mkisofs',
    '-r',
    '-J',
    '-joliet-long',
    '-iso-level',
    '3',
    '-V',
    o.label,
    // SOURCE_DATE_EPOCH alone dates the volume and the UUID, not the files: the tree's directories
    // were made now. Every file and directory gets the epoch (=N: seconds since 1970).
    '--set_all_file_dates',
    `=${o.epoch}`,
    // The ISO partition starts after 16 blocks, so the GPT and the ISO's own superblock do not overlap.
    '-partition_offset',
    '16',
    '-append_partition',
    '2',
    '0xef',
    o.efiImage,
    '-appended_part_as_gpt',
    '-e',
    '--interval:appended_partition_2:all::',
    '-no-emul-boot',
    '-o',
    o.output,
    o.tree,
  ];
}

/** SOURCE_DATE_EPOCH makes xorriso derive the volume dates, the UUID and the GPT GUIDs from it; the files' dates are set above. */
export async function writeIso(o: {
  tree: string;
  efiImage: string;
  label: string;
  output: string;
  epoch: string;
  binds: string[];
}): Promise<void> {
  await toolboxRun('xorriso', xorrisoArgs(o), {
    binds: o.binds,
    env: { SOURCE_DATE_EPOCH: o.epoch },
    providedBy: 'xorriso',
    what: 'write the ISO',
  });
}
