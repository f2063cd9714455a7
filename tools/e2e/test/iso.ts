/**
 * Day 1 from an installer ISO, as on a PC (make iso-test): QEMU with UEFI and Secure Boot on, the
 * ISO in a CD-ROM drive, a blank 8 GB virtio disk.
 *
 * 1. Unattended: the ISO's config names the disk; the live system installs and powers off.
 *    The disk alone then boots: multi-user, the configured user logs in over SSH, Secure Boot is
 *    on, `atomic status` shows the installed commit and the origin, `atomic upgrade --check`
 *    reaches the origin (the OSTree repository served from the host).
 * 2. Interactive: an ISO whose config names no disk; the test answers the installer's questions
 *    on the serial console (a wrong answer first), the install powers off, the disk boots.
 *
 * Measured: ISO size and build time, install time (the guest's own count), first boot time.
 */
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vm } from '../src/vm.js';
import { RepoServer } from '../src/serve.js';
import { BUILD, commitInfo, PASSWORD, ROOT, testConfig, VARIANT } from './fixtures/images.js';
import { HostSchema } from '../../atomic/src/schema.js';

const DIR = join(BUILD, 'iso-test');
const BOOT_LIMIT = 600_000;
// The live system boots from the CD, imports the image into the disk and deploys it: under TCG, many minutes.
const INSTALL_LIMIT = 2_700_000;
const started = Date.now();
const log = (s: string) =>
  process.stderr.write(`iso-test ${VARIANT} [${Math.round((Date.now() - started) / 1000)} s]: ${s}\n`);
const results: Record<string, unknown> = {};

if (!process.env.DEBIAN_ATOMIC_ISO_TEST) {
  t.plan(0, 'the ISO test is slow: run it with make iso-test (DEBIAN_ATOMIC_ISO_TEST=1)');
  process.exit(0);
}
t.setTimeout(3 * 3600 * 1000);

const INSTALLER = join(ROOT, 'build', 'installer', 'commit.json');

