/**
 * The ESP itself: finding or mounting it, checking its files, and the update. Every file whose
 * copy on the ESP is not the image's is written beside it as `<file>.new` and fsynced; only
 * when all are written are they renamed into place, in ESP_FILES order (GRUB before shim, the
 * vendor directory before the removable-media path), fsyncing the directory after each rename;
 * then the state file is replaced. A cut before the renames leaves the old files, one during
 * them an old shim with a new GRUB (both signed with Debian's key: they boot each other), and
 * a re-run compares the real bytes, not the state, so it finishes the job.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  BootloaderStateSchema,
  canonicalJson,
  ESP_FILES,
  ESP_GRUB_CFG,
  espGrubConfig,
  onInterrupt,
  readBoundedFile,
  run,
  ToolError,
  type BootloaderState,
} from '@debian-atomic/lib';
import {
  MAX_EFI_BYTES,
  sha256Of,
  statePath,
  type EspCheck,
  type ImageBootloader,
  type ImageFile,
  type UpdateOutcome,
} from './bootloader.js';
import type { Deployment } from './sysroot.js';

/** The machine's side of the ESP: tests replace it. */
export interface EspSystem {
  /** Where the partition is mounted (findmnt), or null. */
  findMount(partuuid: string): Promise<string | null>;
  /** Repair the FAT before mounting it (fsck.fat -a): a power cut leaves it dirty; returns what fsck said. */
  repair(device: string): Promise<string>;
  mount(device: string, dir: string, o: { readOnly: boolean }): Promise<void>;
  remountWritable(dir: string): Promise<void>;
  umount(dir: string): Promise<void>;
  /** Where udev links partitions by GPT partition GUID. */
  byPartuuid: string;
  /** Where a private mount point is made. */
  runDir: string;
}

export const SYSTEM_ESP: EspSystem = {
  async findMount(partuuid) {
    const r = await run(
      'findmnt',
      ['--noheadings', '--first-only', '--output', 'TARGET', '--source', `PARTUUID=${partuuid}`],
      { allowExitCodes: [1], providedBy: 'util-linux', what: 'find the mounted ESP' },
    );
    return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : null;
  },
  async repair(device) {
    // 0: clean; 1: errors found and fixed. -w: write at once.
    const r = await run('fsck.fat', ['-a', '-w', device], {
      allowExitCodes: [1],
      providedBy: 'dosfstools',
      what: 'check the ESP',
    });
    return r.exitCode === 1 ? r.stdout.trim() : '';
  },
  async mount(device, dir, o) {
    await run('mount', ['-t', 'vfat', '-o', `${o.readOnly ? 'ro' : 'rw'},nodev,nosuid,noexec`, device, dir], {
      providedBy: 'mount',
      what: 'mount the ESP',
    });
  },
  async remountWritable(dir) {
    await run('mount', ['-o', 'remount,rw', dir], { providedBy: 'mount', what: 'make the ESP writable' });
  },
  async umount(dir) {
    await run('umount', [dir], { providedBy: 'mount', what: 'unmount the ESP' });
  },
  byPartuuid: '/dev/disk/by-partuuid',
  runDir: '/run/atomic',
};

/** Where the ESP is mounted now, or null (not mounted, or no findmnt). */
export async function mountedEsp(partuuid: string, sys: EspSystem): Promise<string | null> {
  return sys.findMount(partuuid).catch(() => null);
}

export interface EspMount {
  dir: string;
  /** Make it writable: a mount of our own is read-only until there is something to write. */
  writable: () => Promise<void>;
}

const message = (err: unknown) =>
  err instanceof ToolError ? err.summary : err instanceof Error ? err.message : String(err);

/**
 * Run `fn` on the ESP the state names: where it is mounted, else mounted read-only on a fresh
 * private directory under runDir and unmounted afterwards, whatever happens.
 */
