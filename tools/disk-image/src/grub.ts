/**
 * The ESP's only file: a standalone GRUB EFI binary (GRUB 2.14 from forky, for
 * its blscfg) whose embedded config finds the root file system by UUID and boots
 * the BLS entries ostree writes in /boot/loader/entries. Nothing on the ESP ever
 * changes after install: upgrades and rollbacks only swap /boot/loader.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir, toolboxRun, ToolError } from '@debian-atomic/lib';

export function grubBlsDir(): string {
  return process.env.DEBIAN_ATOMIC_GRUB ?? join(cacheDir(), 'grub-bls');
}

export function embeddedConfig(rootUuid: string, timeout = 1): string {
  return [
    'insmod part_gpt',
    'insmod ext2',
    'insmod blsuki',
    'serial --unit=0 --speed=115200',
    'terminal_input console serial',
    'terminal_output console serial',
    `set timeout=${timeout}`,
    `search --no-floppy --fs-uuid --set=root ${rootUuid}`,
    'blscfg --path /boot/loader/entries',
    '',
  ].join('\n');
}

export async function buildGrubEfi(workDir: string, rootUuid: string): Promise<string> {
  const grub = grubBlsDir();
  const mkstandalone = join(grub, 'usr/bin/grub-mkstandalone');
  if (!existsSync(mkstandalone) || !existsSync(join(grub, 'usr/lib/grub/x86_64-efi/blsuki.mod')))
    throw new ToolError('missing-grub', `GRUB with blscfg not found in ${grub}`, { hint: "run 'make toolbox' (scripts/toolbox.sh fetches forky's GRUB 2.14)" });
  const cfg = join(workDir, 'grub-embedded.cfg');
  await writeFile(cfg, embeddedConfig(rootUuid));
  const out = join(workDir, 'BOOTX64.EFI');
  await toolboxRun(
    mkstandalone,
    ['-O', 'x86_64-efi', '-d', join(grub, 'usr/lib/grub/x86_64-efi'), '--locales=', '--fonts=', '--themes=', '-o', out, `boot/grub/grub.cfg=${cfg}`],
    { binds: [workDir, grub], providedBy: 'grub-common', what: 'build the GRUB EFI binary' },
  );
  return out;
}
