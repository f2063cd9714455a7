/**
 * atomic install to-disk (bootc install to-disk): the whole disk becomes a Debian Atomic system,
 * with disk-image's layout, boot chain and config (the code is disk-image's, shared):
 *
 *   1. everything checked before the disk is touched: the config, the source (skopeo inspect, or
 *      the commit in the system repository), the disk (whole, writable, large enough, not mounted,
 *      not held by LVM/RAID/swap, opened exclusively), and what it holds (refused unless --wipe or
 *      a confirmation on the terminal);
 *   2. sfdisk writes disk-image's GPT (ESP + root, Discoverable Partitions types) with the old
 *      signatures wiped; mkfs.vfat and mkfs.ext4 on the partitions;
 *   3. the root file system mounted; the image imported into it (no copy in memory), the commit
 *      deployed with its origin, users, hostname and kernel arguments (disk-image's prepareSysroot);
 *   4. the ESP filled with mtools (Debian's signed shim and GRUB from the commit), the bootloader
 *      state written, unmounted; a firmware boot entry (efibootmgr) when booted with UEFI.
 *
 * A failure after step 2 wipes the partition table again: a disk is either installed or blank,
 * never half-installed and bootable into something broken.
 */
import { constants } from 'node:fs';
import { copyFile, mkdtemp, open, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  ESP_FILES,
  ESP_GRUB_CFG,
  espGrubConfig,
  onInterrupt,
  run,
  ToolError,
  usageError,
  type Progress,
} from '@debian-atomic/lib';
import {
  annotateImageCache,
  bootloaderState,
  commitInfo,
  ESP_TYPE,
  fillEsp,
  loadConfig,
  makeEspFs,
  MiB,
  parseSize,
  planLayout,
  prepareSysroot,
  ROOT_LABEL,
  ROOT_TYPE_X86_64,
  seedImageCache,
  sfdiskScript,
  writeBootloaderState,
  type DiskConfig,
} from '@debian-atomic/disk-image';
import { importImage } from '@debian-atomic/oci-wrap';
import {
  candidates,
  checkTarget,
  contents,
  describeDisk,
  installedPartitions,
  lsblk,
  MIN_DISK_BYTES,
  sizeText,
  type BlockDevice,
} from './disks.js';
import { inspectImage, isImageReference, parseImageRef } from './image.js';
import { parseRefspec, pullRefspec } from './ostree-remote.js';
import { formatOrigin, type Origin } from './origin.js';
import { ostree, readDeployments, repoOf } from './sysroot.js';

export interface InstallOptions {
  /** The disk; else the config's install.device; else asked on the terminal. */
  device?: string | undefined;
  /** oci:DIR[:TAG], oci-archive:FILE[:TAG], docker://…, REMOTE:REF; default: the booted deployment. */
  source?: string | undefined;
  config?: string | undefined;
  wipe?: boolean | undefined;
  /** The image the installed system updates from (bootc's --target-imgref); default: the config's image, or a docker:// source. */
  targetImgref?: string | undefined;
  tlsVerify: boolean;
  /** The running system (for the default source and REMOTE:REF). */
  sysroot: string;
  progress?: Progress | undefined;
}

export interface InstallIo {
  stderr: NodeJS.WritableStream;
  /** Ask a question on the terminal; null when there is no terminal (unattended). */
  ask: ((question: string) => Promise<string>) | null;
  /** The disks (lsblk); tests replace it. */
  lsblk?: (device?: string) => Promise<BlockDevice[]>;
}

/** What the install will put on the disk: a commit in a repository, and where updates come from. */
interface Source {
  describe: string;
  /** An image to import into the new root file system. */
  image?: { source: string; digest: string; version?: string | undefined } | undefined;
  /** A commit already in a local repository, the name the installed system gives it, and the origin it follows. */
  local?: { repo: string; commit: string; ref: string; origin: Origin | null } | undefined;
}

/** Lines of the origin: an image (`atomic upgrade` pulls it) or an OSTree remote (from the config). */
function originImage(o: InstallOptions, config: DiskConfig): string | undefined {
  if (o.targetImgref) return o.targetImgref;
  if (config.image) return config.image;
  if (o.source?.startsWith('docker://')) return o.source;
  return undefined;
}

