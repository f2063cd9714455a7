/**
 * `atomic bootloader status|update` on a real sysroot (a real ostree deployment carrying the
 * boot loader files where Debian's packages put them) and an ESP in a temp directory, laid out
 * and recorded as disk-image does it.
 */
import t, { type Test } from 'tap';
import { NO_REQUESTS } from '../src/origin.js';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  BOOTLOADER_STATE,
  BootloaderStateSchema,
  ESP_FILES,
  ESP_GRUB_CFG,
  espGrubConfig,
  type BootloaderState,
} from '@debian-atomic/lib';
import { bootloaderStatusLine, compareBootloader, readImageBootloader } from '../src/bootloader.js';
import { DURABLE, failpoint, SYSTEM_ESP, type EspSystem, type EspWriter } from '../src/esp.js';
import { main } from '../src/main.js';
import { BootloaderStatusSchema, BootloaderUpdateSchema, HostSchema } from '../src/schema.js';
import { BASE_KARGS, makeWorld, type World } from './fixtures/sysroot.js';

const BIN = resolve(import.meta.dirname, '../dist/bin.js');
const ROOT_UUID = BASE_KARGS[0]!.slice('root=UUID='.length);
const PARTUUID = '5b1d6a0e-0c3a-4c1b-9a55-2f0e8d7c6b5a';

const GRUB = 'grub-efi-amd64-signed';
const SHIM = 'shim-signed';
const MM = 'shim-helpers-amd64-signed';
type Versions = Record<string, string>;
const V1: Versions = { [SHIM]: '1.51~1+deb13u1+16.1-2~deb13u1', [GRUB]: '1+2.12+9+deb13u3', [MM]: '1+16.1+2~deb13u1' };
const V2: Versions = { ...V1, [GRUB]: '1+2.12+9+deb13u4' };

/** The bytes of a source file: its package, version and path (so grub's changes with its version only). */
const content = (versions: Versions, e: { package: string; source: string }) =>
  `${e.package} ${versions[e.package]} ${e.source}\n`;
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** A commit with the boot loader files and their packages in its dpkg database. */
function bootCommit(w: World, versions: Versions, o: { version?: string; without?: string } = {}) {
  const extra: Record<string, string> = {};
  for (const e of ESP_FILES) if (e.package !== o.without) extra[e.source] = content(versions, e);
  return w.commit({ version: o.version ?? '1', packages: { 'base-files': '13.8', ...versions }, extra });
}

/** The ESP and the state file as disk-image writes them at install time. */
async function installEsp(sysroot: string, esp: string, versions: Versions, commit: string): Promise<BootloaderState> {
  const files: BootloaderState['files'] = [];
  const put = async (path: string, data: string) => {
    await mkdir(dirname(join(esp, path)), { recursive: true });
    await writeFile(join(esp, path), data);
    files.push({ path, sha256: sha256(data), size: Buffer.byteLength(data) });
  };
  for (const e of ESP_FILES) await put(e.esp, content(versions, e));
  await put(ESP_GRUB_CFG, espGrubConfig(ROOT_UUID));
  const state: BootloaderState = {
    apiVersion: 'org.debian-atomic/v1',
    kind: 'BootloaderState',
    esp: { partuuid: PARTUUID, volumeId: '1A2B-3C4D' },
    commit,
    packages: versions,
    files,
  };
  await writeState(sysroot, state);
  return state;
}

async function writeState(sysroot: string, state: unknown) {
  await mkdir(dirname(join(sysroot, BOOTLOADER_STATE)), { recursive: true });
  await writeFile(join(sysroot, BOOTLOADER_STATE), JSON.stringify(state, null, 2));
}

const readState = async (sysroot: string) =>
  BootloaderStateSchema.parse(JSON.parse(await readFile(join(sysroot, BOOTLOADER_STATE), 'utf8')));

/** Every file and directory under dir: the digest of each file (and its mtime with `times`). */
async function snapshot(dir: string, o: { times?: boolean } = {}): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const st = await stat(p);
      if (st.isDirectory()) {
        out[`${relative(dir, p)}/`] = 'dir';
        await walk(p);
      } else out[relative(dir, p)] = `${sha256(await readFile(p))}${o.times ? ` ${st.mtimeMs}` : ''}`;
    }
  };
  await walk(dir);
  return out;
}

interface Renames {
  renames: string[];
  writes: string[];
}

/** The real writer, with every write and rename recorded (paths relative to base), and optional failures. */
function recordingWriter(
  base: (p: string) => string,
  fail: { write?: number; rename?: number } = {},
): EspWriter & Renames {
  const renames: string[] = [];
  const writes: string[] = [];
  return {
    renames,
    writes,
    async writeDurably(file, data) {
      if (writes.length === fail.write)
        throw Object.assign(new Error(`ENOSPC: no space left on device, write '${file}'`), { code: 'ENOSPC' });
      writes.push(base(file));
      await DURABLE.writeDurably(file, data);
    },
    async renameDurably(from, to) {
      if (renames.length === fail.rename)
        throw Object.assign(new Error(`EIO: i/o error, rename '${from}'`), { code: 'EIO' });
      renames.push(base(to));
      await DURABLE.renameDurably(from, to);
    },
    syncDir: DURABLE.syncDir,
  };
}

