/**
 * The reason Debian Atomic exists, proven in a VM as Fedora's kola does: an
 * installed system updates as one unit over HTTP from a signed repository,
 * reboots into the update, and rolls back at once; /etc edits and /var data
 * survive every step. Tampered updates are refused; power cuts at five points
 * of an update always leave a bootable, intact deployment. One disk, booted
 * eight times (no -snapshot: the upgrade must persist). Everything is checked
 * from inside the guest over SSH.
 */
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vm } from '../src/vm.js';
import { RepoServer } from '../src/serve.js';
import { BUILD, commitInfo, diskImage, PASSWORD, ROOT, testConfig, VARIANT } from './fixtures/images.js';
import {
  cleanupUpdate,
  measurePull,
  PACKAGE,
  publishV1,
  releasedImage,
  publishV2,
  UPDATE_DIR,
  V2_KARG,
  V2_MARK,
  type Published,
  type Release,
} from './fixtures/update.js';

const BOOT_LIMIT = 600_000;
const REMOTE = 'debian-atomic';
const started = Date.now();
const log = (s: string) =>
  process.stderr.write(`update-test ${VARIANT} [${Math.round((Date.now() - started) / 1000)} s]: ${s}\n`);

interface Deployment {
  booted: boolean;
  commit: string;
  serial: number;
  tag: string | null;
}

function parseStatus(text: string): Deployment[] {
  return [...text.matchAll(/^([* ]) \S+ ([0-9a-f]{64})\.(\d+)(?: \((\w+)\))?$/gm)].map((m) => ({
    booted: m[1] === '*',
    commit: m[2]!,
    serial: Number(m[3]),
    tag: m[4] ?? null,
  }));
}

// Eight boots under TCG (~3-4 min each): run by `make update-test` (check-slow), not by every `make check`.
if (!process.env.DEBIAN_ATOMIC_UPDATE_TEST) {
  t.plan(0, 'the update test is slow: run it with make update-test (DEBIAN_ATOMIC_UPDATE_TEST=1)');
  process.exit(0);
}
t.setTimeout(3 * 3600 * 1000);

const server = new RepoServer('');
let pub: Published | undefined;
let release: Release | undefined;
let vm: Vm | undefined;
let boots = 0;
const serialLogs: string[] = [];
const results: Record<string, unknown> = {};

t.teardown(async () => {
  await vm?.kill();
  await server.close();
  cleanupUpdate(release);
});

async function boot(why: string): Promise<Vm> {
  boots++;
  const serialLog = join(UPDATE_DIR, `serial-${boots}.log`);
  serialLogs.push(serialLog);
  const { key } = testConfig();
  vm = new Vm({
    disk: join(UPDATE_DIR, 'disk.qcow2'),
    format: 'qcow2',
    serialLog,
    sshKey: key,
    user: 'debian',
    password: PASSWORD,
    timeout: 1200,
  });
  await vm.start();
  const ms = await vm.waitForSsh(BOOT_LIMIT);
  log(`boot ${boots} (${why}): SSH after ${Math.round(ms / 1000)} s`);
  return vm;
}

/** What every boot must show: a sane deployment list, the booted one v1 or v2 and consistent, the user's data. */
async function checkIntact(t: Test, v: Vm, expect: 'v1' | 'v2' | 'either'): Promise<'v1' | 'v2'> {
  const p = pub!;
  const status = await v.ssh('ostree admin status');
  const deps = parseStatus(status);
  const booted = deps.filter((d) => d.booted);
  t.equal(booted.length, 1, 'ostree admin status shows exactly one booted deployment', { status });
  const which = booted[0]?.commit === p.v2 ? 'v2' : booted[0]?.commit === p.v1 ? 'v1' : null;
  t.ok(which, `the booted deployment is v1 or v2 (${which ?? booted[0]?.commit})`, { status });
  if (expect !== 'either') t.equal(which, expect, `booted ${expect}`, { status });
  t.ok(
    deps.every((d) => d.commit === p.v1 || d.commit === p.v2),
    'every deployment is v1 or v2',
    { status },
  );
  const osRelease = await v.ssh('cat /usr/lib/os-release');
  const hasTree = (await v.sshStatus(`command -v ${PACKAGE} && dpkg-query -W -f='\${Status}' ${PACKAGE}`)).out;
  if (which === 'v2') {
    t.match(osRelease, V2_MARK, 'v2: the changed file is visible');
    t.match(hasTree, /install ok installed/, `v2: ${PACKAGE} is installed and dpkg knows it`);
  } else {
    t.notMatch(osRelease, V2_MARK, 'v1: the file is unchanged');
    t.notMatch(hasTree, /install ok installed/, `v1: no ${PACKAGE}`);
  }
  const state = (await v.sshStatus('timeout 100 systemctl is-system-running --wait')).out.trim();
  t.equal(state, 'running', 'systemctl is-system-running', {
    failed: state === 'running' ? '' : await v.ssh('systemctl --failed --no-legend --plain'),
  });
  t.equal(
    await v.ssh('cat /etc/debian-atomic-test /var/debian-atomic-test'),
    'edited\nkept\n',
    '/etc edit and /var data survived',
  );
  return which ?? 'v1';
}

