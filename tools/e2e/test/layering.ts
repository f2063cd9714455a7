/**
 * Package layering (atomic install, as rpm-ostree install) proven in a VM, hermetic: a flat apt
 * repository on the host (real Debian .debs of jq and its dependency chain from the apt cache, plus
 * two tiny packages built here: one whose postinst fails, one that conflicts with a base package),
 * signed with a throwaway key, served over HTTP (the guest reaches it as 10.0.2.2) and the
 * image's only apt source. The base is update-test's v1 → v2 (an OSTree remote, GPG-signed).
 *
 * install jq → reboot → it runs, dpkg and apt know it → upgrade to v2 → still there → uninstall →
 * gone after reboot → a failing postinst and a conflict: clear errors, no new deployment →
 * override remove of a base package → gone, override reset → back → a power cut during
 * atomic install → the previous deployment boots intact, fsck clean. Measured: the time of one
 * atomic install (guest clock) and the bytes the local commit adds to the repository.
 */
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolboxRun } from '@debian-atomic/lib';
import { Vm } from '../src/vm.js';
import { RepoServer } from '../src/serve.js';
import { BUILD, commitInfo, diskImage, PASSWORD, ROOT, testConfig, VARIANT } from './fixtures/images.js';
import {
  cleanupUpdate,
  fetchDeb,
  gpgKey,
  publishV1,
  publishV2,
  V2_MARK,
  type Published,
  type Release,
} from './fixtures/update.js';

const BOOT_LIMIT = 600_000;
const REMOTE = 'debian-atomic';
const DIR = join(BUILD, 'layering');
const APT = join(DIR, 'apt');
/** jq and the chain it needs beyond the base image (jq → libjq1 → libonig5). */
const REAL = ['jq', 'libjq1', 'libonig5'];
/** A base package nothing in the image depends on: override remove takes it out. */
const BASE_PACKAGE = 'less';
const started = Date.now();
const log = (s: string) =>
  process.stderr.write(`layering-test ${VARIANT} [${Math.round((Date.now() - started) / 1000)} s]: ${s}\n`);

if (!process.env.DEBIAN_ATOMIC_LAYERING_TEST) {
  t.plan(
    0,
    'the layering test boots a VM several times: run it with make layering-test (DEBIAN_ATOMIC_LAYERING_TEST=1)',
  );
  process.exit(0);
}
t.setTimeout(3 * 3600 * 1000);

const repoServer = new RepoServer('');
const aptServer = new RepoServer(APT);
let release: Release | undefined;
let pub: Published | undefined;
let vm: Vm | undefined;
let boots = 0;
const results: Record<string, unknown> = {};

t.teardown(async () => {
  await vm?.kill();
  await repoServer.close();
  await aptServer.close();
  cleanupUpdate(release);
});