const NOT_MOUNTED: Partial<EspSystem> = { findMount: async () => null };

/** Run the CLI in-process: exit code, stdout and stderr. */
async function cli(args: string[], io: { esp?: Partial<EspSystem>; espWriter?: EspWriter } = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(args, {
    stdout,
    stderr,
    reboot: async () => undefined,
    esp: io.esp ?? NOT_MOUNTED,
    ...(io.espWriter ? { espWriter: io.espWriter } : {}),
  });
  return { code, out, err };
}

/** A system installed from v1 (ESP and state as disk-image makes them), then upgraded to v2 (a new GRUB). */
async function upgradedSystem(t: Test) {
  const w = await makeWorld(t);
  const S = ['--sysroot', w.sysroot];
  const esp = await mkdtemp(join(w.dir, 'esp-'));
  const v1 = await bootCommit(w, V1, { version: '1' });
  await w.install();
  const state = await installEsp(w.sysroot, esp, V1, v1);
  const v2 = await bootCommit(w, V2, { version: '2' });
  t.match((await cli(['upgrade', ...S])).out, /Deployed 2 /);
  const relEsp = (p: string) => (p.startsWith(esp) ? relative(esp, p) : relative(w.sysroot, p));
  return { w, S, esp, v1, v2, state, relEsp };
}

t.test('status: up to date, then an update available in the new deployment; atomic status says so', async (t) => {
  const w = await makeWorld(t);
  const S = ['--sysroot', w.sysroot];
  const esp = await mkdtemp(join(w.dir, 'esp-'));
  const v1 = await bootCommit(w, V1);
  await w.install();
  await installEsp(w.sysroot, esp, V1, v1);

  let r = await cli(['bootloader', 'status', ...S]);
  t.equal(r.code, 0);
  t.equal(
    r.out,
    [
      `ESP PARTUUID ${PARTUUID}: files from commit ${v1.slice(0, 12)}; the image: deployment 0, ${v1.slice(0, 12)}`,
      `  shim: ${V1[SHIM]} (shim-signed): up to date`,
      `  grub: ${V1[GRUB]} (grub-efi-amd64-signed): up to date`,
      `  mokmanager: ${V1[MM]} (shim-helpers-amd64-signed): up to date`,
      'Up to date.',
      '',
    ].join('\n'),
  );
  t.match(
    (await cli(['bootloader', 'status', ...S, '--esp', esp])).out,
    `ESP at ${esp}: every file as recorded.\nUp to date.\n`,
  );
  let doc = BootloaderStatusSchema.parse(JSON.parse((await cli(['bootloader', 'status', ...S, '--json'])).out));
  t.match(doc, {
    status: 'up-to-date',
    commit: v1,
    deployment: { checksum: v1, index: 0, booted: false },
    esp: { partuuid: PARTUUID, mountpoint: null, files: null, leftovers: null },
  });
  t.same(
    doc.files.map((f) => [f.path, f.component, f.stateSha256 === f.imageSha256]),
    ESP_FILES.map((e) => [e.esp, e.component, true]),
  );
  t.equal((await cli(['status', ...S])).out.includes('Bootloader'), false, 'atomic status: nothing when up to date');
  t.match(HostSchema.parse(JSON.parse((await cli(['status', ...S, '--json'])).out)).status.bootloader, {
    status: 'up-to-date',
    commit: v1,
  });

  // A new GRUB in the next image.
  await bootCommit(w, V2, { version: '2' });
  await cli(['upgrade', ...S]);
  r = await cli(['bootloader', 'status', ...S]);
  t.match(r.out, `  grub: ${V1[GRUB]} → ${V2[GRUB]} (grub-efi-amd64-signed): update available\n`);
  t.match(r.out, `  shim: ${V1[SHIM]} (shim-signed): up to date\n`);
  t.match(r.out, /\nUpdate available: run `atomic bootloader update`\.\n$/);
  doc = BootloaderStatusSchema.parse(JSON.parse((await cli(['bootloader', 'status', ...S, '--json'])).out));
  t.same(
    doc.components.map((c) => [c.name, c.status, c.espVersion, c.imageVersion]),
    [
      ['shim', 'up-to-date', V1[SHIM], V1[SHIM]],
      ['grub', 'update-available', V1[GRUB], V2[GRUB]],
      ['mokmanager', 'up-to-date', V1[MM], V1[MM]],
    ],
  );
  const human = (await cli(['status', ...S])).out;
  t.match(
    human,
    /\n\nBootloader: update available \(grub-efi-amd64-signed 1\+2\.12\+9\+deb13u3 → 1\+2\.12\+9\+deb13u4\); run 'atomic bootloader update'\n$/,
  );
  t.equal(
    (await cli(['status', ...S, '--booted'])).out,
    "No booted deployment.\n\nBootloader: update available (grub-efi-amd64-signed 1+2.12+9+deb13u3 → 1+2.12+9+deb13u4); run 'atomic bootloader update'\n",
  );
  const host = HostSchema.parse(JSON.parse((await cli(['status', ...S, '--json'])).out));
  t.match(host.status.bootloader, {
    status: 'update-available',
    components: [{ name: 'shim' }, { name: 'grub', status: 'update-available' }, { name: 'mokmanager' }],
  });

  // Where the ESP is mounted (findmnt), its files are checked too.
  r = await cli(['bootloader', 'status', ...S], { esp: { findMount: async (p) => (p === PARTUUID ? esp : null) } });
  t.match(r.out, `ESP at ${esp}: every file as recorded.\n`);
  // ...unless they cannot be read (the mounted ESP of a running system is root's): a warning, the rest reported.
  await rm(join(esp, 'EFI/debian/grubx64.efi'));
  await mkdir(join(esp, 'EFI/debian/grubx64.efi'));
  r = await cli(['bootloader', 'status', ...S], { esp: { findMount: async () => esp } });
  t.equal(r.code, 0);
  t.match(
    r.err,
    /^atomic: warning: cannot check the files on the ESP at .*grubx64\.efi: cannot read file on the ESP: is a directory/,
  );
  t.notMatch(r.out, 'ESP at');
  await t.rejects(
    cli(['bootloader', 'status', ...S, '--esp', esp]),
    { exitCode: 2, message: /is a directory/ },
    '--esp: the ESP named is checked or it is an error',
  );
});