/** The config, checked; what only disk images take is refused. */
async function readConfig(file: string | undefined): Promise<DiskConfig> {
  const config = await loadConfig(file);
  for (const key of ['size', 'free-space'] as const)
    if (config.disk?.[key] !== undefined)
      throw usageError(
        `${file}: disk.${key} is for disk images: an install takes the whole disk`,
        'leave it out of the config given to atomic install to-disk',
      );
  return config;
}

/** The source, checked before the disk is touched (skopeo inspect, or the commit resolved). */
async function resolveSource(o: InstallOptions): Promise<Source> {
  if (o.source !== undefined && isImageReference(o.source)) {
    const ref = parseImageRef(o.source);
    if (ref.transport !== 'docker' && !existsSync(ref.path))
      throw usageError(`--source ${o.source}: ${ref.path} does not exist`);
    o.progress?.step(`checking ${ref.reference}`);
    const check = await inspectImage(ref.reference, { sysroot: o.sysroot, tlsVerify: o.tlsVerify });
    return {
      describe: `${ref.reference} (${check.digest.slice(0, 19)})`,
      image: { source: ref.reference, digest: check.digest, version: check.version },
    };
  }
  if (o.source !== undefined) {
    o.progress?.step(`fetching ${o.source}`);
    const c = await pullRefspec(o.sysroot, o.source);
    return {
      describe: `${o.source} (${c.commit.slice(0, 12)})`,
      local: {
        repo: repoOf(o.sysroot),
        commit: c.commit,
        ref: parseRefspec(o.source).ref,
        origin: { kind: 'ostree', refspec: o.source },
      },
    };
  }
  const deployments = await readDeployments(o.sysroot).catch(() => []);
  const booted = deployments.find((d) => d.booted);
  if (!booted)
    throw usageError(
      'no --source, and this is not a booted Debian Atomic system to install a copy of',
      'give --source oci:DIR, docker://REGISTRY/NAME[:TAG] or REMOTE:REF',
    );
  // The installed system names the commit as this one's origin does (its ref), else by the image.
  const ref =
    booted.origin?.kind === 'ostree'
      ? parseRefspec(booted.origin.refspec).ref
      : booted.osname === 'debian'
        ? 'debian/installed'
        : `${booted.osname}/installed`;
  return {
    describe: `the booted deployment (${booted.checksum.slice(0, 12)})`,
    local: { repo: repoOf(o.sysroot), commit: booted.checksum, ref, origin: booted.origin },
  };
}

/** The disk to install to: the argument, the config's, or one chosen on the terminal. */
async function chooseDisk(
  o: InstallOptions,
  config: DiskConfig,
  io: InstallIo,
  list: (d?: string) => Promise<BlockDevice[]>,
): Promise<{ path: string; asked: boolean }> {
  const given = o.device ?? config.install?.device;
  if (given !== undefined) return { path: given, asked: false };
  if (!io.ask)
    throw usageError(
      'no disk given: name it (atomic install to-disk DEVICE) or in the config (install.device), or run on a terminal to choose one',
    );
  const disks = candidates(await list());
  if (disks.length === 0)
    throw new ToolError(
      'no-disk',
      `no disk to install to: none is whole, writable, unused and at least ${sizeText(MIN_DISK_BYTES)}`,
      { hint: 'lsblk lists the disks' },
    );
  io.stderr.write(
    `Disks this system can be installed to:\n${disks.map((d, i) => `  ${i + 1}) ${describeDisk(d)}${d.children.length ? `  (${d.children.length} partition${d.children.length > 1 ? 's' : ''})` : '  (empty)'}`).join('\n')}\n`,
  );
  for (;;) {
    const answer = (await io.ask(`Install to which disk? [1-${disks.length}, or q to quit]: `)).trim();
    if (/^q(uit)?$/i.test(answer)) throw new ToolError('cancelled', 'cancelled: nothing was written', { exitCode: 1 });
    const n = Number(answer);
    const d =
      Number.isInteger(n) && n >= 1 && n <= disks.length
        ? disks[n - 1]
        : disks.find((x) => x.path === answer || x.name === answer);
    if (d) return { path: d.path, asked: true };
    io.stderr.write(`'${answer}' is not one of the disks above\n`);
  }
}