/** A tiny package built with dpkg-deb. */
function tinyDeb(name: string, control: string[], postinst?: string): string {
  const root = join(DIR, `deb-${name}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, `usr/share/${name}`), { recursive: true });
  writeFileSync(join(root, `usr/share/${name}/README`), `${name}\n`);
  writeFileSync(
    join(root, 'DEBIAN/control'),
    [
      `Package: ${name}`,
      'Version: 1.0',
      'Architecture: all',
      'Maintainer: Debian Atomic tests <test@invalid>',
      `Description: ${name} (layering test)`,
      ...control,
      '',
    ].join('\n'),
  );
  if (postinst) writeFileSync(join(root, 'DEBIAN/postinst'), `#!/bin/sh\nset -e\n${postinst}\n`, { mode: 0o755 });
  const deb = join(APT, `${name}_1.0_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, deb]);
  rmSync(root, { recursive: true, force: true });
  return deb;
}

/** The signed flat repository: Packages, Release, InRelease (clearsigned with the throwaway key). */
async function publishApt(): Promise<string> {
  rmSync(APT, { recursive: true, force: true });
  mkdirSync(APT, { recursive: true });
  for (const p of REAL) copyFileSync(fetchDeb(p), join(APT, `${p}.deb`));
  tinyDeb('failpost', [], 'echo "failpost: refusing to configure" >&2; exit 1');
  tinyDeb('conflicting', [`Conflicts: ${BASE_PACKAGE}`]);
  const packages = execFileSync('dpkg-scanpackages', ['--multiversion', '.', '/dev/null'], {
    cwd: APT,
    encoding: 'utf8',
  });
  writeFileSync(join(APT, 'Packages'), packages);
  const sha = execFileSync('sha256sum', [join(APT, 'Packages')], { encoding: 'utf8' }).split(' ')[0];
  writeFileSync(
    join(APT, 'Release'),
    [
      'Origin: atomic-layering-test',
      'Suite: test',
      'Codename: test',
      `Date: ${new Date().toUTCString()}`,
      'Architectures: amd64 all',
      'SHA256:',
      ` ${sha} ${Buffer.byteLength(packages)} Packages`,
      '',
    ].join('\n'),
  );
  const key = await gpgKey('Debian Atomic layering test <layering@example.invalid>');
  // The toolbox's gpg made the key: the same one signs (the host's may not read its keyring).
  await toolboxRun(
    'gpg',
    [
      '--homedir',
      key.home,
      '--batch',
      '--yes',
      '--pinentry-mode',
      'loopback',
      '--passphrase',
      '',
      '--local-user',
      key.keyId,
      '--clearsign',
      '--output',
      join(APT, 'InRelease'),
      join(APT, 'Release'),
    ],
    { binds: [key.home, APT] },
  );
  const pubKey = readFileSync(key.pubKey, 'utf8');
  rmSync(key.home, { recursive: true, force: true });
  return pubKey;
}

async function boot(why: string): Promise<Vm> {
  boots++;
  const { key } = testConfig();
  vm = new Vm({
    disk: join(DIR, 'disk.qcow2'),
    format: 'qcow2',
    serialLog: join(DIR, `serial-${boots}.log`),
    sshKey: key,
    user: 'debian',
    password: PASSWORD,
    // One QEMU lives through several guest reboots (install, upgrade, uninstall…): its cap is a
    // hang guard for all of them. 1200 s cut a run on a loaded machine between two checks.
    timeout: 3600,
  });
  await vm.start();
  const ms = await vm.waitForSsh(BOOT_LIMIT);
  log(`boot ${boots} (${why}): SSH after ${Math.round(ms / 1000)} s`);
  return vm;
}

interface Dep {
  booted: boolean;
  commit: string;
  tag: string | null;
}

async function deployments(v: Vm): Promise<Dep[]> {
  const r = await v.sshStatus(v.sudoCmd('ostree admin status 2>&1'));
  if (r.code !== 0) throw new Error(`ostree admin status failed (${r.code}): ${r.out}`);
  const text = r.out;
  return [...text.matchAll(/^([* ]) \S+ ([0-9a-f]{64})\.\d+(?: \((\w+)\))?$/gm)].map((m) => ({
    booted: m[1] === '*',
    commit: m[2]!,
    tag: m[3] ?? null,
  }));
}

async function layering(v: Vm) {
  const host = JSON.parse(await v.ssh('atomic status --json')) as {
    status: {
      booted: {
        checksum: string;
        layering?: { baseCommit: string; requested: string[]; removed: string[]; layeredPackages: string[] } | null;
      } | null;
    };
  };
  return host.status.booted;
}

/** A refused request: exit 1, the message, and the deployments exactly as they were. */
async function refused(t: Test, v: Vm, cmd: string, message: RegExp, what: string): Promise<void> {
  const before = await deployments(v);
  const r = await v.sshStatus(v.sudoCmd(`${cmd} 2>&1`), 900_000);
  t.equal(r.code, 1, `${what}: exit 1`, { out: r.out });
  t.match(r.out, message, `${what}: the error says why`, { out: r.out });
  t.same(await deployments(v), before, `${what}: no new deployment`);
  t.equal(
    (await v.sudo('ls -A /sysroot/ostree/atomic-layering 2>/dev/null | wc -l')).trim(),
    '0',
    `${what}: no transaction left behind`,
  );
  log(
    `${what}: ${r.out
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('atomic:'))
      .join(' | ')}`,
  );
}

t.test(`${VARIANT}: atomic install, upgrade, uninstall, refusals, overrides and a power cut`, async (t) => {
  mkdirSync(DIR, { recursive: true });
  const { ref, commit: v1, timestamp } = commitInfo() as ReturnType<typeof commitInfo> & { timestamp: number };
  release = await publishV1({ v1Repo: join(ROOT, 'build/repo'), ref, v1 });
  repoServer.root = release.repo;
  const port = await repoServer.listen(0, '127.0.0.1');
  const aptPort = await aptServer.listen(0, '127.0.0.1');
  const aptKey = await publishApt();
  const config = join(DIR, 'config.yaml');
  writeFileSync(
    config,
    `${readFileSync(testConfig().config, 'utf8')}remote:\n  name: ${REMOTE}\n  url: http://10.0.2.2:${port}/\n  gpg-verify: true\n  gpg-key: ${release.pubKey}\n`,
  );
  diskImage([
    '--repo',
    release.repo,
    '--ref',
    ref,
    '--config',
    config,
    '--format',
    'qcow2',
    '--output',
    join(DIR, 'disk.qcow2'),
  ]);
  const booting = boot('v1');
  booting.catch(() => undefined);
  process.env.SOURCE_DATE_EPOCH = String(timestamp + 3600);
  pub = await publishV2(release, join(BUILD, 'rootfs'));
  let v = await booting;

  // The image's only apt source: the host's signed repository.
  await v.sudo(
    `mkdir -p /etc/apt/keyrings && rm -f /etc/apt/sources.list.d/* && echo ${Buffer.from(aptKey).toString('base64')} | base64 -d > /etc/apt/keyrings/atomic-test.asc && echo 'deb [signed-by=/etc/apt/keyrings/atomic-test.asc] http://10.0.2.2:${aptPort}/ ./' > /etc/apt/sources.list`,
  );
  t.match(await v.ssh('command -v bwrap'), /bwrap/, 'bubblewrap is in the image');

  // install jq: time (guest clock) and the bytes the local commit adds.
  const repoBytes = async () => Number((await v.sudo('du -sb /ostree/repo/objects | cut -f1')).trim());
  const bytesBefore = await repoBytes();
  const t0 = Number(await v.ssh('date +%s.%N'));
  const inst = await v.sshStatus(v.sudoCmd('atomic install jq 2>&1'), 900_000);
  t.equal(inst.code, 0, 'atomic install jq succeeds', { out: inst.out });
  if (inst.code !== 0) throw new Error(`atomic install jq failed:\n${inst.out}`);
  const out = inst.out;
  results.install_s = +(Number(await v.ssh('date +%s.%N')) - t0).toFixed(1);
  results.local_commit_bytes = (await repoBytes()) - bytesBefore;
  log(
    `atomic install jq: ${results.install_s} s (guest), the local commit adds ${results.local_commit_bytes} bytes: ${out.trim().split('\n').join(' | ')}`,
  );
  t.match(out, /Staged [0-9a-f]{12} on .*\+jq .*\+libonig5/, 'jq and its dependency chain are staged');
  let deps = await deployments(v);
  t.same(
    deps.map((d) => [d.commit === v1, d.tag, d.booted]),
    [
      [false, 'staged', false],
      [true, null, true],
    ],
    'a staged deployment; the booted one untouched',
  );
  t.equal((await v.sshStatus('command -v jq')).code, 1, 'the running system is not changed');

  await v.reboot(BOOT_LIMIT);
  boots++;
  t.match(await v.ssh('jq --version'), /jq-1\./, 'jq runs after the reboot');
  t.match(
    await v.ssh("dpkg-query -W -f='${Status}' jq libonig5"),
    /^install ok installedinstall ok installed$/,
    'dpkg lists jq and libonig5',
  );
  t.match(await v.ssh('apt list --installed jq 2>/dev/null'), /jq\/.*installed/, 'apt agrees');
  let b = await layering(v);
  t.match(b?.layering, { baseCommit: v1, requested: ['jq'] }, 'atomic status: the base commit and the request');
  t.ok(
    b?.layering?.layeredPackages.some((p) => p.startsWith('libonig5 ')),
    'and the resolved packages',
  );

  // upgrade the base to v2: jq is applied again.
  const up = await v.sudo('atomic upgrade', 900_000);
  t.match(up, /with the layered packages \(\+jq/, 'atomic upgrade re-applies jq on v2', { out: up });
  await v.reboot(BOOT_LIMIT);
  boots++;
  t.match(await v.ssh('cat /usr/lib/os-release'), V2_MARK, 'v2 booted');
  t.match(await v.ssh('jq --version'), /jq-1\./, 'jq is still there');
  b = await layering(v);
  t.equal(b?.layering?.baseCommit, pub.v2, 'layered on v2');

  // uninstall → gone after the reboot.
  await v.sudo('atomic uninstall jq', 900_000);
  await v.reboot(BOOT_LIMIT);
  boots++;
  t.equal((await v.sshStatus('command -v jq')).code, 1, 'jq is gone');
  t.notMatch((await v.sshStatus("dpkg-query -W -f='${Status}' jq")).out, /install ok installed/, 'and dpkg knows it');
  t.equal((await layering(v))?.checksum, pub.v2, 'the plain v2 commit is booted');

  // Refusals: nothing deployed.
  await refused(t, v, 'atomic install failpost', /failpost.*post-installation script/, 'a failing postinst');
  await refused(
    t,
    v,
    'atomic install conflicting',
    new RegExp(`conflicting conflicts with the base image: apt would remove base package\\(s\\) ${BASE_PACKAGE}`),
    'a conflict with a base package',
  );

  // override remove / reset of a base package.
  await v.sudo(`atomic override remove ${BASE_PACKAGE}`, 900_000);
  await v.reboot(BOOT_LIMIT);
  boots++;
  t.equal((await v.sshStatus(`command -v ${BASE_PACKAGE}`)).code, 1, `override remove: ${BASE_PACKAGE} is gone`);
  t.match((await layering(v))?.layering, { removed: [BASE_PACKAGE] });
  await v.sudo(`atomic override reset ${BASE_PACKAGE}`, 900_000);
  await v.reboot(BOOT_LIMIT);
  boots++;
  t.equal((await v.sshStatus(`command -v ${BASE_PACKAGE}`)).code, 0, `override reset: ${BASE_PACKAGE} is back`);

  // A power cut while atomic install runs dpkg: the previous deployment boots intact.
  const booted = (await deployments(v)).find((d) => d.booted)!.commit;
  const r = await v.cutPowerWhen('atomic install jq', /atomic: installing/);
  t.ok(r.matched, 'power cut during atomic install (after the plan, while dpkg runs)', { out: r.out });
  v = await boot('after the power cut during atomic install');
  deps = await deployments(v);
  t.equal(deps.find((d) => d.booted)?.commit, booted, 'the previous deployment booted');
  t.notOk(
    deps.some((d) => d.tag === 'staged'),
    'no staged deployment',
  );
  t.equal((await v.sshStatus('timeout 100 systemctl is-system-running --wait')).out.trim(), 'running');
  const again = await v.sudo('atomic install jq', 900_000);
  t.match(again, /\+jq/, 'atomic install works again (the stale transaction is cleaned)');
  t.equal((await v.sudo('ls -A /sysroot/ostree/atomic-layering | wc -l')).trim(), '0');
  const fsck = await v.sudo('ostree fsck 2>&1; echo "fsck exit $?"', 1_200_000);
  t.match(fsck, /fsck exit 0$/m, 'ostree fsck: every object intact', { out: fsck });
  await v.stop();

  results.boots = boots;
  results.total_s = Math.round((Date.now() - started) / 1000);
  writeFileSync(join(DIR, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  log(`results: ${JSON.stringify(results)}`);
});
