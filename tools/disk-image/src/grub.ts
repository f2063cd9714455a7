/**
 * The boot chain, Secure Boot ready: Debian's signed shim and GRUB copied from the deployment
 * onto the ESP (tools/lib's ESP_FILES), the ESP's grub.cfg handing over to /boot/grub/grub.cfg,
 * a link to /boot/loader/grub.cfg — the menu of the deployments. ostree's grub2 integration
 * rewrites it on every deploy, upgrade and rollback (grub-mkconfig with /etc/grub.d/15_ostree
 * into /boot/loader.N, then the /boot/loader swap); the first one is written here, with the
 * same generator (`ostree admin instutil grub2-generate`), as no block device exists at build time.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, readlink, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BOOTLOADER_STATE, ESP_FILES, toolboxRun, ToolError, type BootloaderState } from '@debian-atomic/lib';
import { peSigners, signedByDebian } from './signature.js';

export interface EspPayload {
  /** ESP path → file on the host. */
  files: Array<{ esp: string; host: string; sha256: string; size: number }>;
  packages: Record<string, string>;
}

/** The header of the first menu: what grub-mkconfig writes from the image's /etc/default/grub, in short. */
export function menuHeader(timeout = 1): string {
  return [
    '# The deployments, written by disk-image; ostree rewrites this file on every deployment',
    '# change with grub-mkconfig (/etc/default/grub, /etc/grub.d/15_ostree).',
    'set default=0',
    `set timeout=${timeout}`,
    'serial --unit=0 --speed=115200',
    'terminal_input console serial',
    'terminal_output console serial',
    'function load_video {',
    '  insmod all_video',
    '}',
    '',
  ].join('\n');
}

/** The deployment's signed boot chain, checked; the kernel's signature is checked unless Secure Boot is off. */
export async function espPayload(deployRoot: string, commit: string, secureBoot: boolean): Promise<EspPayload> {
  const files: EspPayload['files'] = [];
  for (const f of ESP_FILES) {
    const host = join(deployRoot, f.source);
    const data = await readFile(host).catch(() => {
      throw new ToolError(
        'missing-bootloader',
        `${commit.slice(0, 12)}: no /${f.source} in the commit (package ${f.package})`,
        {
          hint: "the image boots through Debian's signed shim and GRUB: add shim-signed and grub-efi-amd64-signed to the treefile's packages (variants/treefiles/base.yaml lists them)",
        },
      );
    });
    files.push({ esp: f.esp, host, sha256: createHash('sha256').update(data).digest('hex'), size: data.length });
  }
  if (secureBoot) await checkKernels(deployRoot, commit);
  return { files, packages: await packageVersions(deployRoot, [...new Set(ESP_FILES.map((f) => f.package))]) };
}

/** Every kernel in /usr/lib/modules must carry Debian's signature, or shim refuses it under Secure Boot. */
export async function checkKernels(deployRoot: string, commit: string): Promise<void> {
  const modules = join(deployRoot, 'usr/lib/modules');
  const kernels = (await readdir(modules).catch(() => [] as string[])).sort();
  let found = 0;
  for (const k of kernels) {
    const path = join(modules, k, 'vmlinuz');
    const data = await readFile(path).catch(() => null);
    if (!data) continue;
    found++;
    let signers: string[];
    try {
      signers = peSigners(data);
    } catch (err) {
      throw new ToolError(
        'unsigned-kernel',
        `${commit.slice(0, 12)}: /usr/lib/modules/${k}/vmlinuz: ${(err as Error).message}`,
        { hint: secureBootHint },
      );
    }
    if (!signedByDebian(signers))
      throw new ToolError(
        'unsigned-kernel',
        `${commit.slice(0, 12)}: /usr/lib/modules/${k}/vmlinuz is not signed by Debian (${signers.length ? `signed by: ${signers.join(', ')}` : 'no signature'}): shim refuses it under Secure Boot`,
        { hint: secureBootHint },
      );
  }
  if (found === 0)
    throw new ToolError('no-kernel', `${commit.slice(0, 12)}: no kernel in /usr/lib/modules/*/vmlinuz`, {
      hint: 'add a kernel package (linux-image-amd64) to the treefile',
    });
}

const secureBootHint =
  "use Debian's kernel (linux-image-amd64), or set 'secure-boot: false' in the treefile for an image that boots with Secure Boot off only";

/** Versions of the packages the ESP files come from, from the commit's package manifest. */
async function packageVersions(deployRoot: string, names: string[]): Promise<Record<string, string>> {
  const text = await readFile(join(deployRoot, 'usr/share/debian-atomic/packages.json'), 'utf8').catch(() => '[]');
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    list = [];
  }
  const out: Record<string, string> = {};
  if (Array.isArray(list))
    for (const p of list as Array<{ name?: unknown; version?: unknown }>)
      if (typeof p.name === 'string' && typeof p.version === 'string' && names.includes(p.name))
        out[p.name] = p.version;
  return out;
}

/**
 * Make the sysroot's menu: /boot/grub/grub.cfg → ../loader/grub.cfg, the first menu in the
 * current /boot/loader.N, and sysroot.bootloader=grub2 so the booted system's ostree keeps it.
 */
export async function writeMenu(sysroot: string, rootFsUuid: string): Promise<string> {
  const boot = join(sysroot, 'boot');
  const loader = await readlink(join(boot, 'loader'));
  if (!/^loader\.[01]$/.test(loader))
    throw new ToolError('deploy-failed', `${boot}/loader points to ${loader}, expected loader.0 or loader.1`);
  const bootversion = loader.slice(-1);
  const binds = [sysroot];
  const entries = await toolboxRun(
    'ostree',
    ['admin', 'instutil', 'grub2-generate', `--sysroot=${sysroot}`, bootversion],
    {
      binds,
      providedBy: 'ostree',
      what: 'write the GRUB menu',
      env: {
        GRUB2_BOOT_DEVICE_ID: rootFsUuid,
        GRUB2_PREPARE_ROOT_CACHE: `insmod part_gpt\ninsmod ext2\nsearch --no-floppy --fs-uuid --set=root ${rootFsUuid}`,
      },
    },
  );
  const menu = menuHeader() + entries.stdout;
  await writeFile(join(boot, loader, 'grub.cfg'), menu);
  await mkdir(join(boot, 'grub'), { recursive: true });
  await symlink('../loader/grub.cfg', join(boot, 'grub/grub.cfg'));
  await toolboxRun(
    'ostree',
    [`--repo=${join(sysroot, 'ostree/repo')}`, 'config', 'set', 'sysroot.bootloader', 'grub2'],
    { binds, providedBy: 'ostree', what: 'configure the bootloader' },
  );
  return menu;
}

/** The state file atomic reads (`atomic bootloader status`), written into the sysroot's /boot. */
export async function writeBootloaderState(sysroot: string, state: BootloaderState): Promise<void> {
  const path = join(sysroot, BOOTLOADER_STATE);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`);
}
