/**
 * buildDiskImage: commit → deployed sysroot → ESP + root images → GPT disk →
 * format, all in a work directory beside --output, renamed into place at the
 * end. A failure leaves --output as it was.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  ESP_GRUB_CFG,
  espGrubConfig,
  onInterrupt,
  run,
  tempSibling,
  ToolError,
  type Progress,
} from '@debian-atomic/lib';
import { CACHE_DIR } from '@debian-atomic/oci-wrap';
import { parseSize, type DiskConfig } from './config.js';
import { customize, type UserResult } from './customize.js';
import {
  assemble,
  buildEsp,
  buildRoot,
  convert,
  ESP_TYPE,
  planLayout,
  ROOT_TYPE_X86_64,
  treeBytes,
  type Format,
} from './disk.js';
import { espPayload, writeBootloaderState, writeMenu } from './grub.js';
import { commitInfo, deploySysroot } from './sysroot.js';

export interface BuildOptions {
  repo: string;
  ref: string;
  format: Format;
  output: string;
  config: DiskConfig;
  configDir: string;
  /** The image the installed system updates from (config `image`, else the --oci docker:// source). */
  image?: { reference: string; digest?: string | undefined; cache?: string | undefined } | undefined;
  progress?: Progress | undefined;
}

export const ROOT_LABEL = 'debian-root';

export interface PrepareOptions {
  /** The repository holding the commit, and its ref (the name the installed system gives it, with `commit`). */
  repo: string;
  ref: string;
  /** The commit, when the repository does not have it under `ref`. */
  commit?: string | undefined;
  info: Awaited<ReturnType<typeof commitInfo>>;
  /** An empty directory: a work directory (disk images) or the mounted root file system (atomic install to-disk). */
  sysroot: string;
  /** The root file system's UUID: root= on the kernel command line, and the menu's search. */
  rootFsUuid: string;
  config: DiskConfig;
  configDir: string;
  image?: BuildOptions['image'];
  progress?: Progress | undefined;
}

/**
 * The installed system in `sysroot`, as disk-image and atomic install to-disk make it: the commit
 * deployed with its origin (remote or image, with the image's layer cache moved into /var), the
 * config's users and hostname, the boot chain checked and read, the first GRUB menu written.
 * The ESP's files are returned, not written: the caller puts them on an image or a partition.
 */
export async function prepareSysroot(o: PrepareOptions) {
  const tf = o.info.treefile;
  const osname = tf.osname ?? 'debian';
  const p = o.progress;
  const kernelArgs = [
    ...new Set([
      `root=UUID=${o.rootFsUuid}`,
      'rw',
      ...(tf['kernel-args'] ?? []),
      ...o.info.kargsD,
      ...(o.config['kernel-args'] ?? []),
    ]),
  ];
  const remote = o.config.remote
    ? {
        name: o.config.remote.name ?? osname,
        url: o.config.remote.url,
        gpgVerify: o.config.remote['gpg-verify'] ?? Boolean(o.config.remote['gpg-key']),
        gpgKey: o.config.remote['gpg-key'] ? resolve(o.configDir, o.config.remote['gpg-key']) : undefined,
      }
    : undefined;
  p?.step(`deploying ${o.ref} (${o.info.commit.slice(0, 12)})`);
  const image = o.image ? { reference: o.image.reference, digest: o.image.digest } : undefined;
  const dep = await deploySysroot({
    repo: o.repo,
    ref: o.ref,
    commit: o.commit,
    sysroot: o.sysroot,
    osname,
    kernelArgs,
    remote,
    image,
  });
  if (o.image?.cache) {
    // The stateroot's /var is the installed system's /var: atomic's layer cache lives there.
    const cache = join(o.sysroot, 'ostree/deploy', osname, CACHE_DIR);
    await mkdir(dirname(cache), { recursive: true });
    await rename(o.image.cache, cache);
  }
  const custom = await customize(o.sysroot, dep.path, osname, o.config);
  p?.step('boot chain (shim, GRUB, menu)');
  const secureBoot = tf['secure-boot'] ?? true;
  const payload = await espPayload(join(o.sysroot, dep.path), o.info.commit, secureBoot);
  await writeMenu(o.sysroot, o.rootFsUuid);
  return { osname, dep, custom, payload, kernelArgs, remote, image, secureBoot };
}