t.test('bootloaderStatusLine: a rebuild at the same version; nothing unless an update is available', async (t) => {
  const c = (
    name: 'shim' | 'grub' | 'mokmanager',
    status: 'up-to-date' | 'update-available' | 'esp-newer',
    espVersion: string | null,
    imageVersion: string | null,
  ) => ({ name, package: name, espVersion, imageVersion, status });
  const summary = (status: 'up-to-date' | 'update-available' | 'esp-newer', components: ReturnType<typeof c>[]) => ({
    status,
    commit: 'a'.repeat(64),
    components,
  });
  t.equal(
    bootloaderStatusLine(
      summary('update-available', [
        c('shim', 'update-available', '1', '1'),
        c('grub', 'update-available', null, '2'),
        c('mokmanager', 'up-to-date', '1', '1'),
      ]),
    ),
    "Bootloader: update available (shim 1 rebuilt, grub (unknown) → 2); run 'atomic bootloader update'",
  );
  t.equal(bootloaderStatusLine(summary('esp-newer', [c('grub', 'esp-newer', '2', '1')])), null);
  t.equal(bootloaderStatusLine(null), null);
});

t.test(
  'update: only the changed files, in ESP_FILES order, then the state; a second run touches nothing',
  async (t) => {
    const { w, S, esp, v2, state, relEsp } = await upgradedSystem(t);
    const writer = recordingWriter(relEsp);
    const r = await cli(['bootloader', 'update', ...S, '--esp', esp], { espWriter: writer });
    t.equal(r.code, 0);
    t.equal(
      r.out,
      `Updated the boot loader on the ESP:\n  ${GRUB} ${V1[GRUB]} → ${V2[GRUB]}: EFI/debian/grubx64.efi EFI/BOOT/grubx64.efi\n`,
    );
    t.same(writer.writes, [
      'EFI/debian/grubx64.efi.new',
      'EFI/BOOT/grubx64.efi.new',
      'boot/atomic/bootloader.json.tmp',
    ]);
    t.same(
      writer.renames,
      ['EFI/debian/grubx64.efi', 'EFI/BOOT/grubx64.efi', 'boot/atomic/bootloader.json'],
      'GRUB of the vendor directory, then of the removable path, then the state',
    );
    t.match(
      r.err,
      /atomic: writing EFI\/debian\/grubx64\.efi\.new\n[^]*atomic: renaming EFI\/BOOT\/grubx64\.efi\.new to EFI\/BOOT\/grubx64\.efi\n/,
    );
    const grubV2 = content(V2, ESP_FILES[0]!);
    t.equal(await readFile(join(esp, 'EFI/BOOT/grubx64.efi'), 'utf8'), grubV2);
    t.equal(await readFile(join(esp, 'EFI/debian/grubx64.efi'), 'utf8'), grubV2);
    t.same(
      Object.keys(await snapshot(esp)).filter((p) => p.endsWith('.new')),
      [],
      'no .new files',
    );
    t.notOk(existsSync(join(w.sysroot, `${BOOTLOADER_STATE}.tmp`)));
    const after = await readState(w.sysroot);
    t.equal(after.commit, v2);
    t.same(after.packages, V2);
    t.same(after.esp, state.esp, 'the ESP it names is kept');
    t.same(
      after.files.map((f) => [f.path, f.sha256]),
      [...ESP_FILES.map((e) => [e.esp, sha256(content(V2, e))]), [ESP_GRUB_CFG, sha256(espGrubConfig(ROOT_UUID))]],
    );

    const before = { esp: await snapshot(esp, { times: true }), state: await stat(join(w.sysroot, BOOTLOADER_STATE)) };
    const again = recordingWriter(relEsp);
    t.same(await cli(['bootloader', 'update', ...S, '--esp', esp], { espWriter: again }), {
      code: 0,
      out: "The boot loader on the ESP is the image's: nothing to do.\n",
      err: '',
    });
    t.same([again.writes, again.renames], [[], []]);
    t.same(await snapshot(esp, { times: true }), before.esp, 'the ESP untouched');
    t.equal((await stat(join(w.sysroot, BOOTLOADER_STATE))).mtimeMs, before.state.mtimeMs, 'the state untouched');
    t.match((await cli(['bootloader', 'status', ...S, '--esp', esp])).out, /every file as recorded\.\nUp to date\.\n$/);
    t.notMatch((await cli(['status', ...S])).out, 'Bootloader');

    const json = BootloaderUpdateSchema.parse(
      JSON.parse((await cli(['bootloader', 'update', ...S, '--esp', esp, '--json'])).out),
    );
    t.match(json, { result: 'nothing-to-do', written: [], removed: [], state: { commit: v2 } });
  },
);