/** Fails unless the device can be opened exclusively (the kernel refuses while anything holds it). */
async function openExclusive(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY | constants.O_EXCL).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EBUSY')
      throw new ToolError(
        'disk-busy',
        `cannot install to ${path}: the kernel says it is in use (mounted, swap, or held by LVM, RAID or a device mapper)`,
        { hint: 'lsblk shows what uses it' },
      );
    throw new ToolError('disk-open', `cannot open ${path}: ${err.code ?? err.message}`);
  });
  await fh.close();
}

/** The partitions lsblk shows once the kernel and udev have seen the new table (a few tries). */
async function waitForPartitions(
  disk: string,
  list: (d?: string) => Promise<BlockDevice[]>,
): Promise<{ esp: string; root: string }> {
  let last: unknown;
  for (let i = 0; i < 20; i++) {
    // sfdisk asks the kernel to reread the table; when the device was busy for a moment (or the
    // kernel skipped it), partx adds the partitions it does not know yet.
    await run('partx', [i === 0 ? '--update' : '--add', disk], { what: 'tell the kernel the partitions' }).catch(
      () => undefined,
    );
    await run('udevadm', ['settle', '--timeout=10'], { what: 'wait for udev' }).catch(() => undefined);
    try {
      return await installedPartitions((await list(disk))[0]!);
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw last;
}

/** Erase what was written: the partition table and the new file systems' signatures. */
async function wipeDisk(disk: string, parts: readonly string[]): Promise<void> {
  for (const p of [...parts, disk])
    await run('wipefs', ['--all', '--force', '--quiet', p], { what: `wipe ${p}` }).catch(() => undefined);
  await run('blockdev', ['--rereadpt', disk], { what: 'reread the partition table' }).catch(() => undefined);
}

/** A firmware boot entry for the new ESP's shim; the fallback path EFI/BOOT/BOOTX64.EFI boots without it. */
async function bootEntry(disk: string, io: InstallIo): Promise<string | null> {
  if (!existsSync('/sys/firmware/efi/efivars')) return null;
  const shim = ESP_FILES.find((f) => f.component === 'shim' && f.esp.startsWith('EFI/debian/'))!.esp;
  const loader = `\\${shim.replace(/\//g, '\\')}`;
  return run(
    'efibootmgr',
    ['--quiet', '--create', '--disk', disk, '--part', '1', '--label', 'Debian Atomic', '--loader', loader],
    { providedBy: 'efibootmgr', what: 'add the firmware boot entry' },
  ).then(
    () => `Debian Atomic (${loader})`,
    (err: unknown) => {
      io.stderr.write(
        `atomic: warning: no firmware boot entry (${err instanceof ToolError ? err.summary : String(err)}); the firmware finds EFI/BOOT/BOOTX64.EFI on the disk\n`,
      );
      return null;
    },
  );
}

/**
 * The installed system follows the same OSTree refspec as this one: its origin says so, and its
 * repository gets the remote (URL, gpg-verify, trusted keys) from this system's.
 */
async function followRefspec(sysroot: string, mnt: string, originFile: string, refspec: string): Promise<void> {
  await writeFile(originFile, formatOrigin({ kind: 'ostree', refspec }));
  const i = refspec.indexOf(':');
  if (i < 0) return;
  const remote = refspec.slice(0, i);
  const from = repoOf(sysroot);
  const to = repoOf(mnt);
  const url = (
    await ostree([`--repo=${from}`, 'remote', 'show-url', remote], [sysroot], `read the URL of ${remote}`)
  ).stdout.trim();
  const verify = await ostree(
    [`--repo=${from}`, 'config', 'get', `remote "${remote}".gpg-verify`],
    [sysroot],
    'read gpg-verify',
  ).then(
    (r) => r.stdout.trim(),
    () => 'true',
  );
  await ostree(
    [`--repo=${to}`, 'remote', 'add', `--set=gpg-verify=${verify === 'false' ? 'false' : 'true'}`, remote, url],
    [mnt],
    `add the remote ${remote}`,
  );
  const keys = join(from, `${remote}.trustedkeys.gpg`);
  if (existsSync(keys)) await copyFile(keys, join(to, `${remote}.trustedkeys.gpg`));
}

export async function installToDisk(o: InstallOptions, io: InstallIo) {
  const started = Date.now();
  const p = o.progress;
  const list = io.lsblk ?? lsblk;
  if (process.getuid?.() !== 0)
    throw new ToolError('not-root', 'install to-disk: must run as root (it partitions a disk)');
  const config = await readConfig(o.config);
  const configDir = o.config ? dirname(resolve(o.config)) : process.cwd();
  const source = await resolveSource(o);

  // The disk: checked (whole, writable, large enough, unused), and what it holds named.
  const chosen = await chooseDisk(o, config, io, list);
  const st = await stat(chosen.path).catch(() => null);
  if (!st) throw usageError(`${chosen.path}: no such device`);
  if (!st.isBlockDevice())
    throw usageError(`${chosen.path}: not a block device (a disk such as /dev/vda or /dev/nvme0n1)`);
  const disk = await realpath(chosen.path);
  const target = checkTarget(disk, await list(disk));
  const held = contents(target);
  let wipe = Boolean(o.wipe || config.install?.wipe);
  if (io.ask && (chosen.asked || (held.length && !wipe))) {
    io.stderr.write(
      `\nInstalling ${source.describe}\nto ${describeDisk(target)}.\n${held.length ? `This ERASES everything on it:\n${held.map((l) => `  ${l}\n`).join('')}` : 'The disk is empty.\n'}`,
    );
    const answer = (await io.ask(`Type "yes" to erase ${disk} and install: `)).trim();
    if (answer !== 'yes') throw new ToolError('cancelled', `cancelled: ${disk} was not changed`, { exitCode: 1 });
    wipe = true;
  }
  if (held.length && !wipe)
    throw new ToolError(
      'disk-not-empty',
      `${disk} holds data; install to-disk would destroy:\n${held.map((l) => `  ${l}`).join('\n')}`,
      { hint: 'give --wipe (or install.wipe: true in the config) to erase it' },
    );
  await openExclusive(disk);

  // From here the disk is written; a failure wipes it again.
  const seed = randomUUID();
  const layout = planLayout({
    contentBytes: 0,
    inodes: 0,
    seed,
    diskBytes: target.size,
    espBytes: parseSize(config.disk?.['esp-size'], 64 * MiB),
  });
  const work = await mkdtemp(join(tmpdir(), 'atomic-install-'));
  const mnt = join(work, 'root');
  let mounted = false;
  let parts: { esp: string; root: string } | undefined;
  const undo = async () => {
    if (mounted) await run('umount', ['--lazy', mnt], { what: 'unmount the new root' }).catch(() => undefined);
    mounted = false;
    await wipeDisk(disk, parts ? [parts.esp, parts.root] : []);
    await rm(work, { recursive: true, force: true });
  };
  const cleanup = onInterrupt(undo);
  try {
    p?.step(`partitioning ${disk} (GPT: ESP ${sizeText(layout.espBytes)}, root ${sizeText(layout.rootBytes)})`);
    await run('sfdisk', ['--quiet', '--wipe', 'always', '--wipe-partitions', 'always', disk], {
      input: sfdiskScript(layout),
      providedBy: 'fdisk',
      what: `partition ${disk}`,
    });
    parts = await waitForPartitions(disk, list);
    p?.step('file systems');
    await makeEspFs(parts.esp, layout, { create: false, binds: [parts.esp] });
    await run('mkfs.ext4', ['-q', '-F', '-L', ROOT_LABEL, '-U', layout.rootFsUuid, parts.root], {
      providedBy: 'e2fsprogs',
      what: 'make the root file system',
    });
    await run('mkdir', ['-p', mnt]);
    await run('mount', ['-t', 'ext4', parts.root, mnt], { providedBy: 'mount', what: 'mount the new root' });
    mounted = true;

    // The commit, in a repository on the new disk (never a copy of the image in memory).
    let repo: string;
    let ref: string;
    let commit: string | undefined;
    const imported = join(mnt, '.atomic-install');
    const origin = originImage(o, config);
    let image: { reference: string; digest?: string | undefined; cache?: string | undefined } | undefined;
    if (source.image) {
      let from = source.image.source;
      let cache: string | undefined;
      if (origin) {
        // The image as installed becomes the layer cache: the first `atomic upgrade` fetches only what changed.
        cache = join(imported, 'cache');
        p?.step('copying the image into the layer cache');
        from = await seedImageCache(from, cache, origin, o.tlsVerify);
      }
      p?.step(`importing ${source.image.source}`);
      const r = await importImage({ source: from, repo: join(imported, 'repo'), tlsVerify: o.tlsVerify, progress: p });
      if (cache && origin) await annotateImageCache(cache, origin, r.digest);
      repo = join(imported, 'repo');
      ref = r.ref;
      if (origin) image = { reference: origin, digest: r.digest, cache };
    } else {
      repo = source.local!.repo;
      ref = source.local!.ref;
      commit = source.local!.commit;
      const from = source.local!.origin;
      if (origin) image = { reference: origin };
      else if (from?.kind === 'image' && !config.remote) image = { reference: from.image, digest: from.digest };
    }
    const info = await commitInfo(repo, commit ?? ref);
    const prepared = await prepareSysroot({
      repo,
      ref,
      commit,
      info,
      sysroot: mnt,
      rootFsUuid: layout.rootFsUuid,
      config,
      configDir,
      image,
      progress: p,
    });
    await rm(imported, { recursive: true, force: true });
    const followed = source.local?.origin;
    if (!image && !config.remote && followed?.kind === 'ostree')
      await followRefspec(o.sysroot, mnt, join(mnt, `${prepared.dep.path}.origin`), followed.refspec);

    p?.step('ESP (shim, GRUB)');
    const grubCfg = espGrubConfig(layout.rootFsUuid);
    await writeBootloaderState(
      mnt,
      bootloaderState({
        espGuid: layout.espGuid,
        espVolumeId: layout.espVolumeId,
        commit: info.commit,
        payload: prepared.payload,
        grubCfg,
      }),
    );
    await fillEsp(parts.esp, work, prepared.payload.files, { esp: ESP_GRUB_CFG, text: grubCfg });
    p?.step('writing to disk');
    await run('sync', ['--file-system', mnt], { what: 'flush the new root' });
    await run('umount', [mnt], { providedBy: 'mount', what: 'unmount the new root' });
    mounted = false;
    const entry = await bootEntry(disk, io);
    cleanup();
    await rm(work, { recursive: true, force: true });
    return {
      apiVersion: 'org.debian-atomic/v1',
      kind: 'Install',
      device: disk,
      size: target.size,
      source: source.describe,
      commit: info.commit,
      version: info.version,
      osname: prepared.osname,
      origin: prepared.image
        ? { type: 'image', image: prepared.image.reference, digest: prepared.image.digest ?? null }
        : prepared.remote
          ? { type: 'ostree', refspec: `${prepared.remote.name}:${ref}` }
          : followed?.kind === 'ostree'
            ? { type: 'ostree', refspec: followed.refspec }
            : null,
      kernelArgs: prepared.kernelArgs,
      secureBoot: prepared.secureBoot,
      bootloader: prepared.payload.packages,
      hostname: prepared.custom.hostname,
      users: prepared.custom.users,
      partitions: [
        {
          path: parts.esp,
          type: ESP_TYPE,
          partuuid: layout.espGuid,
          filesystem: 'vfat',
          label: 'ESP',
          size: layout.espBytes,
        },
        {
          path: parts.root,
          type: ROOT_TYPE_X86_64,
          partuuid: layout.rootGuid,
          filesystem: 'ext4',
          label: ROOT_LABEL,
          uuid: layout.rootFsUuid,
          size: layout.rootBytes,
        },
      ],
      bootEntry: entry,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } catch (err) {
    cleanup();
    await undo();
    if (err instanceof ToolError)
      throw new ToolError(err.code, `${err.summary}; ${disk} was erased again: nothing was installed`, {
        detail: err.detail,
        hint: err.hint,
        exitCode: err.exitCode,
        cause: err,
      });
    throw err;
  }
}
