/**
 * The install config on the ISO (/install.yaml): the --config file as given (validated by
 * disk-image's loadConfig before any work), with its remote.gpg-key file copied beside it as
 * /install-gpg-key.asc and the key's path in the copy rewritten to that name (comments kept).
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { DiskConfig } from '@debian-atomic/disk-image';

export const CONFIG_NAME = 'install.yaml';
export const GPG_KEY_NAME = 'install-gpg-key.asc';

export interface InstallPlan {
  unattended: boolean;
  device: string | null;
  finish: 'poweroff' | 'reboot';
}

/** What the installer will do with this config: unattended only when it names the disk. */
export function installPlan(config: DiskConfig): InstallPlan {
  const device = config.install?.device ?? null;
  return { unattended: device !== null, device, finish: config.install?.finish ?? 'poweroff' };
}

/** The config's text as it goes on the ISO. */
export function rewriteGpgKey(text: string, name: string): string {
  const doc = parseDocument(text);
  doc.setIn(['remote', 'gpg-key'], name);
  return doc.toString();
}

export async function writeInstallConfig(file: string, config: DiskConfig, tree: string): Promise<void> {
  const key = config.remote?.['gpg-key'];
  if (key === undefined) {
    await copyFile(file, join(tree, CONFIG_NAME));
    return;
  }
  await copyFile(resolve(dirname(resolve(file)), key), join(tree, GPG_KEY_NAME));
  await writeFile(join(tree, CONFIG_NAME), rewriteGpgKey(await readFile(file, 'utf8'), GPG_KEY_NAME));
}
