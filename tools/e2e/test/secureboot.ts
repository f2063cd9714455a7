/**
 * Secure Boot as on a PC (OVMF enforcing it, Microsoft's keys enrolled): the image boots through
 * Debian's signed shim → signed GRUB → signed kernel, checked from inside the guest. A kernel
 * without its signature, deployed as an update, is refused by the chain and the machine comes up
 * on the previous deployment (GRUB's fallback); `atomic rollback` makes that the default. An
 * image whose signed GRUB changed makes `atomic status` say the ESP is older; `atomic bootloader
 * update` with the power cut in the middle leaves a bootable ESP, and a re-run finishes it.
 * One disk, every boot with Secure Boot on. (make secureboot-test also runs the update test so.)
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vm } from '../src/vm.js';
import { RepoServer } from '../src/serve.js';
import { BUILD, commitInfo, diskImage, PASSWORD, ROOT, testConfig, VARIANT } from './fixtures/images.js';
import { cleanupUpdate, publishV1, UPDATE_DIR, type Release } from './fixtures/update.js';
import { publishNewGrub, publishUnsignedKernel } from './fixtures/secureboot.js';
import { HostSchema } from '../../atomic/src/schema.js';

const BOOT_LIMIT = 900_000;
const REMOTE = 'debian-atomic';
const started = Date.now();
const log = (s: string) =>
  process.stderr.write(`secureboot-test ${VARIANT} [${Math.round((Date.now() - started) / 1000)} s]: ${s}\n`);

if (!process.env.DEBIAN_ATOMIC_SECUREBOOT_TEST) {
  t.plan(0, 'the Secure Boot test boots six times: run it with make secureboot-test (DEBIAN_ATOMIC_SECUREBOOT_TEST=1)');
  process.exit(0);
}
t.setTimeout(3 * 3600 * 1000);

const server = new RepoServer('');
let release: Release | undefined;
let vm: Vm | undefined;
const results: Record<string, unknown> = {};
const SERIAL = join(UPDATE_DIR, 'secureboot-serial.log');

t.teardown(async () => {
  await vm?.kill();
  await server.close();
  cleanupUpdate(release);
  writeFileSync(join(BUILD, 'secureboot-results.json'), `${JSON.stringify(results, null, 2)}\n`);
});

/** The serial console written since `from` (bytes), without terminal escapes: what this boot's firmware, GRUB and kernel said. */
function serialSince(from: number): string {
  // eslint-disable-next-line no-control-regex
  return readFileSync(SERIAL)
    .subarray(from)
    .toString('latin1')
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}
const serialLength = () => readFileSync(SERIAL).length;

async function host(v: Vm) {
  const parsed = HostSchema.safeParse(JSON.parse(await v.ssh('atomic status --json')));
  if (!parsed.success) throw new Error(`atomic status --json does not follow its schema: ${parsed.error.message}`);
  return parsed.data.status;
}

async function bootloaderStatus(v: Vm): Promise<{ code: number; json: Record<string, any> | null; out: string }> {
  const r = await v.sshStatus('atomic bootloader status --json');
  let json: Record<string, any> | null = null;
  try {
    json = JSON.parse(r.out) as Record<string, any>;
  } catch {
    json = null;
  }
  return { ...r, json };
}