export async function withEsp<T>(
  partuuid: string,
  sys: EspSystem,
  note: (m: string) => void,
  fn: (esp: EspMount) => Promise<T>,
): Promise<T> {
  const mounted = await mountedEsp(partuuid, sys);
  if (mounted) return fn({ dir: mounted, writable: async () => undefined });
  const device = join(sys.byPartuuid, partuuid);
  if (!existsSync(device)) {
    throw new ToolError('no-esp', `no partition with PARTUUID ${partuuid} (${device})`, {
      hint: 'the state file names the ESP disk-image made; --esp DIR names a mounted ESP',
    });
  }
  await mkdir(sys.runDir, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(sys.runDir, 'esp-'));
  let isMounted = false;
  const cleanup = async () => {
    if (isMounted) await sys.umount(dir);
    isMounted = false;
    await rmdir(dir);
  };
  const unregister = onInterrupt(cleanup);
  try {
    // A cut during an earlier update (or any write) can leave the FAT dirty, a file's entry pointing
    // at clusters the FAT calls free: reads of it fail with EIO. fsck.fat repairs that first.
    const fixed = await sys.repair(device);
    if (fixed) note(`repaired the ESP's file system (fsck.fat -a): ${fixed.split('\n').join(' | ')}`);
    note(`mounting ${device} on ${dir}`);
    await sys.mount(device, dir, { readOnly: true });
    isMounted = true;
    let writable = false;
    return await fn({
      dir,
      writable: async () => {
        if (!writable) await sys.remountWritable(dir);
        writable = true;
      },
    });
  } finally {
    unregister();
    await cleanup().catch((err: unknown) => note(`could not unmount the ESP from ${dir}: ${message(err)}`));
  }
}

/** A file on the ESP, or null when there is none. */
async function readEspFile(dir: string, path: string): Promise<Buffer | null> {
  const file = join(dir, path);
  const st = await lstat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
    throw err;
  });
  if (st === null) return null;
  return readBoundedFile(file, { maxBytes: MAX_EFI_BYTES, what: 'file on the ESP' }).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code ?? (err as { cause?: NodeJS.ErrnoException }).cause?.code;
    if (code !== 'EIO') throw err;
    throw new ToolError('esp-damaged', `${file}: cannot be read (EIO): the ESP's file system is damaged`, {
      hint: "unmount the ESP, run 'fsck.fat -a' on it, then run 'atomic bootloader update' again (atomic does that itself when the ESP is not mounted)",
    });
  });
}

const exists = async (file: string) => (await lstat(file).catch(() => null)) !== null;

/** The boot chain's files on the ESP: every one of ESP_FILES and the state's, and grub.cfg. */
const espPaths = (state: BootloaderState) => [
  ...new Set([ESP_GRUB_CFG, ...ESP_FILES.map((e) => e.esp), ...state.files.map((f) => f.path)]),
];

async function leftoversOn(dir: string, state: BootloaderState): Promise<string[]> {
  const out: string[] = [];
  for (const p of espPaths(state)) if (await exists(join(dir, `${p}.new`))) out.push(`${p}.new`);
  return out;
}

/** The files on the ESP against the state: which differ from the recorded bytes, which are missing, which *.new are left. */
export async function checkEsp(dir: string, state: BootloaderState): Promise<EspCheck> {
  const recorded = new Map(state.files.map((f) => [f.path, f.sha256]));
  const files: EspCheck['files'] = [];
  for (const path of espPaths(state)) {
    const data = await readEspFile(dir, path);
    if (data === null) files.push({ path, problem: 'missing' });
    else if (recorded.has(path) && sha256Of(data) !== recorded.get(path)) files.push({ path, problem: 'differs' });
  }
  return { mountpoint: dir, files, leftovers: await leftoversOn(dir, state) };
}

// --- The update ---

/** How files reach the disk: tests observe the order and inject failures. */
export interface EspWriter {
  /** Write a file and fsync it. */
  writeDurably(file: string, data: Uint8Array): Promise<void>;
  /** Rename, then fsync the directory that holds the new name. */
  renameDurably(from: string, to: string): Promise<void>;
  /** fsync a directory (after a file in it was created or removed). */
  syncDir(dir: string): Promise<void>;
}