t.test(
  'update --json, and an ESP made whole: a missing file, leftovers of a cut, grub.cfg kept (or written when missing)',
  async (t) => {
    const { w, S, esp, relEsp } = await upgradedSystem(t);
    await writeFile(join(esp, 'EFI/debian/shimx64.efi.new'), 'half a shim');
    await writeFile(join(esp, 'EFI/BOOT/grubx64.efi.new'), 'half a GRUB');
    await rm(join(esp, 'EFI/BOOT/mmx64.efi'));
    const custom = `${espGrubConfig(ROOT_UUID)}# edited by hand\n`;
    await writeFile(join(esp, ESP_GRUB_CFG), custom);

    const st = BootloaderStatusSchema.parse(
      JSON.parse((await cli(['bootloader', 'status', ...S, '--esp', esp, '--json'])).out),
    );
    t.same(st.esp.files, [
      { path: ESP_GRUB_CFG, problem: 'differs' },
      { path: 'EFI/BOOT/mmx64.efi', problem: 'missing' },
    ]);
    t.same(st.esp.leftovers, ['EFI/debian/shimx64.efi.new', 'EFI/BOOT/grubx64.efi.new']);
    t.match(
      (await cli(['bootloader', 'status', ...S, '--esp', esp])).out,
      `ESP at ${esp}: not as recorded:\n  ${ESP_GRUB_CFG}: not the recorded bytes\n  EFI/BOOT/mmx64.efi: missing\n  EFI/debian/shimx64.efi.new: left by an interrupted update\n`,
    );

    const writer = recordingWriter(relEsp);
    const r = await cli(['bootloader', 'update', ...S, '--esp', esp, '--json'], { espWriter: writer });
    const u = BootloaderUpdateSchema.parse(JSON.parse(r.out));
    t.same(
      [u.result, u.written, u.removed],
      [
        'updated',
        ['EFI/debian/grubx64.efi', 'EFI/BOOT/grubx64.efi', 'EFI/BOOT/mmx64.efi'],
        ['EFI/debian/shimx64.efi.new', 'EFI/BOOT/grubx64.efi.new'],
      ],
    );
    t.equal(await readFile(join(esp, ESP_GRUB_CFG), 'utf8'), custom, 'grub.cfg is never rewritten');
    t.equal(await readFile(join(esp, 'EFI/BOOT/mmx64.efi'), 'utf8'), content(V2, ESP_FILES[4]!));
    t.same(
      Object.keys(await snapshot(esp)).filter((p) => p.endsWith('.new')),
      [],
    );
    t.same(
      (await readState(w.sysroot)).files.find((f) => f.path === ESP_GRUB_CFG)?.sha256,
      sha256(custom),
      'the state records the grub.cfg that is there',
    );
    t.match((await cli(['bootloader', 'status', ...S, '--esp', esp])).out, 'every file as recorded');

    // No grub.cfg at all: written first (neither GRUB boots without it), from the root UUID of the kernel arguments.
    await rm(join(esp, ESP_GRUB_CFG));
    const w2 = recordingWriter(relEsp);
    t.equal(
      (await cli(['bootloader', 'update', ...S, '--esp', esp], { espWriter: w2 })).out,
      `Updated the boot loader on the ESP:\n  ${ESP_GRUB_CFG}: written (there was none)\n`,
    );
    t.same(w2.renames, [ESP_GRUB_CFG, 'boot/atomic/bootloader.json']);
    t.equal(await readFile(join(esp, ESP_GRUB_CFG), 'utf8'), espGrubConfig(ROOT_UUID));

    // Only the state lags behind (a cut after the renames): it is recorded, the ESP untouched.
    const lagging = await readState(w.sysroot);
    await writeState(w.sysroot, {
      ...lagging,
      packages: V1,
      files: lagging.files.map((f) => (f.path === 'EFI/BOOT/grubx64.efi' ? { ...f, sha256: 'f'.repeat(64) } : f)),
    });
    const before = await snapshot(esp, { times: true });
    t.equal(
      (await cli(['bootloader', 'update', ...S, '--esp', esp])).out,
      "The ESP already holds the image's boot loader: recorded that in the state file.\n",
    );
    t.same(await snapshot(esp, { times: true }), before);
    t.same((await readState(w.sysroot)).packages, V2);

    // A leftover alone is removed.
    await writeFile(join(esp, 'EFI/BOOT/BOOTX64.EFI.new'), 'x');
    t.equal(
      (await cli(['bootloader', 'update', ...S, '--esp', esp])).out,
      'Removed what an interrupted update left: EFI/BOOT/BOOTX64.EFI.new\n',
    );
    t.notOk(existsSync(join(esp, 'EFI/BOOT/BOOTX64.EFI.new')));

    // grub.cfg missing and no root=UUID= to write it with: refused before anything is written.
    await rm(join(esp, ESP_GRUB_CFG));
    await w.ostree(
      'admin',
      'deploy',
      `--sysroot=${w.sysroot}`,
      '--os=debian',
      '--karg-none',
      '--karg=root=/dev/vda3',
      'origin:debian/13/x86_64/tiny',
    );
    await t.rejects(cli(['bootloader', 'update', ...S, '--esp', esp]), {
      code: 'no-root-uuid',
      message: /grub\.cfg is missing on the ESP, and deployment 0 has no root=UUID= kernel argument/,
    });
  },
);

