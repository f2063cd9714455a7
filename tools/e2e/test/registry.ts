/**
 * Day 2 the bootc way, proven in a VM: the OS is an image in a registry (Debian's
 * docker-registry on the host, behind a proxy that counts what the guest pulls).
 * A disk made from the v1 image boots; v2 (one added package, one changed file,
 * one new kargs.d argument) is pushed; `atomic upgrade --check` sees it; a power
 * cut mid-pull changes nothing; `atomic upgrade -r` pulls only the changed layers
 * and boots v2 with v1 as rollback; `atomic db diff` names the added package;
 * `atomic rollback -r` boots v1; `atomic switch` moves to the server variant's
 * image; a power cut mid-deploy leaves it intact; an unsigned image under a
 * signed-only policy is refused and nothing changes. `atomic status --json` is
 * validated against the tool's own schema at every step. One disk, six boots.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vm } from '../src/vm.js';
import { RegistryProxy, startRegistry, type Registry } from '../src/registry.js';
import { BUILD, commitInfo, diskImage, PASSWORD, ROOT, testConfig, VARIANT } from './fixtures/images.js';
import {
  fetchDeb,
  gpgKey,
  makeV2Tree,
  ostree,
  ostreeCommit,
  PACKAGE,
  UNOWNED_FILE,
  V2_KARG,
  V2_MARK,
} from './fixtures/update.js';
import { atomicStatus, runAndReboot } from './fixtures/guest.js';

const BOOT_LIMIT = 600_000;
// A pull and import under TCG: minutes (the import reads every layer of the image).
const COMMAND_LIMIT = 1_200_000;
const SERVER_VARIANT = process.env.REGISTRY_SWITCH_VARIANT ?? 'server';
const DIR = join(BUILD, 'registry-test');
const started = Date.now();
const log = (s: string) =>
  process.stderr.write(`registry-test ${VARIANT} [${Math.round((Date.now() - started) / 1000)} s]: ${s}\n`);

if (!process.env.DEBIAN_ATOMIC_REGISTRY_TEST) {
  t.plan(0, 'the registry test is slow: run it with make registry-test (DEBIAN_ATOMIC_REGISTRY_TEST=1)');
  process.exit(0);
}
t.setTimeout(3 * 3600 * 1000);

interface Wrapped {
  commit: string;
  manifest: string;
  layers: { digest: string; size: number; components: string[] }[];
  changedLayers?: number;
}

function ociWrap(repo: string, ref: string, out: string, previous?: string): Wrapped {
  const args = [
    '--quiet',
    '--repo',
    repo,
    '--ref',
    ref,
    '--output',
    out,
    ...(previous ? ['--previous', previous] : []),
  ];
  const r = spawnSync('node', [join(ROOT, 'tools/oci-wrap/dist/bin.js'), ...args], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`oci-wrap failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Wrapped;
}

function push(from: string, to: string): void {
  execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', from, to], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

let registry: Registry | undefined;
let proxy: RegistryProxy | undefined;
let vm: Vm | undefined;
let boots = 0;
const results: Record<string, unknown> = {};

t.teardown(async () => {
  await vm?.kill();
  await proxy?.close();
  await registry?.stop();
});

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
    timeout: 1800,
  });
  await vm.start();
  const ms = await vm.waitForSsh(BOOT_LIMIT);
  log(`boot ${boots} (${why}): SSH after ${Math.round(ms / 1000)} s`);
  return vm;
}

/** Schema-checked status, and a command that reboots (counted in boots). */
const status = atomicStatus;
async function reboot(v: Vm, cmd: string): Promise<string> {
  const out = await runAndReboot(v, cmd, { command: COMMAND_LIMIT, boot: BOOT_LIMIT });
  boots++;
  return out;
}