/** fsync a directory or a file, opened read-only. */
async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export const DURABLE: EspWriter = {
  async writeDurably(file, data) {
    const fh = await open(file, 'w', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  async renameDurably(from, to) {
    await rename(from, to);
    // On FAT the renamed file's directory entry (start cluster, size) is written with its inode,
    // not with the directory: without this fsync a cut left the old entry pointing at the old,
    // already freed clusters (found by make secureboot-test: EFI/debian/grubx64.efi unreadable).
    await fsyncPath(to);
    await fsyncPath(dirname(to));
  },
  syncDir: fsyncPath,
};

export interface UpdatePlan {
  /** The ESP_FILES whose copy on the ESP is not the image's, in ESP_FILES order. */
  changed: ImageFile[];
  /** grub.cfg to write: only when the ESP has none (an existing one names the root file system: it is kept). */
  grubCfg: string | null;
  /** *.new files an interrupted update left. */
  leftovers: string[];
  /** The state once the update is done. */
  state: BootloaderState;
  /** Whether that differs from the state file (files or package versions; the commit alone does not count). */
  stateChanged: boolean;
}

const rootUuid = (d: Deployment) => d.kernelArgs.find((k) => k.startsWith('root=UUID='))?.slice('root=UUID='.length);

/** Compare the real bytes on the ESP with the image: what an update has to do. */
export async function planUpdate(
  dir: string,
  old: BootloaderState,
  image: ImageBootloader,
  d: Deployment,
): Promise<UpdatePlan> {
  const changed: ImageFile[] = [];
  for (const f of image.files) {
    const data = await readEspFile(dir, f.esp);
    if (data === null || sha256Of(data) !== f.sha256) changed.push(f);
  }
  // grub.cfg names the root file system: one that is there is kept (and recorded as it is), a missing one written.
  const cfg = await readEspFile(dir, ESP_GRUB_CFG);
  let grubCfg: string | null = null;
  if (cfg === null) {
    const uuid = rootUuid(d);
    if (!uuid)
      throw new ToolError(
        'no-root-uuid',
        `${ESP_GRUB_CFG} is missing on the ESP, and deployment ${d.index} has no root=UUID= kernel argument to write it with`,
      );
    grubCfg = espGrubConfig(uuid);
  }
  const ours = new Set([ESP_GRUB_CFG, ...ESP_FILES.map((e) => e.esp)]);
  const cfgBytes = cfg ?? Buffer.from(grubCfg!);
  const files = [
    ...image.files.map((f) => ({ path: f.esp, sha256: f.sha256, size: f.size })),
    { path: ESP_GRUB_CFG, sha256: sha256Of(cfgBytes), size: cfgBytes.length },
    ...old.files.filter((f) => !ours.has(f.path)),
  ];
  const packages = Object.fromEntries(Object.entries(image.packages).sort(([a], [b]) => (a < b ? -1 : 1)));
  const state: BootloaderState = { ...old, commit: image.commit, packages, files };
  const byPath = (fs: BootloaderState['files']) =>
    [...fs].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const stateChanged =
    canonicalJson({ files: byPath(old.files), packages: old.packages }) !==
    canonicalJson({ files: byPath(files), packages });
  return { changed, grubCfg, leftovers: await leftoversOn(dir, old), state, stateChanged };
}

export const nothingToDo = (p: UpdatePlan) =>
  p.changed.length === 0 && p.grubCfg === null && p.leftovers.length === 0 && !p.stateChanged;

export interface Applied {
  /** ESP paths renamed into place, in that order. */
  written: string[];
  /** Leftover *.new files removed. */
  removed: string[];
}

/**
 * Put the plan's files on the ESP: all `.new` files first (a failure there removes them and
 * leaves the ESP as it was), then the renames in order, then the leftovers of an earlier cut.
 */
export async function applyUpdate(
  dir: string,
  plan: UpdatePlan,
  image: ImageBootloader,
  writer: EspWriter,
  note: (m: string) => void,
): Promise<Applied> {
  // grub.cfg first: neither GRUB boots without it.
  const writes = [
    ...(plan.grubCfg === null ? [] : [{ path: ESP_GRUB_CFG, data: Buffer.from(plan.grubCfg) }]),
    ...plan.changed.map((f) => ({ path: f.esp, data: image.data.get(f.source)! })),
  ];
  const newFiles: string[] = [];
  const madeDirs: string[] = [];
  try {
    for (const w of writes) {
      const target = join(dir, w.path);
      const made = await mkdir(dirname(target), { recursive: true });
      if (made !== undefined) madeDirs.push(made);
      newFiles.push(`${target}.new`);
      note(`writing ${w.path}.new`);
      await writer.writeDurably(`${target}.new`, w.data);
    }
    for (const made of madeDirs) await writer.syncDir(dirname(made));
  } catch (err) {
    for (const f of newFiles) await rm(f, { force: true });
    for (const made of madeDirs.reverse()) await rm(made, { recursive: true, force: true });
    throw new ToolError('esp-write', `could not write the new boot loader files: the ESP is as it was`, {
      detail: message(err),
      cause: err,
    });
  }
  const written: string[] = [];
  for (const w of writes) {
    const target = join(dir, w.path);
    note(`renaming ${w.path}.new to ${w.path}`);
    try {
      await writer.renameDurably(`${target}.new`, target);
    } catch (err) {
      throw new ToolError(
        'esp-rename',
        `could not rename ${w.path}.new into place, after ${written.length} of ${writes.length} files`,
        {
          detail: message(err),
          hint: "every prefix of the order boots (an old shim starts a new GRUB); run 'atomic bootloader update' again to finish",
          cause: err,
        },
      );
    }
    written.push(w.path);
    await failpoint('bootloader-after-rename', written.length, note);
  }
  // The leftovers of files written now were overwritten and renamed; the others go.
  const consumed = new Set(writes.map((w) => `${w.path}.new`));
  for (const p of plan.leftovers.filter((l) => !consumed.has(l))) {
    note(`removing ${p}, left by an interrupted update`);
    await rm(join(dir, p), { force: true });
    await writer.syncDir(dirname(join(dir, p)));
  }
  return { written, removed: plan.leftovers };
}

/**
 * A failpoint, as bootupd's (FAILPOINTS) and rpm-ostree's: ATOMIC_FAILPOINTS=NAME:N makes the
 * command stop for good at its Nth pass here, so a test cuts the power at exactly that point.
 */
export async function failpoint(
  name: string,
  count: number,
  note: (m: string) => void,
  env = process.env,
  // A timer keeps the process alive while it waits for the kill.
  hold = () => new Promise<never>(() => setInterval(() => undefined, 1 << 30)),
): Promise<void> {
  const hit = (env.ATOMIC_FAILPOINTS ?? '').split(',').some((f) => f.trim() === `${name}:${count}`);
  if (!hit) return;
  note(`failpoint ${name}:${count}: stopped here until killed`);
  await hold();
}

/** Replace the state file: `bootloader.json.tmp` beside it, fsynced, renamed over it, the directory fsynced. */
export async function writeBootloaderState(sysroot: string, state: BootloaderState, writer: EspWriter): Promise<void> {
  const file = statePath(sysroot);
  const tmp = `${file}.tmp`;
  await mkdir(dirname(file), { recursive: true });
  try {
    await writer.writeDurably(tmp, Buffer.from(canonicalJson(BootloaderStateSchema.parse(state))));
    await writer.renameDurably(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new ToolError('state-write', `could not write ${file}: ${message(err)}`, {
      hint: "the files on the ESP are in place; run 'atomic bootloader update' again to record them",
      cause: err,
    });
  }
}

export interface UpdateOptions {
  sysroot: string;
  state: BootloaderState;
  image: ImageBootloader;
  deployment: Deployment;
  writer: EspWriter;
  note: (m: string) => void;
}

/** The update on the ESP: plan from the real bytes, write and rename what differs, record the state. */
export async function updateEsp(esp: EspMount, o: UpdateOptions): Promise<UpdateOutcome> {
  const plan = await planUpdate(esp.dir, o.state, o.image, o.deployment);
  if (nothingToDo(plan)) return { result: 'nothing-to-do', written: [], removed: [], state: o.state };
  let applied: Applied = { written: [], removed: [] };
  if (plan.changed.length || plan.grubCfg !== null || plan.leftovers.length) {
    await esp.writable();
    applied = await applyUpdate(esp.dir, plan, o.image, o.writer, o.note);
  }
  if (plan.stateChanged) await writeBootloaderState(o.sysroot, plan.state, o.writer);
  return {
    result: applied.written.length || applied.removed.length ? 'updated' : 'recorded',
    ...applied,
    state: plan.stateChanged ? plan.state : o.state,
  };
}