function isoImage(config: string, output: string): Record<string, unknown> & { bytes: number; seconds: number } {
  const live = JSON.parse(readFileSync(INSTALLER, 'utf8')) as { ref: string };
  const args = [
    '--quiet',
    '--live-repo',
    join(ROOT, 'build/repo'),
    '--live-ref',
    live.ref,
    '--oci',
    `oci:${join(BUILD, 'oci')}:latest`,
    '--config',
    config,
    '--output',
    output,
  ];
  const r = spawnSync('node', [join(ROOT, 'tools/iso-image/dist/bin.js'), ...args], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`iso-image failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown> & { bytes: number; seconds: number };
}

function blankDisk(path: string): void {
  rmSync(path, { force: true });
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path, '8G']);
}

let vm: Vm | undefined;
let server: RepoServer | undefined;
t.teardown(async () => {
  await vm?.kill();
  await server?.close();
  writeFileSync(join(DIR, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
});

/** The install on the console: "Installed <commit> (<version>) on <disk> in N s", then the power goes off. */
async function install(t: Test, v: Vm, what: string): Promise<void> {
  const done = await v.waitForSerial(/Installed ([0-9a-f]{12})\S* .*on (\/dev\/\S+) in ([\d.]+) s/, INSTALL_LIMIT);
  t.equal(done.match[2], '/dev/vda', `${what}: installed on the virtio disk`);
  results[`${what}_install_seconds_guest`] = Number(done.match[3]);
  log(`${what}: installed in ${done.match[3]} s (guest clock)`);
  const code = await v.waitForExit(300_000);
  t.equal(code, 0, `${what}: the installer powered the machine off`);
}

/** On the ISO's GRUB menu (shim and GRUB under Secure Boot), pick the serial console entry with its hotkey. */
async function serialEntry(t: Test, v: Vm): Promise<void> {
  await v.waitForSerial(/Install Debian Atomic [^\n]*serial console ttyS0, press s/, BOOT_LIMIT);
  await v.typeOnSerial('s');
  t.pass('the ISO boots to its menu under Secure Boot; the serial console entry is chosen');
}

/**
 * Boot the installed disk alone and check it from inside; with `then`, a second blank disk is
 * attached (/dev/vdb) and `then` runs before the power goes off.
 */
async function bootInstalled(
  t: Test,
  disk: string,
  what: string,
  commit: string,
  refspec: string,
  then?: (v: Vm) => Promise<void>,
  second?: string,
): Promise<void> {
  const { key } = testConfig();
  const extraArgs = second ? ['-drive', `if=virtio,format=qcow2,file=${second}`] : [];
  vm = new Vm({
    disk,
    format: 'qcow2',
    serialLog: join(DIR, `${what}-first-boot.log`),
    sshKey: key,
    user: 'debian',
    password: PASSWORD,
    timeout: 2400,
    secureBoot: true,
    extraArgs,
  });
  await vm.start();
  const ms = await vm.waitForSsh(BOOT_LIMIT);
  results[`${what}_first_boot_ssh_seconds_host`] = Math.round(ms / 1000);
  log(`${what}: first boot, SSH after ${Math.round(ms / 1000)} s`);
  t.pass(`${what}: the configured user logs in over SSH with its key`);
  t.equal(
    (await vm.ssh('systemctl is-system-running --wait || true', 600_000)).trim(),
    'running',
    `${what}: the system is running, nothing failed`,
  );
  results[`${what}_first_boot_guest`] = (await vm.ssh('systemd-analyze time | head -1')).trim();
  t.match(await vm.ssh('mokutil --sb-state'), /SecureBoot enabled/, `${what}: booted with Secure Boot on`);
  t.equal((await vm.ssh('hostname')).trim(), `atomic-${VARIANT}`, `${what}: the configured hostname`);
  const s = HostSchema.parse(JSON.parse(await vm.ssh('atomic status --json')));
  t.equal(s.status.booted?.checksum, commit, `${what}: atomic status shows the installed commit`);
  t.same(s.status.booted?.origin, { type: 'ostree', refspec }, `${what}: it updates from the configured remote`);
  t.equal(s.status.rollback ?? null, null, `${what}: one deployment`);
  const check = await vm.sshStatus(vm.sudoCmd('atomic upgrade --check'), 600_000);
  t.equal(check.code, 0, `${what}: atomic upgrade --check reaches the origin`, { out: check.out });
  t.match(check.out, /No update available/, `${what}: the installed commit is the newest`);
  t.match(await vm.sudo('atomic bootloader status'), /Up to date\./, `${what}: the ESP's boot loader is the image's`);
  t.match(
    await vm.sudo('findmnt -n -o SOURCE /sysroot'),
    /^\/dev\/vda2/,
    `${what}: the root is the disk's second partition`,
  );
  if (then) await then(vm);
  await vm.stop();
  vm = undefined;
}

