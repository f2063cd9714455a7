/**
 * hwdetect's boot-time check reports, and never changes, kernel arguments that differ from
 * the plan (in make check-slow: three boots). Boot the server image; deploy the same commit
 * without iommu=pt (ostree admin deploy --karg-delete); reboot: hwdetect.service exits 1 (a finding, not a unit
 * failure), the journal names the missing argument and the command that applies it, and the
 * machine still runs without it. Run exactly that command; reboot: the argument is back and the
 * check is clean.
 */
import t from 'tap';
import { join } from 'node:path';
import { Vm } from '../src/vm.js';
import { BUILD, commitInfo, diskImage, PASSWORD, testConfig, VARIANT } from './fixtures/images.js';

const BOOT_LIMIT = 900_000;

t.test(
  `${VARIANT}: the boot-time check reports differing kernel arguments and the command that applies them`,
  async (t) => {
    const { ref, commit } = commitInfo();
    const { config, key } = testConfig();
    const disk = join(BUILD, 'hwdetect-report-test.qcow2');
    diskImage([
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
    const vm = new Vm({
      disk,
      format: 'qcow2',
      serialLog: join(BUILD, 'hwdetect-report-serial.log'),
      sshKey: key,
      user: 'debian',
      password: PASSWORD,
      timeout: 2400,
    });
    t.teardown(() => vm.kill());
    await vm.start();
    await vm.waitForSsh(BOOT_LIMIT);
    // hwdetect.service is a oneshot that does not hold up SSH: wait for the boot's jobs each time.
    await vm.settled();
    t.ok((await vm.cmdline()).includes('iommu=pt'), "booted with the plan's iommu=pt");
    t.match(await vm.ssh('systemctl show hwdetect.service -p ExecMainStatus'), /^ExecMainStatus=0$/m);

    // ostree 2025.2's edit-in-place only appends: a deployment of the booted commit without it.
    await vm.sudo(`ostree admin deploy --retain --karg-delete=iommu=pt ${commit}`);
    const entries = () => vm.ssh('grep -H ^options /boot/loader/entries/*.conf');
    const before = await entries();
    t.match(before, /ostree-2\.conf:options (?!.*iommu=pt)/, 'the new default entry lacks it');
    await vm.reboot(BOOT_LIMIT);
    await vm.settled();
    t.notOk((await vm.cmdline()).includes('iommu=pt'), 'booted without it');
    const unit = await vm.ssh('systemctl show hwdetect.service -p Result -p ExecMainStatus');
    t.match(unit, /^ExecMainStatus=1$/m, 'exit 1: a difference was found');
    t.match(unit, /^Result=success$/m, 'a finding, not a failed unit');
    t.equal((await vm.ssh('systemctl --failed --no-legend --plain | wc -l')).trim(), '0', 'no failed units');
    const report = JSON.parse(await vm.sudo('cat /run/hwdetect/report.json')) as {
      missing: string[];
      commands: string[];
    };
    t.same(report.missing, ['iommu=pt']);
    t.same(report.commands, ['ostree admin kargs edit-in-place --append-if-missing=iommu=pt']);
    const journal = await vm.sudo('journalctl -b -u hwdetect.service --no-pager -o cat');
    t.match(
      journal,
      /kernel arguments missing \(policy hwdetect-server\): iommu=pt/,
      'the journal says what is missing',
    );
    t.match(
      journal,
      /to apply, run: ostree admin kargs edit-in-place --append-if-missing=iommu=pt/,
      'and how to apply it',
    );
    t.equal(await entries(), before, 'the check changed nothing: the boot entries are as they were');

    // The command the report gives, run as given.
    await vm.sudo(report.commands[0]!);
    await vm.reboot(BOOT_LIMIT);
    await vm.settled();
    t.ok((await vm.cmdline()).includes('iommu=pt'), 'the reported command applied it');
    t.match(
      await vm.ssh('systemctl show hwdetect.service -p ExecMainStatus'),
      /^ExecMainStatus=0$/m,
      'and the check is clean again',
    );
    t.same(JSON.parse(await vm.sudo('cat /run/hwdetect/report.json')).missing, []);
    await vm.stop();
  },
);
