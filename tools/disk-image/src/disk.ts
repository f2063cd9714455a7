/**
 * Assemble a GPT disk from file-system images, without loop devices or mounts:
 * mkfs.vfat + mtools for the ESP, mkfs.ext4 -d for the root, sfdisk for the
 * table, dd conv=notrunc to place them, qemu-img to convert. Partition types
 * from the Discoverable Partitions Specification.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, rename, truncate, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run, toolboxRun, ToolError } from '@debian-atomic/lib';

export const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
/** Root partition, x86-64 (DPS). */
export const ROOT_TYPE_X86_64 = '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709';
export const MiB = 1024 * 1024;
/** The largest disk made (the config's bounds keep each size under it; content plus free space may not). */
export const MAX_DISK_BYTES = 64 * 1024 * 1024 * MiB;
export const FORMATS = { raw: 'raw', qcow2: 'qcow2', vmdk: 'vmdk', vdi: 'vdi', vhd: 'vpc' } as const;
export type Format = keyof typeof FORMATS;

/** Deterministic UUIDs (v4 layout) from a seed: same commit and epoch → same image identity. */
export function seededUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** Bytes a tree needs on ext4: file sizes rounded to 4 KiB blocks, hardlinks once, plus inodes. */
export async function treeBytes(dir: string): Promise<{ bytes: number; inodes: number }> {
  const seen = new Set<string>();
  let bytes = 0;
  let inodes = 0;
  const walk = async (d: string): Promise<void> => {
    for (const name of await readdir(d)) {
      const p = join(d, name);
      const st = await lstat(p);
      inodes++;
      if (st.nlink > 1 && !st.isDirectory()) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      bytes += Math.ceil(st.size / 4096) * 4096;
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return { bytes, inodes };
}

export interface Layout {
  espBytes: number;
  rootBytes: number;
  diskBytes: number;
  espStart: number;
  rootStart: number;
  diskGuid: string;
  espGuid: string;
  rootGuid: string;
  rootFsUuid: string;
  espVolumeId: string;
}

export function planLayout(o: {
  contentBytes: number;
  inodes: number;
  freeBytes?: number;
  diskBytes?: number;
  espBytes?: number;
  seed: string;
}): Layout {
  const align = (n: number) => Math.ceil(n / MiB) * MiB;
  const espBytes = align(o.espBytes ?? 64 * MiB);
  const espStart = MiB;
  const rootStart = espStart + espBytes;
  // ext4 overhead: journal (64 MiB at these sizes), inode tables (256 B per inode, 4x headroom), reserved blocks off.
  const overhead = 64 * MiB + o.inodes * 4 * 256 + Math.ceil(o.contentBytes * 0.05);
  const free = o.freeBytes ?? Math.max(1024 * MiB, o.contentBytes);
  let rootBytes = align(o.contentBytes + overhead + free);
  let diskBytes = rootStart + rootBytes + MiB; // the backup GPT lives in the last MiB
  if (o.diskBytes !== undefined) {
    const fit = align(o.contentBytes + overhead);
    const available = Math.floor((o.diskBytes - rootStart - MiB) / MiB) * MiB;
    if (available < fit)
      throw Object.assign(
        new Error(
          `disk size ${o.diskBytes} is too small: the root file system needs ${fit} bytes plus the ESP (${espBytes})`,
        ),
        { code: 'too-small' },
      );
    rootBytes = available;
    diskBytes = Math.floor(o.diskBytes / MiB) * MiB;
  }
  if (diskBytes > MAX_DISK_BYTES)
    throw Object.assign(
      new Error(
        `a disk of ${diskBytes} bytes is more than the largest disk-image makes (${MAX_DISK_BYTES} bytes, 64 TiB)`,
      ),
      { code: 'too-large' },
    );
  const u = (what: string) => seededUuid(`${o.seed}:${what}`);
  const vol = createHash('sha256').update(`${o.seed}:esp-volume`).digest('hex').slice(0, 8).toUpperCase();
  return {
    espBytes,
    rootBytes,
    diskBytes,
    espStart,
    rootStart,
    diskGuid: u('disk'),
    espGuid: u('esp'),
    rootGuid: u('root'),
    rootFsUuid: u('rootfs'),
    espVolumeId: vol,
  };
}

export function sfdiskScript(l: Layout): string {
  const s = (b: number) => b / 512;
  return [
    'label: gpt',
    `label-id: ${l.diskGuid}`,
    'unit: sectors',
    'first-lba: 2048',
    `start=${s(l.espStart)}, size=${s(l.espBytes)}, type=${ESP_TYPE}, uuid=${l.espGuid}, name="esp"`,
    `start=${s(l.rootStart)}, size=${s(l.rootBytes)}, type=${ROOT_TYPE_X86_64}, uuid=${l.rootGuid}, name="root"`,
    '',
  ].join('\n');
}

/** The ESP: FAT32 with the boot chain's files (ESP path → host file) and GRUB's hand-over config. */
export async function buildEsp(
  work: string,
  l: Layout,
  files: ReadonlyArray<{ esp: string; host: string }>,
  grubCfg: { esp: string; text: string },
): Promise<string> {
  const img = join(work, 'esp.img');
  await makeEspFs(img, l, { create: true, binds: [work] });
  await fillEsp(img, work, files, grubCfg);
  return img;
}

/** mkfs.vfat: FAT32 labelled ESP with the layout's volume id, in a new image file (create) or on a partition. */
export async function makeEspFs(
  target: string,
  l: Pick<Layout, 'espBytes' | 'espVolumeId'>,
  o: { create: boolean; binds: string[] },
): Promise<void> {
  const args = ['-F', '32', '-n', 'ESP', '-i', l.espVolumeId];
  await toolboxRun('mkfs.vfat', o.create ? ['-C', ...args, target, String(l.espBytes / 1024)] : [...args, target], {
    binds: o.binds,
    providedBy: 'dosfstools',
    what: 'make the ESP',
  });
}

/**
 * Copy the boot chain and GRUB's hand-over config onto a FAT file system (an image file or a
 * partition) with mtools: no mount. `work` holds the config file while it is copied.
 */
export async function fillEsp(
  target: string,
  work: string,
  files: ReadonlyArray<{ esp: string; host: string }>,
  grubCfg: { esp: string; text: string },
): Promise<void> {
  const binds = [work, target, ...new Set(files.map((f) => dirname(f.host)))];
  const cfg = join(work, 'esp-grub.cfg');
  await writeFile(cfg, grubCfg.text);
  // mcopy -m keeps the modification time: the deployment's files have ostree's (the epoch), this one SOURCE_DATE_EPOCH's.
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? 315532800);
  await utimes(cfg, epoch, epoch);
  const all = [...files, { esp: grubCfg.esp, host: cfg }];
  const dirs = new Set<string>();
  for (const f of all) for (let d = dirname(f.esp); d !== '.' && d !== '/'; d = dirname(d)) dirs.add(d);
  await toolboxRun('mmd', ['-i', target, ...[...dirs].sort().map((d) => `::/${d}`)], {
    binds,
    providedBy: 'mtools',
    what: 'make the ESP directories',
  });
  for (const f of all)
    await toolboxRun('mcopy', ['-m', '-i', target, f.host, `::/${f.esp}`], {
      binds,
      providedBy: 'mtools',
      what: `copy ${f.esp} to the ESP`,
    });
}

/** An empty sparse file of `bytes` (the work directory's file system must allow a file that large). */
async function sparseFile(path: string, bytes: number): Promise<void> {
  await writeFile(path, '');
  try {
    await truncate(path, bytes);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EFBIG' && code !== 'ENOSPC' && code !== 'EDQUOT' && code !== 'EINVAL') throw err;
    throw new ToolError('too-large', `${path}: cannot make a sparse file of ${bytes} bytes (${code})`, {
      hint: 'the file system beside --output cannot hold a file that large: choose a smaller disk.size or another --output directory',
    });
  }
}

export async function buildRoot(work: string, l: Layout, sysroot: string, label: string): Promise<string> {
  const img = join(work, 'root.img');
  await sparseFile(img, l.rootBytes);
  const env = process.env.SOURCE_DATE_EPOCH ? { E2FSPROGS_FAKE_TIME: process.env.SOURCE_DATE_EPOCH } : {};
  await toolboxRun(
    'mkfs.ext4',
    [
      '-q',
      '-F',
      '-L',
      label,
      '-U',
      l.rootFsUuid,
      '-E',
      `hash_seed=${l.rootFsUuid},root_owner=0:0`,
      '-m',
      '0',
      '-d',
      sysroot,
      img,
    ],
    { binds: [work, sysroot], providedBy: 'e2fsprogs', what: 'make the root file system', env },
  );
  return img;
}

export async function assemble(work: string, l: Layout, esp: string, root: string): Promise<string> {
  const raw = join(work, 'disk.raw');
  await sparseFile(raw, l.diskBytes);
  await toolboxRun('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', raw], {
    binds: [work],
    input: sfdiskScript(l),
    providedBy: 'fdisk',
    what: 'write the partition table',
  });
  for (const [img, start] of [
    [esp, l.espStart],
    [root, l.rootStart],
  ] as const)
    await run('dd', [`if=${img}`, `of=${raw}`, 'bs=1M', `seek=${start / MiB}`, 'conv=notrunc,sparse', 'status=none'], {
      what: `place ${img}`,
    });
  return raw;
}

export async function convert(raw: string, format: Format, out: string): Promise<void> {
  if (format === 'raw') return rename(raw, out);
  await run('qemu-img', ['convert', '-f', 'raw', '-O', FORMATS[format], raw, out], {
    providedBy: 'qemu-utils',
    what: `convert to ${format}`,
  });
}
