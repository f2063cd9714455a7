/**
 * The proof of Day 1: the variant's image boots under OVMF+TCG and, checked from
 * inside over SSH: multi-user is reached, ostree admin status shows the booted
 * commit, /usr is read-only, /etc is writable and /var persists across a reboot,
 * dpkg -l works, the configured user logs in, the initramfs has its documented driver set.
 * The raw format boots too: test/boot-raw.ts, make raw-boot-test (check-slow).
 */
import t from 'tap';
import { join } from 'node:path';
import { Vm } from '../src/vm.js';
import { bootedInitramfs, BUILD, commitInfo, diskImage, PASSWORD, testConfig, VARIANT } from './fixtures/images.js';
import { HostSchema } from '../../atomic/src/schema.js';

// Generous: TCG on a loaded 2-core machine; an idle one reaches SSH in about 2.5 minutes.
const BOOT_LIMIT = 900_000;

t.test(`${VARIANT}: qcow2 boots, and the system behaves like an image-based one`, async (t) => {
  const { ref, commit } = commitInfo();
  const { config, key } = testConfig();
  const disk = join(BUILD, 'boot-test.qcow2');
  const summary = diskImage([
    '--repo',
    join(BUILD, '../repo'),
    '--ref',
    ref,
    '--config',
    config,
    '--format',
    'qcow2',
    '--output',
    disk,
  ]);
  t.equal(summary.commit, commit);

  const vm = new Vm({
    disk,
    format: 'qcow2',
    serialLog: join(BUILD, 'boot-test-serial.log'),
    sshKey: key,
    user: 'debian',
    password: PASSWORD,
    timeout: 1500,
  });
  t.teardown(() => vm.kill());
  await vm.start();
  const sshAfter = await vm.waitForSsh(BOOT_LIMIT);
  t.pass(`SSH as the configured user after ${Math.round(sshAfter / 1000)} s (host time)`);

  t.equal((await vm.ssh('systemctl is-active multi-user.target')).trim(), 'active', 'multi-user.target reached');
  const analyze = await vm.ssh('systemd-analyze time || true');
  // Any of systemd's time spans: "58.3s", "1min 21.083s", "2min 591ms".
  const userspace = /multi-user\.target reached after (.+?) in userspace/.exec(analyze)?.[1];
  t.ok(userspace, `guest time to multi-user: ${userspace} (${analyze.split('\n')[0]})`);
  process.stderr.write(
    `boot-test ${VARIANT}: guest time to multi-user.target: ${userspace}; ${analyze.split('\n')[0]}\n`,
  );

  const status = await vm.ssh('ostree admin status');
  t.match(
    status,
    new RegExp(`^\\* debian ${commit}\\.0`, 'm'),
    'ostree admin status shows the booted deployment with the expected commit',
  );
  t.match(status, /origin refspec: /);
  // The update client every image carries: its status, validated against the schema it publishes.
  const host = HostSchema.safeParse(JSON.parse(await vm.ssh('atomic status --json')));
  t.ok(host.success, 'atomic status --json follows its schema', {
    error: host.success ? undefined : host.error.message,
  });
  t.equal(host.data?.status.booted?.checksum, commit, 'atomic status --json: the booted commit');
  t.same(
    host.data?.status.booted?.origin,
    { type: 'ostree', refspec: ref },
    'atomic status --json: the origin is the local ref',
  );
  t.equal(
    (await vm.ssh('systemctl is-active atomic-automatic-update.timer')).trim(),
    'active',
    'the automatic update timer runs (policy none: nothing happens)',
  );
  // The boot chain: Debian's signed shim and GRUB, the menu kept by ostree (make secureboot-test: the same with Secure Boot on).
  t.match(
    await vm.ssh('mokutil --sb-state'),
    vm.secureBoot ? /^SecureBoot enabled$/m : /^SecureBoot disabled$/m,
    `mokutil --sb-state: Secure Boot ${vm.secureBoot ? 'on' : 'off'}`,
  );
  t.equal(
    (await vm.ssh('ostree config --repo=/ostree/repo get sysroot.bootloader')).trim(),
    'grub2',
    "ostree's grub2 integration keeps the GRUB menu",
  );
  t.match(
    await vm.sudo('cat /boot/grub/grub.cfg'),
    /^menuentry '[^']*\(ostree:0\)'/m,
    '/boot/grub/grub.cfg (→ /boot/loader/grub.cfg) lists the deployment',
  );
  t.match((await vm.ssh('findmnt -no OPTIONS /usr')).trim(), /(^|,)ro(,|$)/, '/usr is mounted read-only');
  t.not(
    (await vm.sshStatus(PASSWORD ? vm.sudoCmd('touch /usr/should-fail') : 'false')).code,
    0,
    'root cannot write /usr',
  );
  await vm.sudo('echo edited > /etc/debian-atomic-test && echo kept > /var/debian-atomic-test');
  t.equal(
    await vm.ssh('cat /etc/debian-atomic-test /var/debian-atomic-test'),
    'edited\nkept\n',
    '/etc and /var are writable',
  );
  const dpkg = await vm.ssh('dpkg -l');
  t.match(dpkg, /^ii\s+ostree\s/m, 'dpkg -l lists the packages (the database lives in /usr)');
  t.ok(dpkg.split('\n').filter((l) => l.startsWith('ii')).length > 100);
  t.equal((await vm.ssh('hostname')).trim(), `atomic-${VARIANT}`);
  t.match(await vm.ssh('id'), /\(sudo\)/, 'the configured user is in sudo');
  t.equal((await vm.ssh('systemctl --failed --no-legend --plain | wc -l')).trim(), '0', 'no failed units');
  // variants/files/grub-common-recordfail.conf: 15_ostree's menu sets no recordfail, so there is none to unset.
  t.equal(
    (
      await vm.ssh('systemctl show -P ConditionResult grub-common.service; test -e /boot/grub/grubenv || echo none')
    ).trim(),
    'no\nnone',
    'grub-common.service skipped: no grubenv (and none created)',
  );

  // The initramfs's documented set (variants/files/dracut-debian-atomic.conf): not host-only, so
  // every local-disk controller and root file system of ours; not the rest of what dracut offers.
  const initrd = await bootedInitramfs(vm);
  const storage = ['virtio_blk', 'virtio_scsi', 'nvme', 'ahci', 'sd_mod', 'usb_storage', 'uas', 'xhci_pci'];
  const more = ['megaraid_sas', 'mpt3sas', 'vmw_pvscsi', 'hv_storvsc', 'mmc_block', 'usbhid'];
  for (const m of [...storage, ...more, 'ext4', 'xfs', 'btrfs']) {
    t.ok(initrd.packed(m) || initrd.builtin(m), `the initramfs has ${m}`);
  }
  const fs = ['ocfs2', 'gfs2', 'ceph', 'f2fs', 'bcachefs'];
  for (const m of [...fs, 'nbd', 'rbd', 'qla2xxx', 'lpfc', 'libiscsi', 'ib_core']) {
    t.notOk(initrd.packed(m), `the initramfs leaves out ${m}`);
  }
  t.notMatch(initrd.listing, /\/hwdb\.bin$/m, "the initramfs leaves out udev's hardware database");

  await vm.reboot(BOOT_LIMIT);
  t.equal(
    await vm.ssh('cat /etc/debian-atomic-test /var/debian-atomic-test'),
    'edited\nkept\n',
    '/etc edits and /var data survive a reboot',
  );
  t.match(await vm.ssh('ostree admin status'), new RegExp(`^\\* debian ${commit}\\.0`, 'm'));
  await vm.stop();
});