t.test(`${VARIANT}: install from the ISO, unattended and interactive, then boot the disk`, async (t) => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  const info = commitInfo();
  server = new RepoServer(join(ROOT, 'build/repo'));
  const port = await server.listen();
  const remote = `remote:\n  url: http://10.0.2.2:${port}/\n  gpg-verify: false\n`;
  const refspec = `debian:${info.ref}`;

  // 1. Unattended: the config names the disk.
  const unattendedConfig = testConfig(`${remote}install:\n  device: /dev/vda\n  finish: poweroff\n`).config;
  const iso = join(DIR, 'unattended.iso');
  const made = isoImage(unattendedConfig, iso);
  t.equal(statSync(iso).size, made.bytes, 'the ISO is written');
  t.match(made, { unattended: true, device: '/dev/vda' });
  results.iso_bytes = made.bytes;
  results.iso_build_seconds = made.seconds;
  log(`unattended ISO: ${Math.round(made.bytes / 1024 / 1024)} MiB in ${made.seconds} s`);
  const disk = join(DIR, 'unattended.qcow2');
  blankDisk(disk);
  const { key } = testConfig();
  vm = new Vm({
    disk,
    format: 'qcow2',
    cdrom: iso,
    serialLog: join(DIR, 'unattended-install.log'),
    sshKey: key,
    user: 'debian',
    password: PASSWORD,
    timeout: 3600,
    secureBoot: true,
    memoryMiB: 3072,
    serialInput: true,
  });
  await vm.start();
  await serialEntry(t, vm);
  await vm.waitForSerial(/Debian Atomic installer: installing/, BOOT_LIMIT);
  results.unattended_installer_start_seconds_host = Math.round((Date.now() - started) / 1000);
  await install(t, vm, 'unattended');
  vm = undefined;
  // From the installed system, without the ISO: atomic install to-disk onto a second disk, from the
  // remote it follows (REMOTE:REF), with the same config put in the guest; that disk then boots alone.
  const third = join(DIR, 'from-remote.qcow2');
  blankDisk(third);
  await bootInstalled(
    t,
    disk,
    'unattended',
    info.commit,
    refspec,
    async (v) => {
      const cfg = readFileSync(testConfig(remote).config, 'utf8');
      await v.ssh(`cat > /tmp/install.yaml <<'EOF'\n${cfg}EOF`);
      const started = Date.now();
      const r = await v.sshStatus(
        v.sudoCmd(`atomic install to-disk /dev/vdb --source ${refspec} --config /tmp/install.yaml --json`),
        INSTALL_LIMIT,
      );
      t.equal(r.code, 0, 'from the installed system: atomic install to-disk /dev/vdb --source REMOTE:REF', {
        out: r.out.slice(-2000),
      });
      const out = JSON.parse(r.out.slice(r.out.indexOf('{'))) as {
        commit: string;
        device: string;
        origin: unknown;
        partitions: { path: string }[];
        seconds: number;
      };
      t.match(
        out,
        {
          commit: info.commit,
          device: '/dev/vdb',
          origin: { type: 'ostree', refspec },
          partitions: [{ path: '/dev/vdb1' }, { path: '/dev/vdb2' }],
        },
        'the second disk holds the commit, following the remote',
      );
      results.from_remote_install_seconds_guest = out.seconds;
      log(
        `from the installed system: installed /dev/vdb in ${out.seconds} s (guest clock), ${Math.round((Date.now() - started) / 1000)} s on the host`,
      );
      const again = await v.sshStatus(v.sudoCmd('atomic install to-disk /dev/vdb --source ' + refspec), 300_000);
      t.equal(again.code, 1, 'a second install onto it without --wipe is refused', { out: again.out });
      t.match(
        again.out,
        /\/dev\/vdb holds data; install to-disk would destroy:\n\s+\/dev\/vdb1: 64 MiB vfat "ESP"/,
        'naming what it holds',
      );
      t.match(
        await v.sudo('atomic install to-disk /dev/vda --wipe --source ' + refspec + ' 2>&1; echo "exit $?"'),
        /\/dev\/vda2 is mounted on [\s\S]*\nexit 1\s*$/,
        'the disk the system runs from is refused, even with --wipe',
      );
    },
    third,
  );
  await bootInstalled(t, third, 'from-remote', info.commit, refspec);

  // 2. Interactive: no disk in the config; the questions answered on the serial console.
  const interactiveConfig = testConfig(remote).config;
  const iso2 = join(DIR, 'interactive.iso');
  const made2 = isoImage(interactiveConfig, iso2);
  t.match(made2, { unattended: false });
  const disk2 = join(DIR, 'interactive.qcow2');
  blankDisk(disk2);
  vm = new Vm({
    disk: disk2,
    format: 'qcow2',
    cdrom: iso2,
    serialLog: join(DIR, 'interactive-install.log'),
    sshKey: key,
    user: 'debian',
    password: PASSWORD,
    timeout: 3600,
    secureBoot: true,
    memoryMiB: 3072,
    serialInput: true,
  });
  await vm.start();
  await serialEntry(t, vm);
  const which = await vm.waitForSerial(
    /1\) \/dev\/vda\s+8\.0 GiB[^\n]*\n[\s\S]*Install to which disk\? \[1-(\d+), or q to quit\]: $/m,
    BOOT_LIMIT,
  );
  t.pass('the installer lists the blank disk and asks which');
  t.notMatch(which.match[0], /\/dev\/sr0/, 'the CD-ROM is not offered');
  await vm.typeOnSerial('9\r');
  const again = await vm.waitForSerial(
    /'9' is not one of the disks above\s+Install to which disk\?/,
    120_000,
    which.end,
  );
  await vm.typeOnSerial('1\r');
  const confirm = await vm.waitForSerial(/Type "yes" to erase \/dev\/vda and install: $/m, 120_000, again.end);
  t.pass('a wrong answer is asked again; then the confirmation');
  await vm.typeOnSerial('yes\r');
  await vm.waitForSerial(/Installed /, INSTALL_LIMIT, confirm.end);
  await install(t, vm, 'interactive');
  vm = undefined;
  await bootInstalled(t, disk2, 'interactive', info.commit, refspec);
  log(JSON.stringify(results));
});