t.test(
  'a failure before the renames leaves the ESP byte-identical; a cut during them is finished by a re-run',
  async (t) => {
    const { w, S, esp, relEsp } = await upgradedSystem(t);
    // Without EFI/BOOT the update makes it, and must remove it again.
    await rm(join(esp, 'EFI/BOOT'), { recursive: true });
    const stateBefore = await readFile(join(w.sysroot, BOOTLOADER_STATE));
    const espBefore = await snapshot(esp);
    const failing = recordingWriter(relEsp, { write: 2 });
    await t.rejects(cli(['bootloader', 'update', ...S, '--esp', esp], { espWriter: failing }), {
      code: 'esp-write',
      exitCode: 1,
      message: /could not write the new boot loader files: the ESP is as it was/,
      detail: /ENOSPC/,
    });
    t.same(failing.writes, ['EFI/debian/grubx64.efi.new', 'EFI/BOOT/grubx64.efi.new'], 'two written, the third failed');
    t.same(failing.renames, []);
    t.same(await snapshot(esp), espBefore, 'the ESP byte-identical: no .new files, no EFI/BOOT');
    t.same(await readFile(join(w.sysroot, BOOTLOADER_STATE)), stateBefore, 'the state unchanged');

    // A cut (here an I/O error) after the first rename: the vendor directory has the new GRUB, the old shim boots it.
    const cut = recordingWriter(relEsp, { rename: 1 });
    await t.rejects(cli(['bootloader', 'update', ...S, '--esp', esp], { espWriter: cut }), {
      code: 'esp-rename',
      message: 'could not rename EFI/BOOT/grubx64.efi.new into place, after 1 of 4 files',
      hint: /run 'atomic bootloader update' again to finish/,
    });
    t.same(cut.renames, ['EFI/debian/grubx64.efi']);
    t.equal(await readFile(join(esp, 'EFI/debian/grubx64.efi'), 'utf8'), content(V2, ESP_FILES[0]!));
    t.same(
      await readFile(join(w.sysroot, BOOTLOADER_STATE)),
      stateBefore,
      'the state still says what was there before',
    );
    const st = BootloaderStatusSchema.parse(
      JSON.parse((await cli(['bootloader', 'status', ...S, '--esp', esp, '--json'])).out),
    );
    t.same(
      st.esp.files?.map((f) => f.path),
      ['EFI/debian/grubx64.efi', 'EFI/BOOT/grubx64.efi', 'EFI/BOOT/mmx64.efi', 'EFI/BOOT/BOOTX64.EFI'],
    );
    t.same(st.esp.leftovers, ['EFI/BOOT/grubx64.efi.new', 'EFI/BOOT/mmx64.efi.new', 'EFI/BOOT/BOOTX64.EFI.new']);

    // The state file cannot be replaced (after the renames): said so, no .tmp left.
    const stateFails = recordingWriter(relEsp, { rename: 3 });
    await t.rejects(cli(['bootloader', 'update', ...S, '--esp', esp], { espWriter: stateFails }), {
      code: 'state-write',
      message: /bootloader\.json: EIO/,
      hint: /run 'atomic bootloader update' again to record them/,
    });
    t.same(stateFails.renames, ['EFI/BOOT/grubx64.efi', 'EFI/BOOT/mmx64.efi', 'EFI/BOOT/BOOTX64.EFI']);
    t.notOk(existsSync(join(w.sysroot, `${BOOTLOADER_STATE}.tmp`)));
    t.same(await readFile(join(w.sysroot, BOOTLOADER_STATE)), stateBefore);

    const rerun = recordingWriter(relEsp);
    t.equal((await cli(['bootloader', 'update', ...S, '--esp', esp], { espWriter: rerun })).code, 0);
    t.same(rerun.renames, ['boot/atomic/bootloader.json'], 'the ESP files are all there: only the state is written');
    for (const e of ESP_FILES) t.equal(await readFile(join(esp, e.esp), 'utf8'), content(V2, e), e.esp);
    t.same(
      Object.keys(await snapshot(esp)).filter((p) => p.endsWith('.new')),
      [],
    );
    BootloaderStateSchema.parse(JSON.parse(await readFile(join(w.sysroot, BOOTLOADER_STATE), 'utf8')));
  },
);