const other = (w: 'v1' | 'v2') => (w === 'v1' ? pub!.v2 : pub!.v1);
const deployOther = (w: 'v1' | 'v2', extra = '') =>
  `stdbuf -oL -eL ostree admin upgrade --allow-downgrade ${extra} --override-commit=${other(w)}`;

t.test(`${VARIANT}: upgrade over HTTP, reboot, rollback; tampered updates refused; power cuts survived`, async (t) => {
  const { ref, commit: v1, timestamp } = commitInfo() as ReturnType<typeof commitInfo> & { timestamp: number };
  const t0 = Date.now();
  const rel = await publishV1({ v1Repo: join(ROOT, 'build/repo'), ref, v1 });
  release = rel;
  server.root = rel.repo;
  const port = await server.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}/`;
  // The image is made from the published repository: v1 carries its signature there.
  const image = releasedImage(rel, port, REMOTE);
  t.equal(image.commit, v1, 'the image holds v1');

  // Boot 1 (v1) while v2 is built and published, as a release would happen while systems run v1.
  const booting = boot('v1, first boot');
  booting.catch(() => undefined);

  // v2 one hour after v1: an update is never older than what it replaces.
  process.env.SOURCE_DATE_EPOCH = String(timestamp + 3600);
  pub = await publishV2(rel, join(BUILD, 'rootfs'));
  results.publish_s = Math.round((Date.now() - t0) / 1000);
  log(
    `published v1 ${v1.slice(0, 12)} and v2 ${pub.v2.slice(0, 12)} (${pub.v2Version}, delta ${pub.delta ? 'yes' : 'no'}); image built; ${results.publish_s} s`,
  );
  t.ok(pub.delta, 'v2 has a static delta from v1');

  // The host measures what v1 → v2 costs on the wire while the guest boots.
  const measuring = (async () => {
    results.bytes_with_delta = await measurePull({
      v1Repo: join(ROOT, 'build/repo'),
      v1,
      ref,
      url,
      noDelta: false,
      served: () => server.bytes,
    });
    results.bytes_without_delta = await measurePull({
      v1Repo: join(ROOT, 'build/repo'),
      v1,
      ref,
      url,
      noDelta: true,
      served: () => server.bytes,
    });
  })();
  let v = await booting;
  await v.sudo('echo edited > /etc/debian-atomic-test && echo kept > /var/debian-atomic-test');
  t.equal(await checkIntact(t, v, 'v1'), 'v1');
  t.equal(
    (await v.ssh('ostree remote show-url ' + REMOTE)).trim(),
    `http://10.0.2.2:${port}/`,
    'the image updates from the configured remote',
  );
  t.match(
    await v.ssh(`ostree config --repo=/ostree/repo get 'remote "${REMOTE}".gpg-verify'`),
    /true/,
    'with GPG verification on',
  );
  t.match(await v.ssh('atomic status'), /^\* /m, "'atomic status' works");
  await measuring;
  server.reset();
  log(
    `host pull v1 → v2: ${String(results.bytes_with_delta)} bytes with the static delta, ${String(results.bytes_without_delta)} without; ${PACKAGE}.deb is ${pub.debBytes} bytes`,
  );

  // (a) Tampered server: refused, nothing deployed.
  for (const [what, dir, error] of [
    ['v2 signed by a key the image does not trust', pub.wrongKey, /GPG|signature|keyring/i],
    [
      `a changed byte in /usr/bin/${PACKAGE}'s object`,
      pub.corrupt,
      /corrupt|checksum|expected|zlib|incorrect|invalid/i,
    ],
  ] as const) {
    server.root = dir;
    const r = await v.sshStatus(v.sudoCmd('ostree admin upgrade'));
    t.not(r.code, 0, `tampered (${what}): ostree admin upgrade fails`);
    t.match(r.out, error, `tampered (${what}): the error says why`, { out: r.out });
    const deps = parseStatus(await v.ssh('ostree admin status'));
    t.same(
      deps.map((d) => d.commit),
      [v1],
      `tampered (${what}): still only v1 deployed`,
    );
    log(`tampered (${what}): refused: ${r.out.trim().split('\n').pop()}`);
  }
  server.root = pub.repo;

  // Power cut 1: in the middle of the pull (throttled; cut at 40 % of the bytes).
  const full = Number(results.bytes_with_delta);
  server.reset(); // count this pull only, not the refused ones
  server.throttle = Math.max(16 * 1024, Math.round(full / 20));
  let cutAt = 0;
  const cut1 = new Promise<void>((resolve) => {
    server.onBytes = (n) => {
      if (!cutAt && n >= full * 0.4) {
        cutAt = n;
        void v.kill().then(resolve);
      }
    };
  });
  const pulling = v.sshStatus(v.sudoCmd('ostree admin upgrade'));
  await Promise.race([cut1, pulling.then(() => v.kill())]);
  await pulling;
  server.onBytes = undefined;
  server.throttle = 0;
  t.ok(cutAt, `power cut 1: during the pull, after ${cutAt} of ~${full} bytes`);
  results.cut1 = `during the pull, after ${cutAt} of ~${full} bytes`;

  // Boot 2: still v1 after the refused updates and the cut; then the real upgrade.
  v = await boot('after power cut 1 (mid-pull)');
  await checkIntact(t, v, 'v1');
  t.same(
    parseStatus(await v.ssh('ostree admin status')).map((d) => d.commit),
    [v1],
    'only v1 is deployed',
  );
  // A kernel argument of the user's own: an upgrade keeps it (as bootc and rpm-ostree do).
  await v.sudo('ostree admin kargs edit-in-place --append-if-missing=debian_atomic.user=kept');
  server.reset();
  const guestStart = Number(await v.ssh('date +%s.%N'));
  const up = await v.sudo('atomic upgrade', 600_000);
  t.match(
    up,
    new RegExp(`Kernel arguments from the image's kargs\\.d: --karg-append=${V2_KARG.replace(/\./g, '\\.')}`),
    "atomic upgrade applies v2's new kargs.d entry",
  );
  const guestUpgraded = Number(await v.ssh('date +%s.%N'));
  results.guest_upgrade_bytes = server.bytes;
  results.guest_upgrade_requests = server.requests.length;
  results.upgrade_command_s = +(guestUpgraded - guestStart).toFixed(1);
  log(
    `atomic upgrade: ${results.upgrade_command_s} s (guest), ${server.bytes} bytes in ${server.requests.length} requests: ${up.trim().split('\n').join(' | ')}`,
  );
  const pending = parseStatus(await v.ssh('ostree admin status'));
  t.same(
    pending.map((d) => [d.commit, d.booted]),
    [
      [pub.v2, false],
      [v1, true],
    ],
    'v2 deployed as the next boot, v1 booted',
  );
  await v.reboot(BOOT_LIMIT);
  boots++;
  log(`boot ${boots} (into v2)`);
  t.equal(await checkIntact(t, v, 'v2'), 'v2');
  const bootedAt =
    Number(
      await v.ssh(
        `echo $(( $(sed -n 's/^btime //p' /proc/stat) * 1000000 + $(systemctl show -P ActiveEnterTimestampMonotonic multi-user.target) ))`,
      ),
    ) / 1e6;
  results.upgrade_to_booted_v2_s = Math.round(bootedAt - guestStart);
  log(`upgrade start → v2 multi-user.target: ${results.upgrade_to_booted_v2_s} s (guest clock)`);
  t.ok(
    Number(results.upgrade_to_booted_v2_s) > 0,
    `from 'atomic upgrade' to v2 booted (multi-user.target): ${results.upgrade_to_booted_v2_s} s guest time`,
  );
  let deps = parseStatus(await v.ssh('ostree admin status'));
  t.same(
    deps.map((d) => [d.commit, d.tag]),
    [
      [pub.v2, null],
      [v1, 'rollback'],
    ],
    'v2 booted, v1 still listed (rollback)',
  );
  t.match(
    await v.ssh(`${PACKAGE} -L 1 /usr/share/debian-atomic`),
    /treefile\.json/,
    `the new package runs (${PACKAGE})`,
  );
  const v2Args = await v.cmdline();
  t.ok(v2Args.includes(V2_KARG), `v2 booted with its kargs.d argument ${V2_KARG}`);
  t.ok(v2Args.includes('debian_atomic.user=kept'), "and with the user's own argument");

  // Rollback: one word, then reboot → v1.
  t.match(await v.sudo('atomic rollback'), /previous deployment is now the default/);
  deps = parseStatus(await v.ssh('ostree admin status'));
  t.same(
    deps.map((d) => d.commit),
    [v1, pub.v2],
    'after atomic rollback, v1 is the default',
  );
  await v.reboot(BOOT_LIMIT);
  boots++;
  log(`boot ${boots} (rolled back to v1)`);
  t.equal(await checkIntact(t, v, 'v1'), 'v1');
  deps = parseStatus(await v.ssh('ostree admin status'));
  t.same(
    deps.map((d) => [d.commit, d.booted]),
    [
      [v1, true],
      [pub.v2, false],
    ],
    'v1 booted after the rollback, v2 still there',
  );
  t.notOk(
    (await v.cmdline()).some((a) => a.includes(V2_KARG)),
    "v1 boots with its own arguments: not v2's kargs.d",
  );

  // Power cut 2: during the deploy of an upgrade (when ostree merges /etc).
  let which: 'v1' | 'v2' = 'v1';
  let r = await v.cutPowerWhen(deployOther(which), /Copying \/etc changes/);
  t.ok(r.matched, 'power cut 2: during the deploy (at "Copying /etc changes")', { out: r.out });
  results.cut2 = `during the deploy (${r.matched ? 'at "Copying /etc changes"' : 'after the command: marker not seen'})`;
  v = await boot('after power cut 2 (mid-deploy)');
  which = await checkIntact(t, v, 'either');
  results.after_cut2 = which;

  // Power cut 3: right after a deploy returns (new boot entries written, nothing synced by us).
  r = await v.cutPowerWhen(deployOther(which), null);
  t.match(r.out, /Copying \/etc changes/, 'power cut 3: right after a complete deploy', { out: r.out });
  const deployed3 = other(which) === pub.v2 ? 'v2' : 'v1';
  results.cut3 = 'right after ostree admin upgrade returned';
  v = await boot('after power cut 3 (right after deploy)');
  which = await checkIntact(t, v, deployed3);
  results.after_cut3 = which;

  // Power cut 4: during the finalize of a staged deployment (ostree-finalize-staged at shutdown).
  await v.sudo(deployOther(which, '--stage'), 600_000);
  t.match(await v.ssh('ostree admin status'), /\(staged\)/, 'a staged deployment is waiting for shutdown');
  const serial = serialLogs[serialLogs.length - 1]!;
  const before = readFileSync(serial, 'utf8').length;
  await v.sshStatus(v.sudoCmd('systemctl reboot'));
  const deadline = Date.now() + 120_000;
  let seen = false;
  while (Date.now() < deadline && !seen) {
    // eslint-disable-next-line no-control-regex
    const console = readFileSync(serial, 'utf8')
      .slice(before)
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    // systemd shortens long unit names on the console ("ostree-finalize-staged.ser…").
    seen = /Stopping ostree-finalize-staged|ostree-finalize-staged\.service\/stop/.test(console);
    if (!seen) await new Promise((res) => setTimeout(res, 100));
  }
  await v.kill();
  t.ok(seen, 'power cut 4: during the finalize of the staged deployment (seen on the console)');
  results.cut4 = `during ostree-finalize-staged at shutdown (${seen ? 'seen on the console' : 'not seen: cut after 120 s'})`;
  v = await boot('after power cut 4 (mid-finalize)');
  which = await checkIntact(t, v, 'either');
  results.after_cut4 = which;

  // Power cut 5: right after `atomic rollback` swapped the boot entries.
  const depsBefore = parseStatus(await v.ssh('ostree admin status'));
  if (depsBefore.length < 2) await v.sudo(deployOther(which), 600_000);
  const rollbackTo = parseStatus(await v.ssh('ostree admin status'))[1]!.commit === pub.v2 ? 'v2' : 'v1';
  r = await v.cutPowerWhen('atomic rollback', null);
  t.match(r.out, /previous deployment is now the default/, 'power cut 5: right after atomic rollback', { out: r.out });
  results.cut5 = 'right after atomic rollback returned';
  v = await boot('after power cut 5 (right after rollback)');
  which = await checkIntact(t, v, rollbackTo);
  results.after_cut5 = which;

  // The last boot: the whole repository checks out (every object of every deployment).
  const fsckStart = Date.now();
  const fsck = await v.sudo('ostree fsck 2>&1; echo "fsck exit $?"', 1_200_000);
  t.match(fsck, /fsck exit 0$/m, 'ostree fsck: the repository (every object of every deployment) is intact', {
    out: fsck,
  });
  results.fsck_s = Math.round((Date.now() - fsckStart) / 1000);
  await v.stop();

  results.boots = boots;
  results.total_s = Math.round((Date.now() - started) / 1000);
  results.package = { name: PACKAGE, deb_bytes: pub.debBytes, installed_kib: pub.debInstalledKiB };
  writeFileSync(join(UPDATE_DIR, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  log(`results: ${JSON.stringify(results)}`);
});