t.test(`${VARIANT}: upgrade, rollback and switch from a registry; power cuts; signature policy`, async (t) => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  const v1Info = commitInfo();

  registry = await startRegistry(join(DIR, 'storage'));
  proxy = new RegistryProxy(registry.host);
  const counted = proxy;
  const port = await proxy.listen('127.0.0.1');
  const guestRegistry = `10.0.2.2:${port}`;
  const baseImage = `debian-atomic/${VARIANT}:latest`;
  const serverImage = `debian-atomic/${SERVER_VARIANT}:latest`;

  // v1: the variant's commit as an image, pushed; the disk made from the registry.
  const oci = join(DIR, 'oci');
  const w1 = ociWrap(join(ROOT, 'build/repo'), v1Info.ref, `oci:${oci}:v1`);
  push(`oci:${oci}:v1`, `docker://${registry.host}/${baseImage}`);
  const config = join(DIR, 'config.yaml');
  writeFileSync(config, `${readFileSync(testConfig().config, 'utf8')}image: docker://${guestRegistry}/${baseImage}\n`);
  const image = diskImage([
    '--oci',
    `docker://${registry.host}/${baseImage}`,
    '--no-tls-verify',
    '--config',
    config,
    '--format',
    'qcow2',
    '--output',
    join(DIR, 'disk.qcow2'),
  ]);
  t.equal(image.commit, w1.commit, 'the disk holds v1, imported from the registry');
  log(`v1 ${w1.commit.slice(0, 12)} (${w1.layers.length} layers) pushed; disk made`);

  const booting = boot('v1, first boot');
  booting.catch(() => undefined);

  // v2 while v1 boots: the package, a changed file no package owns, a kargs.d argument.
  const v2Repo = join(DIR, 'repo');
  await ostree(v2Repo, ['init', '--mode=archive']).catch(async () => {
    mkdirSync(v2Repo, { recursive: true });
    await ostree(v2Repo, ['init', '--mode=archive']);
  });
  await ostree(v2Repo, ['pull-local', join(ROOT, 'build/repo'), v1Info.commit], [join(ROOT, 'build/repo')]);
  await ostree(v2Repo, ['refs', `--create=${v1Info.ref}`, v1Info.commit]);
  const deb = fetchDeb(PACKAGE);
  const tree = join(DIR, 'v2-tree');
  makeV2Tree(join(BUILD, 'rootfs'), tree, deb, 'unowned');
  // v2 one hour after v1: an update is never older than what it replaces.
  process.env.SOURCE_DATE_EPOCH = String(
    (v1Info as ReturnType<typeof commitInfo> & { timestamp: number }).timestamp + 3600,
  );
  const c2 = ostreeCommit(['--repo', v2Repo, '--ref', v1Info.ref, tree]);
  rmSync(tree, { recursive: true, force: true });
  const w2 = ociWrap(v2Repo, v1Info.ref, `oci:${oci}:v2`, `oci:${oci}:v1`);
  t.equal(w2.commit, c2.commit, 'v2 wrapped');
  const v1Layers = new Set(w1.layers.map((l) => l.digest));
  const changed = w2.layers.filter((l) => !v1Layers.has(l.digest));
  const debBytes = readFileSync(deb).length;
  results.v2_changed_layers = changed.map((l) => ({ size: l.size, components: l.components }));
  t.ok(
    changed.length <= 2,
    `a one-package update changes at most 2 layers (${changed.length}: ${changed.map((l) => `${l.components.join(',') || 'commit'} ${l.size} B`).join('; ')})`,
  );

  let v = await booting;
  // The guest reaches the registry over plain HTTP: registries.conf says so, as a user would.
  await v.sudo(
    `mkdir -p /etc/containers/registries.conf.d && printf '[[registry]]\\nlocation = "${guestRegistry}"\\ninsecure = true\\n' > /etc/containers/registries.conf.d/50-test.conf`,
  );
  await v.sudo('echo edited > /etc/debian-atomic-test && echo kept > /var/debian-atomic-test');
  let s = await status(t, v, 'v1');
  t.equal(s.status.booted?.checksum, w1.commit, 'v1 booted');
  t.same(
    s.status.booted?.origin,
    { type: 'image', image: `docker://${guestRegistry}/${baseImage}`, digest: w1.manifest },
    'its origin: the registry image and the digest it was made from',
  );
  t.match(
    await v.ssh('atomic status'),
    new RegExp(`docker://${guestRegistry.replace(/\./g, '\\.')}/`),
    'atomic status names the image',
  );

  // Nothing new yet, then v2 pushed.
  const none = await v.sshStatus(v.sudoCmd('atomic upgrade --check'), COMMAND_LIMIT);
  t.match(none.out, /No update available/, 'before the push: no update available', { out: none.out });
  push(`oci:${oci}:v2`, `docker://${registry.host}/${baseImage}`);
  counted.reset();
  const check = await v.sshStatus(v.sudoCmd('atomic upgrade --check'), COMMAND_LIMIT);
  t.equal(check.code, 0, 'atomic upgrade --check succeeds', { out: check.out });
  t.match(check.out, w2.manifest, 'atomic upgrade --check reports the new image digest', { out: check.out });
  const checkBlobs = [...counted.blobsServed.keys()].filter((d) => w2.layers.some((l) => l.digest === d));
  t.same(checkBlobs, [], '--check downloads no layer');
  s = await status(t, v, 'after --check');
  t.equal(s.status.staged ?? null, null, '--check stages nothing');

  // Power cut 1: mid-pull (throttled; the power goes at 40 % of the changed layers' bytes).
  const changedBytes = changed.reduce((n, l) => n + l.size, 0);
  counted.reset();
  counted.throttle = Math.max(64 * 1024, Math.round(changedBytes / 20));
  let cutAt = 0;
  const cut1 = new Promise<void>((resolve) => {
    counted.onBytes = (n) => {
      if (!cutAt && n >= changedBytes * 0.4) {
        cutAt = n;
        void v.kill().then(resolve);
      }
    };
  });
  const pulling = v.sshStatus(v.sudoCmd('atomic upgrade'), COMMAND_LIMIT);
  await Promise.race([cut1, pulling.then(() => v.kill())]);
  await pulling;
  counted.onBytes = undefined;
  counted.throttle = 0;
  // Blobs whose download finished before the cut stay in the cache: the next pull does not fetch them again.
  const beforeCut = counted.blobsServed;
  t.ok(cutAt, `power cut 1: mid-pull, after ${cutAt} of ${changedBytes} bytes`);
  results.cut1 = `mid-pull after ${cutAt} of ${changedBytes} bytes`;
  v = await boot('after the power cut mid-pull');
  s = await status(t, v, 'after cut 1');
  t.equal(s.status.booted?.checksum, w1.commit, 'after cut 1: v1 booted');
  t.equal(s.status.staged ?? null, null, 'after cut 1: nothing staged');
  t.equal(
    await v.ssh('cat /etc/debian-atomic-test /var/debian-atomic-test'),
    'edited\nkept\n',
    'after cut 1: /etc edit and /var data intact',
  );

  // The upgrade: only the changed layers come over the wire.
  counted.reset();
  const guestStart = Number(await v.ssh('date +%s.%N'));
  const up = await reboot(v, 'atomic upgrade -r');
  const served = counted.blobsServed;
  const layersPulled = w2.layers.filter((l) => served.has(l.digest));
  const layerBytes = layersPulled.reduce((n, l) => n + (served.get(l.digest) ?? 0), 0);
  results.upgrade = {
    layers_completed_before_cut: changed.filter((l) => (beforeCut.get(l.digest) ?? 0) >= l.size).length,
    layers_pulled: layersPulled.length,
    layer_bytes: layerBytes,
    all_bytes: counted.bytes,
    requests: counted.requests.length,
    deb_bytes: debBytes,
    ratio_to_deb: +(counted.bytes / debBytes).toFixed(1),
  };
  log(`atomic upgrade -r: ${JSON.stringify(results.upgrade)}: ${up.trim().split('\n').slice(-4).join(' | ')}`);
  const complete = (l: { digest: string; size: number }) => (beforeCut.get(l.digest) ?? 0) >= l.size;
  const changedDigests = new Set(changed.map((l) => l.digest));
  t.ok(
    layersPulled.every((l) => changedDigests.has(l.digest)),
    `atomic upgrade pulled changed layers only (${layersPulled.length} of ${changed.length}), ${counted.bytes} bytes in all for a ${debBytes}-byte .deb`,
  );
  t.same(
    changed.filter((l) => !layersPulled.includes(l)).filter((l) => !complete(l)),
    [],
    'every changed layer it did not pull had been downloaded whole before the power cut (the cache kept it)',
  );
  t.ok(layersPulled.length <= 2, 'at most 2 layers');
  s = await status(t, v, 'v2');
  t.equal(s.status.booted?.checksum, w2.commit, 'v2 booted');
  t.equal(s.status.rollback?.checksum, w1.commit, 'v1 is the rollback');
  t.equal(
    s.status.booted?.origin?.type === 'image' ? s.status.booted.origin.digest : null,
    w2.manifest,
    "v2's origin records v2's digest",
  );
  const bootedAt =
    Number(
      await v.ssh(
        `echo $(( $(sed -n 's/^btime //p' /proc/stat) * 1000000 + $(systemctl show -P ActiveEnterTimestampMonotonic multi-user.target) ))`,
      ),
    ) / 1e6;
  results.upgrade_to_booted_v2_s = Math.round(bootedAt - guestStart);
  t.match(
    await v.ssh(`${PACKAGE} -L 1 /usr/share/debian-atomic`),
    /treefile\.json/,
    `v2: the new package runs (${PACKAGE})`,
  );
  t.match(await v.ssh(`cat /${UNOWNED_FILE}`), V2_MARK, 'v2: the changed file');
  t.ok((await v.cmdline()).includes(V2_KARG), `v2 booted with its kargs.d argument ${V2_KARG}`);
  t.equal(
    await v.ssh('cat /etc/debian-atomic-test /var/debian-atomic-test'),
    'edited\nkept\n',
    '/etc edit and /var data survived the upgrade',
  );
  const diff = JSON.parse(await v.ssh('atomic db diff --json')) as {
    added: { name: string }[];
    removed: unknown[];
    upgraded: unknown[];
    downgraded: unknown[];
  };
  t.same(
    [diff.added.map((p) => p.name), diff.removed, diff.upgraded, diff.downgraded],
    [[PACKAGE], [], [], []],
    `atomic db diff: exactly ${PACKAGE} added`,
  );
  t.match(await v.ssh('atomic db diff'), new RegExp(`\\b${PACKAGE}\\b`), 'atomic db diff (text) names it');
  t.match(
    await v.sshStatus("dpkg-query -W -f='${Status}' " + PACKAGE).then((r) => r.out),
    /install ok installed/,
    'dpkg knows it',
  );

  // Rollback.
  const rb = await reboot(v, 'atomic rollback -r');
  t.match(rb, /previous deployment is now the default/, 'atomic rollback -r');
  s = await status(t, v, 'rolled back');
  t.equal(s.status.booted?.checksum, w1.commit, 'after atomic rollback -r: v1 booted');
  t.equal(s.status.rollback?.checksum, w2.commit, 'v2 is the rollback');
  t.notOk((await v.cmdline()).includes(V2_KARG), "v1 boots with v1's kernel arguments");

  // Switch to another variant's image (read only now: make registry-test built it first).
  const serverCommit = join(ROOT, 'build', SERVER_VARIANT, 'commit.json');
  if (!existsSync(serverCommit))
    throw new Error(`${serverCommit} is missing: make registry-test builds it (make VARIANT=${SERVER_VARIANT} commit)`);
  const server = JSON.parse(readFileSync(serverCommit, 'utf8')) as { ref: string; commit: string };
  const ws = ociWrap(join(ROOT, 'build/repo'), server.ref, `oci:${oci}:server`);
  push(`oci:${oci}:server`, `docker://${registry.host}/${serverImage}`);
  counted.reset();
  const sw = await reboot(v, `atomic switch docker://${guestRegistry}/${serverImage} -r`);
  results.switch = { bytes: counted.bytes, image_bytes: ws.layers.reduce((n, l) => n + l.size, 0) };
  log(`atomic switch: ${JSON.stringify(results.switch)}: ${sw.trim().split('\n').slice(-3).join(' | ')}`);
  s = await status(t, v, 'switched');
  t.equal(s.status.booted?.checksum, ws.commit, `after atomic switch -r: the ${SERVER_VARIANT} commit is booted`);
  t.same(
    s.status.booted?.origin,
    { type: 'image', image: `docker://${guestRegistry}/${serverImage}`, digest: ws.manifest },
    'its origin: the new image',
  );
  t.equal(s.status.rollback?.checksum, w1.commit, 'the previous deployment is the rollback');
  t.equal(
    await v.ssh('cat /etc/debian-atomic-test /var/debian-atomic-test'),
    'edited\nkept\n',
    '/etc edit and /var data survived the switch',
  );

  // Power cut 2: mid-deploy (a switch back to the base image, cut when the deploy starts).
  // A watcher in the guest says when `ostree admin deploy --stage` has been at work for a second.
  const watch = `(while ! pgrep -f 'ostree admin deploy' >/dev/null; do sleep 0.1; done; sleep 1; echo DEPLOY-RUNNING) &`;
  const r2 = await v.cutPowerWhen(`${watch} atomic switch docker://${guestRegistry}/${baseImage}`, /DEPLOY-RUNNING/);
  t.ok(r2.matched, 'power cut 2: mid-deploy', { out: r2.out });
  results.cut2 = r2.matched ? 'at the deploy step' : 'after the command: marker not seen';
  v = await boot('after the power cut mid-deploy');
  s = await status(t, v, 'after cut 2');
  t.equal(s.status.booted?.checksum, ws.commit, `after cut 2: the ${SERVER_VARIANT} deployment boots, intact`);
  t.equal(s.status.staged ?? null, null, 'after cut 2: no half-staged deployment');
  t.equal(
    (await v.sshStatus('timeout 100 systemctl is-system-running --wait')).out.trim(),
    'running',
    'after cut 2: systemctl is-system-running',
  );

  // Signed-only policy: an unsigned image is refused and nothing changes.
  const key = await gpgKey('Debian Atomic Images (test) <images@example.invalid>');
  const pub = readFileSync(key.pubKey, 'utf8');
  rmSync(key.home, { recursive: true, force: true });
  const policy = {
    default: [{ type: 'insecureAcceptAnything' }],
    transports: {
      docker: {
        [guestRegistry]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/etc/containers/test-images.asc' }],
      },
    },
  };
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  await v.sudo(
    `echo ${b64(pub)} | base64 -d > /etc/containers/test-images.asc && echo ${b64(JSON.stringify(policy, null, 2))} | base64 -d > /etc/containers/policy.json`,
  );
  const before = await status(t, v, 'before the refused switch');
  const refused = await v.sshStatus(v.sudoCmd(`atomic switch docker://${guestRegistry}/${baseImage}`), COMMAND_LIMIT);
  t.not(refused.code, 0, 'an unsigned image under a signed-only policy: atomic switch fails');
  t.match(refused.out, /polic|signature/i, 'the error names the signature policy', { out: refused.out });
  const after = await status(t, v, 'after the refused switch');
  t.same(after, before, 'nothing changed: the same deployments');

  // The last boot's repository is whole.
  const fsck = await v.sudo('ostree fsck 2>&1; echo "fsck exit $?"', 1_200_000);
  t.match(fsck, /fsck exit 0$/m, 'ostree fsck: every object of every deployment intact', { out: fsck.slice(-2000) });
  await v.stop();
  results.boots = boots;
  results.total_s = Math.round((Date.now() - started) / 1000);
  writeFileSync(join(DIR, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  log(`results: ${JSON.stringify(results)}`);
});