t.test('the ESP newer than the image (booted into the rollback): kept, unless --allow-downgrade', async (t) => {
  const w = await makeWorld(t);
  const S = ['--sysroot', w.sysroot];
  const esp = await mkdtemp(join(w.dir, 'esp-'));
  const v1 = await bootCommit(w, V1);
  await w.install();
  await installEsp(w.sysroot, esp, V2, 'e'.repeat(64));
  const st = BootloaderStatusSchema.parse(JSON.parse((await cli(['bootloader', 'status', ...S, '--json'])).out));
  t.same([st.status, st.components.map((c) => c.status)], ['esp-newer', ['up-to-date', 'esp-newer', 'up-to-date']]);
  const text = (await cli(['bootloader', 'status', ...S])).out;
  t.match(
    text,
    `  grub: ${V2[GRUB]} on the ESP, ${V1[GRUB]} in the image (grub-efi-amd64-signed): the ESP's is newer\n`,
  );
  t.match(
    text,
    /\nThe ESP's boot loader is newer than the image's: `atomic bootloader update` keeps it \(--allow-downgrade replaces it\)\.\n$/,
  );
  t.notMatch((await cli(['status', ...S])).out, 'Bootloader', 'atomic status: no line for a newer ESP');

  const before = await snapshot(esp, { times: true });
  t.equal(
    (await cli(['bootloader', 'update', ...S, '--esp', esp])).out,
    `The ESP's boot loader is newer than the image's (${GRUB} ${V2[GRUB]} on the ESP, ${V1[GRUB]} in the image): kept; --allow-downgrade replaces it.\n`,
  );
  t.same(await snapshot(esp, { times: true }), before);
  t.equal(
    (await cli(['bootloader', 'update', ...S, '--esp', esp, '--allow-downgrade'])).out,
    `Updated the boot loader on the ESP:\n  ${GRUB} ${V2[GRUB]} → ${V1[GRUB]}: EFI/debian/grubx64.efi EFI/BOOT/grubx64.efi\n`,
  );
  t.equal((await readState(w.sysroot)).commit, v1);
});

