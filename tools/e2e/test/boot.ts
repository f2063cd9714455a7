/**
 * The proof of Day 1: the variant's image boots under OVMF+TCG and, checked from
 * inside over SSH: multi-user is reached, ostree admin status shows the booted
 * commit, /usr is read-only, /etc is writable and /var persists across a reboot,
 * dpkg -l works, the configured user logs in. Then the raw image boots too.
 */
import t from 'tap';
import { join } from 'node:path';
import { Vm } from '../src/vm.js';
import { BUILD, commitInfo, diskImage, PASSWORD, testConfig, VARIANT } from './fixtures/images.js';
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
  const userspace = /multi-user\.target reached after ([\d.]+(?:min )?[\d.]*s)/.exec(analyze)?.[1];
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

  await vm.reboot(BOOT_LIMIT);
  t.equal(
    await vm.ssh('cat /etc/debian-atomic-test /var/debian-atomic-test'),
    'edited\nkept\n',
    '/etc edits and /var data survive a reboot',
  );
  t.match(await vm.ssh('ostree admin status'), new RegExp(`^\\* debian ${commit}\\.0`, 'm'));
  await vm.stop();
});

t.test(`${VARIANT}: the raw image boots too`, async (t) => {
  const { ref, commit } = commitInfo();
  const { config, key } = testConfig();
  const disk = join(BUILD, 'boot-test.raw');
  diskImage(['--repo', join(BUILD, '../repo'), '--ref', ref, '--config', config, '--format', 'raw', '--output', disk]);
  const vm = new Vm({
    disk,
    format: 'raw',
    serialLog: join(BUILD, 'boot-test-raw-serial.log'),
    sshKey: key,
    user: 'debian',
    password: PASSWORD,
    timeout: 900,
    snapshot: true,
  });
  t.teardown(() => vm.kill());
  await vm.start();
  await vm.waitForSsh(BOOT_LIMIT);
  t.match(await vm.ssh('ostree admin status'), new RegExp(`^\\* debian ${commit}\\.0`, 'm'));
  await vm.kill();
});