t.test(
  `${VARIANT}: Secure Boot on — signed chain, a refused kernel, a bootloader update cut in the middle`,
  async (t) => {
    const { ref, commit: v1, timestamp } = commitInfo() as ReturnType<typeof commitInfo> & { timestamp: number };
    const rel = await publishV1({ v1Repo: join(ROOT, 'build/repo'), ref, v1 });
    release = rel;
    server.root = rel.repo;
    const port = await server.listen(0, '127.0.0.1');
    const config = join(UPDATE_DIR, 'secureboot-config.yaml');
    writeFileSync(
      config,
      `${readFileSync(testConfig().config, 'utf8')}remote:\n  name: ${REMOTE}\n  url: http://10.0.2.2:${port}/\n  gpg-verify: true\n  gpg-key: ${rel.pubKey}\n`,
    );
    const disk = join(UPDATE_DIR, 'secureboot.qcow2');
    const image = diskImage([
      '--repo',
      rel.repo,
      '--ref',
      ref,
      '--config',
      config,
      '--format',
      'qcow2',
      '--output',
      disk,
    ]);
    t.equal(image.commit, v1, 'the image holds v1');
    t.equal(image.secureBoot, true, "disk-image checked that the kernel carries Debian's signature");

    const { key } = testConfig();
    vm = new Vm({
      disk,
      format: 'qcow2',
      serialLog: SERIAL,
      sshKey: key,
      user: 'debian',
      password: PASSWORD,
      timeout: 3 * 3600,
      secureBoot: true,
    });
    await vm.start();
    const v = vm;
    results.boot1_ssh_s = Math.round((await v.waitForSsh(BOOT_LIMIT)) / 1000);
    log(`boot 1 (v1, Secure Boot on): SSH after ${String(results.boot1_ssh_s)} s`);

    // 1. The signed chain, seen from inside.
    t.match(await v.ssh('mokutil --sb-state'), /^SecureBoot enabled$/m, 'mokutil --sb-state: SecureBoot enabled');
    t.match(
      await v.sudo('journalctl -k -b -o cat | grep -i "secure boot" || true'),
      /Secure boot enabled/i,
      'the kernel log says Secure Boot is enabled',
    );
    t.match(
      serialSince(0),
      /GNU GRUB\s+version 2\.12/,
      "Debian's signed GRUB 2.12 ran (its menu on the serial console)",
    );
    t.equal(
      (await v.ssh('ostree config --repo=/ostree/repo get sysroot.bootloader')).trim(),
      'grub2',
      "ostree's grub2 integration keeps the menu",
    );
    t.match(
      await v.sudo('cat /boot/grub/grub.cfg'),
      /^menuentry '[^']*\(ostree:0\)'/m,
      '/boot/grub/grub.cfg lists the deployment',
    );
    t.equal((await host(v)).booted?.checksum, v1, 'atomic status --json: v1 booted');
    const bl1 = await bootloaderStatus(v);
    t.equal(bl1.code, 0, 'atomic bootloader status', { out: bl1.out });
    t.match(bl1.json, { status: 'up-to-date' }, 'the ESP holds what the image carries', { out: bl1.out });
    await v.sudo('echo edited > /etc/debian-atomic-test && echo kept > /var/debian-atomic-test');

    // 2. A kernel without Debian's signature, deployed as an update: refused by shim's verifier in GRUB;
    //    GRUB falls back to the previous deployment (16_atomic-fallback's `set fallback=1`).
    process.env.SOURCE_DATE_EPOCH = String(timestamp + 3600);
    const bad = publishUnsignedKernel(rel, join(BUILD, 'rootfs'), UPDATE_DIR);
    t.match(
      bad.signed,
      /Debian Secure Boot Signer/,
      'the published kernel was signed by Debian before sbattach --remove',
    );
    t.match(bad.unsigned, /No signature table present/, 'and carries no signature after it');
    log(`published ${bad.commit.slice(0, 12)}: v1 with the kernel's signature removed`);
    const up = await v.sudo('atomic upgrade', 900_000);
    t.equal((await host(v)).staged?.checksum, bad.commit, 'atomic upgrade staged the unsigned-kernel commit', { up });
    let mark = serialLength();
    await v.reboot(BOOT_LIMIT);
    const refused = serialSince(mark);
    t.match(
      refused,
      /bad shim signature|verification failed|Access Denied|security violation/i,
      "GRUB refused the unsigned kernel (shim's verifier)",
      { tail: refused.slice(-3000) },
    );
    let s = await host(v);
    t.equal(s.booted?.checksum, v1, 'the machine came up on v1: GRUB fell back to the previous deployment');
    t.equal(s.pending?.checksum, bad.commit, 'the refused deployment is still the default (pending), not booted', {
      status: s,
    });
    t.match(await v.ssh('mokutil --sb-state'), /^SecureBoot enabled$/m, 'Secure Boot stayed on');
    results.unsigned_kernel = 'refused by GRUB (shim verifier); GRUB fallback=1 booted the previous deployment (v1)';
    await v.sudo('atomic rollback');
    t.match(
      await v.sudo('head -c 4000 /boot/loader/grub.cfg'),
      new RegExp(`menuentry[^\\n]*\\n(?:[^\\n]*\\n)*?linux [^\\n]*ostree=/ostree/boot\\.\\d/debian/[0-9a-f]{64}/0`),
      'the menu was rewritten on rollback',
    );
    mark = serialLength();
    await v.reboot(BOOT_LIMIT);
    t.notMatch(serialSince(mark), /bad shim signature/i, 'after atomic rollback v1 boots first, nothing refused');
    s = await host(v);
    t.equal(s.booted?.checksum, v1, 'v1 booted after the rollback');
    t.equal(
      await v.ssh('cat /etc/debian-atomic-test /var/debian-atomic-test'),
      'edited\nkept\n',
      '/etc edit and /var data survived',
    );
    await v.sudo('ostree admin undeploy 1');

    // 3. The image's signed GRUB changes: the ESP is older than the image until `atomic bootloader update`.
    process.env.SOURCE_DATE_EPOCH = String(timestamp + 7200);
    const grub = publishNewGrub(rel, join(BUILD, 'rootfs'), UPDATE_DIR);
    log(`published ${grub.commit.slice(0, 12)}: v1 with grub-efi-amd64-signed ${grub.grubVersion} (forky's)`);
    await v.sudo('atomic upgrade', 900_000);
    t.equal((await host(v)).staged?.checksum, grub.commit, 'atomic upgrade staged the new-GRUB commit');
    await v.reboot(BOOT_LIMIT);
    t.equal(
      (await host(v)).booted?.checksum,
      grub.commit,
      'the new-GRUB image booted (through the old GRUB on the ESP)',
    );
    t.match(
      await v.ssh('atomic status'),
      /^Bootloader: update available \(grub-efi-amd64-signed [^ ]+ → [^)]+\); run 'atomic bootloader update'$/m,
      'atomic status says the ESP is older than the image',
    );
    const bl2 = await bootloaderStatus(v);
    t.equal(bl2.json?.status, 'update-available', 'atomic bootloader status --json: update available', {
      out: bl2.out,
    });
    const comp = (name: string) =>
      (bl2.json?.components as Array<Record<string, string>> | undefined)?.find((c) => c.name === name);
    t.match(comp('grub'), { status: 'update-available', imageVersion: grub.grubVersion }, "GRUB: the image's is newer");
    t.match(comp('shim'), { status: 'up-to-date' }, 'shim: unchanged');

    // The power cut: right after the first new file is renamed into place (EFI/debian/grubx64.efi),
    // before the second (EFI/BOOT/grubx64.efi, the one the firmware's removable path loads): a failpoint
    // holds the command there, as bootupd's tests do, so the cut lands at exactly that point.
    const cut = await v.cutPowerWhen(
      'ATOMIC_FAILPOINTS=bootloader-after-rename:1 atomic bootloader update',
      /failpoint bootloader-after-rename:1/,
    );
    t.ok(cut.matched, 'power cut in the middle of the bootloader update (after the first rename)', { out: cut.out });
    t.match(
      cut.out,
      /renaming EFI\/debian\/grubx64\.efi\.new to EFI\/debian\/grubx64\.efi/,
      'GRUB in EFI/debian was renamed before the cut',
      { out: cut.out },
    );
    results.bootloader_cut = cut.out.trim().split('\n').slice(-3).join(' | ');
    await v.start();
    results.boot_after_cut_ssh_s = Math.round((await v.waitForSsh(BOOT_LIMIT)) / 1000);
    t.pass(`the system boots after the cut (SSH after ${String(results.boot_after_cut_ssh_s)} s), Secure Boot on`);
    t.match(await v.ssh('mokutil --sb-state'), /^SecureBoot enabled$/m);
    const mid = await bootloaderStatus(v);
    t.match(mid.json, { status: 'update-available' }, 'after the cut the state still says the ESP is behind', {
      out: mid.out,
    });
    const fin = JSON.parse(await v.sudo('atomic bootloader update --json')) as { result: string; written: string[] };
    t.equal(fin.result, 'updated', 'a re-run finishes the update', { fin });
    t.same(fin.written, ['EFI/BOOT/grubx64.efi'], 'only what the cut left: GRUB on the removable-media path', { fin });
    results.bootloader_rerun_wrote = fin.written;
    const bl3 = await bootloaderStatus(v);
    t.match(bl3.json, { status: 'up-to-date' }, "the ESP now holds the image's bootloader", { out: bl3.out });
    const partuuid = (JSON.parse(await v.ssh('cat /boot/atomic/bootloader.json')) as { esp: { partuuid: string } }).esp
      .partuuid;
    const fsck = await v.sshStatus(v.sudoCmd(`fsck.fat -n /dev/disk/by-partuuid/${partuuid}`));
    t.equal(fsck.code, 0, 'fsck.fat -n: the ESP is clean after the update', { out: fsck.out });
    t.notMatch(
      await v.ssh('atomic status'),
      /^Bootloader: update available/m,
      'atomic status no longer asks for a bootloader update',
    );
    mark = serialLength();
    await v.reboot(BOOT_LIMIT);
    const after = serialSince(mark);
    t.match(
      after,
      new RegExp(
        `GNU GRUB\\s+version ${grub.grubVersion.replace(/^1\+/, '').split('-')[0]!.replace(/\+.*$/, '').replace(/\./g, '\\.')}`,
      ),
      `the new GRUB (${grub.grubVersion}) ran`,
      { tail: after.slice(0, 3000) },
    );
    t.match(await v.ssh('mokutil --sb-state'), /^SecureBoot enabled$/m, 'and Secure Boot is still on');
    t.equal(
      (await v.sshStatus('timeout 100 systemctl is-system-running --wait')).out.trim(),
      'running',
      'no failed units',
    );
    await v.stop();
    log(`done: ${JSON.stringify(results)}`);
  },
);