t.test(
  'the ESP the state names: used where it is mounted, else mounted read-only on /run/atomic, writable only to write, always unmounted',
  async (t) => {
    const { w, S, esp, relEsp } = await upgradedSystem(t);
    const run = join(w.dir, 'run');
    const dev = join(w.dir, 'by-partuuid');
    const calls: string[] = [];
    // A stand-in for mount(8): the "partition" is the esp directory, copied in and back out.
    const fake = (o: { failMount?: boolean; repaired?: string } = {}): Partial<EspSystem> => ({
      findMount: async () => null,
      byPartuuid: dev,
      runDir: run,
      repair: async (device) => {
        calls.push(`fsck ${relative(w.dir, device)}`);
        return o.repaired ?? '';
      },
      mount: async (device, dir, m) => {
        calls.push(`mount ${relative(w.dir, device)} ${m.readOnly ? 'ro' : 'rw'}`);
        if (o.failMount) throw new Error('mount: wrong fs type');
        await cp(esp, dir, { recursive: true });
      },
      remountWritable: async () => void calls.push('remount rw'),
      umount: async (dir) => {
        calls.push('umount');
        await rm(esp, { recursive: true });
        await cp(dir, esp, { recursive: true });
        for (const f of await readdir(dir)) await rm(join(dir, f), { recursive: true });
      },
    });
    await t.rejects(cli(['bootloader', 'update', ...S], { esp: fake() }), {
      code: 'no-esp',
      message: `no partition with PARTUUID ${PARTUUID} (${dev}/${PARTUUID})`,
    });
    t.notOk(existsSync(run), 'nothing made before the partition is found');
    await mkdir(dev);
    await writeFile(join(dev, PARTUUID), '');

    const r = await cli(['bootloader', 'update', ...S], { esp: fake() });
    t.equal(r.code, 0);
    t.same(
      calls.splice(0),
      [`fsck by-partuuid/${PARTUUID}`, `mount by-partuuid/${PARTUUID} ro`, 'remount rw', 'umount'],
      'fsck.fat before the mount',
    );
    t.match(r.err, new RegExp(`^atomic: mounting .*by-partuuid/${PARTUUID} on ${run}/esp-`));
    t.same(await readdir(run), [], 'the mount point is removed');
    t.equal(await readFile(join(esp, 'EFI/BOOT/grubx64.efi'), 'utf8'), content(V2, ESP_FILES[3]!));
    t.equal(
      (await cli(['bootloader', 'update', ...S], { esp: fake() })).out,
      "The boot loader on the ESP is the image's: nothing to do.\n",
    );
    t.same(
      calls.splice(0),
      [`fsck by-partuuid/${PARTUUID}`, `mount by-partuuid/${PARTUUID} ro`, 'umount'],
      'nothing to do: never writable',
    );
    const repaired = await cli(['bootloader', 'update', ...S], {
      esp: fake({ repaired: '/EFI/DEBIAN/GRUBX64.EFI\n  Contains a free cluster (6). Assuming EOF.' }),
    });
    t.match(
      repaired.err,
      /repaired the ESP's file system \(fsck\.fat -a\): \/EFI\/DEBIAN\/GRUBX64\.EFI \|   Contains a free cluster/,
      'what fsck fixed is said',
    );
    calls.splice(0);

    await t.rejects(cli(['bootloader', 'update', ...S, '-q'], { esp: fake({ failMount: true }) }), /wrong fs type/);
    t.same(await readdir(run), [], 'a failed mount leaves no mount point');
    calls.splice(0);

    // Mounted already (findmnt): used as it is, nothing mounted or unmounted.
    await writeFile(join(esp, 'EFI/BOOT/grubx64.efi'), 'damaged');
    const mounted = { ...fake(), findMount: async (p: string) => (p === PARTUUID ? esp : null) };
    const writer = recordingWriter(relEsp);
    t.equal((await cli(['bootloader', 'update', ...S], { esp: mounted, espWriter: writer })).code, 0);
    t.same(calls, []);
    t.same(writer.renames, ['EFI/BOOT/grubx64.efi'], 'the damaged file rewritten; the state already says so');
    // No findmnt on the machine: not mounted.
    t.equal(
      (
        await cli(['bootloader', 'status', ...S], {
          esp: { findMount: async () => Promise.reject(new Error('findmnt: command not found')) },
        })
      ).code,
      0,
    );
  },
);

t.test('refusals: no state file, a bad one, an image without shim, --esp that is no directory', async (t) => {
  const w = await makeWorld(t);
  const S = ['--sysroot', w.sysroot];
  await bootCommit(w, V1, { without: SHIM });
  await w.install();
  for (const sub of ['status', 'update'])
    await t.rejects(
      cli(['bootloader', sub, ...S]),
      {
        exitCode: 1,
        code: 'no-bootloader-state',
        message:
          /boot\/atomic\/bootloader\.json: no bootloader state: the ESP was not installed by disk-image or atomic/,
      },
      sub,
    );
  let r = await cli(['status', ...S, '--json']);
  t.same([r.code, HostSchema.parse(JSON.parse(r.out)).status.bootloader, r.err], [0, null, '']);

  await writeState(w.sysroot, {
    apiVersion: 'org.debian-atomic/v1',
    kind: 'BootloaderState',
    esp: { partuuid: PARTUUID, volumeId: '1A2B-3C4D' },
    commit: 'a'.repeat(64),
    packages: {},
    files: [{ path: '../../etc/shadow', sha256: 'x', size: 1 }],
  });
  await t.rejects(cli(['bootloader', 'status', ...S]), {
    exitCode: 2,
    message: /^invalid bootloader state: .*bootloader\.json:\d+:\d+: files\.0\.path: /,
  });
  r = await cli(['status', ...S]);
  t.equal(r.code, 0, 'a bad state file never fails atomic status');
  t.match(
    r.err,
    /^atomic: warning: cannot compare the boot loader on the ESP with the image: invalid bootloader state/,
  );
  await writeFile(join(w.sysroot, BOOTLOADER_STATE), '{"apiVersion": ');
  await t.rejects(cli(['bootloader', 'status', ...S]), { exitCode: 2, message: /bootloader\.json:1:\d+: YAML syntax/ });
  await writeFile(join(w.sysroot, BOOTLOADER_STATE), '');
  await t.rejects(cli(['bootloader', 'status', ...S]), { exitCode: 2, message: /invalid bootloader state/ });
  await rm(join(w.sysroot, BOOTLOADER_STATE));
  await mkdir(join(w.sysroot, BOOTLOADER_STATE));
  await t.rejects(cli(['bootloader', 'status', ...S]), {
    exitCode: 2,
    message: /bootloader\.json: cannot read bootloader state: is a directory/,
  });
  await rm(join(w.sysroot, BOOTLOADER_STATE), { recursive: true });

  await installEsp(w.sysroot, await mkdtemp(join(w.dir, 'esp-')), V1, 'a'.repeat(64));
  await t.rejects(cli(['bootloader', 'status', ...S]), {
    exitCode: 1,
    code: 'no-bootloader-in-image',
    message: /usr\/lib\/shim\/shimx64\.efi\.signed: missing: the deployment has no shim \(shim-signed\)/,
  });
  await t.rejects(cli(['bootloader', 'update', ...S, '--esp', join(w.dir, 'nothing')]), {
    exitCode: 2,
    message: /--esp .*nothing: not a directory/,
  });
  await t.rejects(cli(['bootloader']), { exitCode: 2, message: /a bootloader command is needed/ });
  const schema = JSON.parse((await cli(['bootloader', 'status', '--json-schema'])).out);
  t.same(Object.keys(schema.properties).sort(), [
    'apiVersion',
    'commit',
    'components',
    'deployment',
    'esp',
    'files',
    'kind',
    'status',
  ]);
});

