/**
 * The raw disk image boots too (make raw-boot-test, in check-slow): make boot-test boots the
 * commit as qcow2, this the same commit as disk-image's raw output.
 */
import t from 'tap';
import { join } from 'node:path';
import { Vm } from '../src/vm.js';
import { BUILD, commitInfo, diskImage, PASSWORD, testConfig, VARIANT } from './fixtures/images.js';

// Generous: TCG on a loaded 2-core machine.
const BOOT_LIMIT = 900_000;

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