/** The state file atomic bootloader status reads: what the ESP holds, with the menu stub. */
export function bootloaderState(o: {
  espGuid: string;
  espVolumeId: string;
  commit: string;
  payload: Awaited<ReturnType<typeof prepareSysroot>>['payload'];
  grubCfg: string;
}) {
  return {
    apiVersion: 'org.debian-atomic/v1' as const,
    kind: 'BootloaderState' as const,
    esp: { partuuid: o.espGuid, volumeId: `${o.espVolumeId.slice(0, 4)}-${o.espVolumeId.slice(4)}` },
    commit: o.commit,
    packages: o.payload.packages,
    files: [
      ...o.payload.files.map((f) => ({ path: f.esp, sha256: f.sha256, size: f.size })),
      { path: ESP_GRUB_CFG, sha256: sha256Hex(o.grubCfg), size: Buffer.byteLength(o.grubCfg) },
    ],
  };
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

export async function buildDiskImage(o: BuildOptions) {
  const started = Date.now();
  const repo = resolve(o.repo);
  const output = resolve(o.output);
  const p = o.progress;
  const info = await commitInfo(repo, o.ref);
  const tf = info.treefile;
  const osname = tf.osname ?? 'debian';
  const epoch = process.env.SOURCE_DATE_EPOCH ?? '0';
  const seed = `${info.commit}:${epoch}:${o.format}`;

  const work = tempSibling(output, 'work');
  const cleanup = onInterrupt(() => rm(work, { recursive: true, force: true }));
  try {
    await mkdir(work, { recursive: true });
    const sysroot = resolve(work, 'sysroot');
    await mkdir(sysroot);
    // The root file system UUID goes on the kernel command line before mkfs: plan it from the seed now.
    const rootFsUuid = planLayout({ contentBytes: 0, inodes: 0, seed }).rootFsUuid;
    const prepared = await prepareSysroot({
      repo,
      ref: o.ref,
      info,
      sysroot,
      rootFsUuid,
      config: o.config,
      configDir: o.configDir,
      image: o.image,
      progress: p,
    });
    const { dep, custom, payload, kernelArgs, remote, image, secureBoot } = prepared;

    p?.step('sizing');
    const content = await treeBytes(sysroot);
    const disk = o.config.disk ?? {};
    let layout;
    try {
      layout = planLayout({
        contentBytes: content.bytes,
        inodes: content.inodes,
        seed,
        espBytes: parseSize(disk['esp-size'], 64 * 1024 * 1024),
        ...(disk['free-space'] !== undefined ? { freeBytes: parseSize(disk['free-space'], 0) } : {}),
        ...(disk.size !== undefined ? { diskBytes: parseSize(disk.size, 0) } : {}),
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'too-large')
        throw new ToolError('too-large', (err as Error).message, {
          hint: 'lower disk.free-space or disk.size in the config',
        });
      throw new ToolError('not-enough-space', (err as Error).message, {
        hint: 'raise disk.size in the config, or leave it out to size the disk to fit',
      });
    }
    const grubCfg = espGrubConfig(layout.rootFsUuid);
    await writeBootloaderState(
      sysroot,
      bootloaderState({
        espGuid: layout.espGuid,
        espVolumeId: layout.espVolumeId,
        commit: info.commit,
        payload,
        grubCfg,
      }),
    );
    p?.step('ESP image');
    const esp = await buildEsp(work, layout, payload.files, { esp: ESP_GRUB_CFG, text: grubCfg });
    p?.step(`root file system (${Math.round(layout.rootBytes / 1024 / 1024)} MiB)`);
    const root = await buildRoot(work, layout, sysroot, ROOT_LABEL);
    await removeSysroot(sysroot);
    p?.step('partitioning');
    const raw = await assemble(work, layout, esp, root);
    await rm(esp);
    await rm(root);
    p?.step(`converting to ${o.format}`);
    const converted = resolve(work, `disk.${o.format}`);
    await convert(raw, o.format, converted);
    await rename(converted, output);
    const fileBytes = (await stat(output)).size;
    return {
      output,
      format: o.format,
      ref: o.ref,
      commit: info.commit,
      version: info.version,
      osname,
      virtualSize: layout.diskBytes,
      fileBytes,
      contentBytes: content.bytes,
      kernelArgs,
      secureBoot,
      bootloader: payload.packages,
      bootEntry:
        dep.bootEntry
          .split('\n')
          .find((l) => l.startsWith('title '))
          ?.slice(6) ?? null,
      remote: remote ? { name: remote.name, url: remote.url, gpgVerify: remote.gpgVerify } : null,
      image: image ?? null,
      hostname: custom.hostname,
      users: custom.users satisfies UserResult[],
      partitions: [
        {
          number: 1,
          name: 'esp',
          type: ESP_TYPE,
          start: layout.espStart,
          size: layout.espBytes,
          partuuid: layout.espGuid,
          filesystem: 'vfat',
          label: 'ESP',
          uuid: layout.espVolumeId,
        },
        {
          number: 2,
          name: 'root',
          type: ROOT_TYPE_X86_64,
          start: layout.rootStart,
          size: layout.rootBytes,
          partuuid: layout.rootGuid,
          filesystem: 'ext4',
          label: ROOT_LABEL,
          uuid: layout.rootFsUuid,
        },
      ],
      diskGuid: layout.diskGuid,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    cleanup();
    await removeSysroot(resolve(work, 'sysroot'));
    await rm(work, { recursive: true, force: true });
  }
}

/** ostree marks deployment roots immutable (chattr +i); lift that before removing the work tree. */
async function removeSysroot(sysroot: string): Promise<void> {
  const base = resolve(sysroot, 'ostree/deploy');
  for (const os of await readdir(base).catch(() => [] as string[]))
    for (const d of await readdir(resolve(base, os, 'deploy')).catch(() => [] as string[]))
      if (/\.\d+$/.test(d))
        await run('chattr', ['-i', resolve(base, os, 'deploy', d)], { providedBy: 'e2fsprogs' }).catch(() => undefined);
  await rm(sysroot, { recursive: true, force: true });
}
