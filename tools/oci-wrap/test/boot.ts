/**
 * The whole way for the real variant (build/repo from `make commit`): oci-wrap →
 * skopeo copy into a local docker-registry → disk-image --oci docker://... → the
 * disk boots in QEMU and runs the very commit that was wrapped.
 * Slow (a TCG boot): runs only with OCI_BOOT_TEST=1 (make oci-boot-test).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Vm } from '../../e2e/src/vm.js';
import { PASSWORD, testConfig } from '../../e2e/test/fixtures/images.js';
import { startRegistry } from './fixtures/registry.js';
import { ociWrap } from './fixtures/tiny.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const VARIANT = process.env.VARIANT ?? 'base';
const BUILD = join(ROOT, 'build', VARIANT);

if (process.env.OCI_BOOT_TEST !== '1') {
  t.pass('skipped: set OCI_BOOT_TEST=1 (make oci-boot-test) to boot a disk built from the registry image');
} else {
  t.test(`${VARIANT}: wrapped, pushed, pulled, deployed, booted — the same commit`, async (t) => {
    const info = JSON.parse(readFileSync(join(BUILD, 'commit.json'), 'utf8')) as { ref: string; commit: string };
    const image = join(BUILD, 'oci');
    const wrap = ociWrap(['--repo', join(ROOT, 'build/repo'), '--ref', info.ref, '--output', `oci:${image}:latest`]);
    t.equal(wrap.status, 0, wrap.stderr);
    t.equal(wrap.json().commit, info.commit);

    const registry = await startRegistry(join(t.testdir(), 'storage'));
    t.teardown(registry.stop);
    const remote = `docker://${registry.host}/debian-atomic/${VARIANT}:latest`;
    const push = spawnSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${image}:latest`, remote], {
      encoding: 'utf8',
    });
    t.equal(push.status, 0, push.stderr);

    const { config, key } = testConfig();
    const disk = join(BUILD, 'oci-boot-test.qcow2');
    const r = spawnSync(
      'node',
      [
        join(ROOT, 'tools/disk-image/dist/bin.js'),
        '--quiet',
        '--oci',
        remote,
        '--no-tls-verify',
        '--config',
        config,
        '--format',
        'qcow2',
        '--output',
        disk,
      ],
      { encoding: 'utf8' },
    );
    t.equal(r.status, 0, r.stderr);
    t.equal(
      JSON.parse(r.stdout).commit,
      info.commit,
      'the disk deploys the commit imported from the registry: same checksum',
    );
    t.ok(existsSync(disk));
    await registry.stop();

    const vm = new Vm({
      disk,
      format: 'qcow2',
      serialLog: join(BUILD, 'oci-boot-test-serial.log'),
      sshKey: key,
      user: 'debian',
      password: PASSWORD,
      timeout: 1200,
      snapshot: true,
    });
    t.teardown(() => vm.kill());
    await vm.start();
    const after = await vm.waitForSsh(900_000);
    t.pass(`SSH after ${Math.round(after / 1000)} s`);
    t.match(
      await vm.ssh('ostree admin status'),
      new RegExp(`^\\* debian ${info.commit}\\.0`, 'm'),
      'booted deployment is the wrapped commit',
    );
    t.equal((await vm.ssh('systemctl is-active multi-user.target')).trim(), 'active');
    await vm.kill();
  });
}