t.test('an image without a dpkg database: the digests decide, the versions are unknown', async (t) => {
  const sysroot = await mkdtemp(join(tmpdir(), 'atomic-bootloader-'));
  t.teardown(() => rm(sysroot, { recursive: true, force: true }));
  const d = {
    osname: 'debian',
    checksum: 'c'.repeat(64),
    serial: 0,
    booted: true,
    staged: false,
    pending: false,
    rollback: false,
    pinned: false,
    origin: null,
    kernelArgs: [],
    requests: NO_REQUESTS,
    index: 1,
  };
  for (const e of ESP_FILES) {
    const file = join(sysroot, 'ostree/deploy/debian/deploy', `${d.checksum}.0`, e.source);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content(V2, e));
  }
  const image = await readImageBootloader(sysroot, d);
  t.same(image.packages, {});
  const state = {
    apiVersion: 'org.debian-atomic/v1',
    kind: 'BootloaderState',
    esp: { partuuid: PARTUUID, volumeId: '1A2B-3C4D' },
    commit: 'a'.repeat(64),
    packages: V1,
    files: ESP_FILES.map((e) => ({ path: e.esp, sha256: sha256(content(V1, e)), size: 1 })),
  } as const;
  const summary = compareBootloader(BootloaderStateSchema.parse(state), image);
  t.same(
    summary.components.map((c) => [c.name, c.status, c.imageVersion]),
    [
      ['shim', 'up-to-date', null],
      ['grub', 'update-available', null],
      ['mokmanager', 'up-to-date', null],
    ],
  );
  t.equal(
    bootloaderStatusLine(summary),
    `Bootloader: update available (${GRUB} ${V1[GRUB]} → (unknown)); run 'atomic bootloader update'`,
  );
  t.equal(
    await SYSTEM_ESP.findMount('00000000-0000-4000-8000-000000000000'),
    null,
    'findmnt: a partition that is not mounted',
  );
});

t.test(
  "updating the running system's ESP is root's",
  { skip: process.getuid?.() !== 0 || !existsSync(BIN) ? 'needs root (to drop it) and dist/bin.js' : false },
  async (t) => {
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'bootloader', 'update'],
      { encoding: 'utf8', cwd: tmpdir() },
    );
    t.same(
      [r.status, r.stdout, r.stderr.split('\n')[0]],
      [1, '', 'atomic: bootloader update: must run as root (sudo atomic bootloader update)'],
    );
  },
);

t.test('failpoints: ATOMIC_FAILPOINTS=NAME:N stops the command at the Nth pass, nothing else does', async (t) => {
  const notes: string[] = [];
  await failpoint('bootloader-after-rename', 1, (m) => notes.push(m), {});
  await failpoint('bootloader-after-rename', 1, (m) => notes.push(m), {
    ATOMIC_FAILPOINTS: 'bootloader-after-rename:2',
  });
  t.same(notes, [], 'not set, or another pass: goes on');
  const stopped = failpoint(
    'bootloader-after-rename',
    2,
    (m) => notes.push(m),
    { ATOMIC_FAILPOINTS: 'other:1, bootloader-after-rename:2' },
    () => new Promise<never>(() => undefined),
  );
  const outcome = await Promise.race([
    stopped.then(() => 'went on'),
    new Promise((r) => setTimeout(() => r('stopped'), 200)),
  ]);
  t.equal(outcome, 'stopped', 'the matching pass never returns');
  t.same(notes, ['failpoint bootloader-after-rename:2: stopped here until killed']);
});
