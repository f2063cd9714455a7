/**
 * Derived images, proven in VMs (make derived-test): examples/derived/Containerfile built with a
 * real podman (trixie's 5.4, scripts/podman.sh) FROM the variant's image in Debian's
 * docker-registry on the host: apt-get installs a package with its dependencies, a file goes in
 * /etc, a system user is added, a unit enabled, and `atomic container lint` passes. Then:
 * - disk-image --oci makes a disk of the derived image, which boots with all of it there;
 * - a machine made from the base image runs `atomic switch` to the derived image and reboots
 *   into it, pulling the derived layers only (the base's are in its layer cache);
 * - the image is rebuilt with one more package and `atomic upgrade -r` pulls the changed layers only.
 * Measured: the podman build, the bytes of the switch and of the upgrade. Two disks, four boots.
 */
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vm } from '../src/vm.js';
import { RegistryProxy, startRegistry, type Registry } from '../src/registry.js';
import { BUILD, diskImage, PASSWORD, ROOT, testConfig, VARIANT } from './fixtures/images.js';
import { atomicStatus, runAndReboot } from './fixtures/guest.js';

const BOOT_LIMIT = 600_000;
const COMMAND_LIMIT = 1_800_000;
const DIR = join(BUILD, 'derived-test');
const PODMAN =
  process.env.PODMAN && process.env.PODMAN !== 'scripts/podman.sh'
    ? process.env.PODMAN
    : join(ROOT, 'scripts/podman.sh');
const EXAMPLE = join(ROOT, 'examples/derived');
// What the example installs (jq brings libjq1 and libonig5, which the base has not), and the one more package of the rebuild.
const PACKAGES = 'jq htop';
const MORE = 'tree';
const started = Date.now();
const log = (s: string) =>
  process.stderr.write(`derived-test ${VARIANT} [${Math.round((Date.now() - started) / 1000)} s]: ${s}\n`);

if (!process.env.DEBIAN_ATOMIC_DERIVED_TEST) {
  t.plan(0, 'the derived-image test is slow: run it with make derived-test (DEBIAN_ATOMIC_DERIVED_TEST=1)');
  process.exit(0);
}
t.setTimeout(3 * 3600 * 1000);

function podman(args: string[]): { out: string; seconds: number } {
  const start = Date.now();
  // Its own storage and blob cache (scripts/podman.sh): what a push reuses is what this run's registry has.
  const r = spawnSync(PODMAN, args, {
    encoding: 'utf8',
    cwd: ROOT,
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PODMAN_STATE: join(DIR, 'podman') },
  });
  if (r.status !== 0)
    throw new Error(`podman ${args[0]} failed (${r.status}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return { out: `${r.stdout}${r.stderr}`, seconds: (Date.now() - start) / 1000 };
}

function layersOf(image: string): string[] {
  const raw = JSON.parse(
    execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', image], { encoding: 'utf8' }),
  ) as { layers: { digest: string }[] };
  return raw.layers.map((l) => l.digest);
}

function digestOf(image: string): string {
  return (
    JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', image], { encoding: 'utf8' })) as {
      Digest: string;
    }
  ).Digest;
}

/** podman build of the example FROM base, pushed as image; its build time and digest. */
function buildDerived(
  base: string,
  image: string,
  packages: string,
): { seconds: number; digest: string; lint: string } {
  const tag = 'localhost/debian-atomic-derived-test:latest';
  const b = podman([
    'build',
    '--tls-verify=false',
    '--network=host',
    '--build-arg',
    `BASE=${base}`,
    '--build-arg',
    `PACKAGES=${packages}`,
    '-t',
    tag,
    EXAMPLE,
  ]);
  const digestFile = join(DIR, 'digest');
  podman(['push', '--tls-verify=false', '--digestfile', digestFile, tag, `docker://${image}`]);
  const lint = /STEP \d+\/\d+: RUN atomic container lint\n([\s\S]*?)(?:COMMIT|-->)/.exec(b.out)?.[1] ?? '';
  return { seconds: b.seconds, digest: readFileSync(digestFile, 'utf8').trim(), lint };
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

async function boot(disk: string, why: string): Promise<Vm> {
  boots++;
  const { key } = testConfig();
  vm = new Vm({
    disk,
    format: 'qcow2',
    serialLog: join(DIR, `serial-${boots}.log`),
    sshKey: key,
    user: 'debian',
    password: PASSWORD,
    timeout: 3600,
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

/** What the Containerfile made, seen from inside the booted guest. */
async function checkDerived(t: Test, v: Vm, step: string, packages: string[]): Promise<void> {
  t.match(
    await v.ssh(`echo '{"a":[1,2]}' | jq -c .a`),
    /^\[1,2\]$/m,
    `${step}: jq (from the Containerfile's apt-get) runs`,
  );
  const dpkg = await v.ssh(
    `dpkg-query -W -f='\${Package} \${Status}\\n' ${[...packages, 'libjq1', 'libonig5'].join(' ')}`,
  );
  for (const p of [...packages, 'libjq1', 'libonig5'])
    t.match(dpkg, new RegExp(`^${p} install ok installed$`, 'm'), `${step}: dpkg knows ${p}`);
  t.match(await v.ssh('dpkg -l jq'), /^ii {2}jq /m, `${step}: dpkg -l lists jq`);
  t.equal(
    (await v.ssh('systemctl is-active hello.service').catch((e: Error) => e.message)).trim(),
    'active',
    `${step}: the unit the Containerfile enabled is active`,
  );
  t.equal(
    (await v.ssh('cat /run/hello/greeting')).trim(),
    'Hello from a derived Debian Atomic image',
    `${step}: it ran as its user and read /etc/hello.conf`,
  );
  t.match(
    await v.ssh('cat /etc/hello.conf'),
    /^greeting=Hello from a derived Debian Atomic image$/m,
    `${step}: the file the Containerfile put in /etc`,
  );
  t.match(
    await v.ssh('getent passwd hello'),
    /^hello:x:\d+:\d+::\/nonexistent:\/usr\/sbin\/nologin$/m,
    `${step}: the user the Containerfile added`,
  );
  t.match(await v.ssh('stat -c %U /run/hello/greeting'), /^hello$/m, `${step}: the unit ran as that user`);
  const apt = await v.sshStatus('apt-cache policy jq');
  t.match(apt.out, /Installed: \S+/, `${step}: apt agrees (apt-cache policy jq)`);
}

t.test(
  `${VARIANT}: a Containerfile FROM the image, built with podman, booted from a disk, switched to and upgraded`,
  async (t) => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    registry = await startRegistry(join(DIR, 'storage'));
    proxy = new RegistryProxy(registry.host);
    const counted = proxy;
    const port = await proxy.listen('127.0.0.1');
    const guestRegistry = `10.0.2.2:${port}`;
    const baseName = `debian-atomic/${VARIANT}:latest`;
    const derivedName = `debian-atomic/${VARIANT}-derived:latest`;
    const base = `${registry.host}/${baseName}`;
    const derived = `${registry.host}/${derivedName}`;

    // The variant's image (make oci), pushed; the example built FROM it and pushed.
    execFileSync(
      'skopeo',
      ['copy', '--quiet', '--dest-tls-verify=false', `oci:${join(BUILD, 'oci')}:latest`, `docker://${base}`],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const baseLayers = layersOf(`docker://${base}`);
    const d1 = buildDerived(base, derived, PACKAGES);
    const d1Layers = layersOf(`docker://${derived}`);
    results.podman_build_s = d1.seconds;
    log(
      `podman build of examples/derived: ${d1.seconds.toFixed(1)} s; ${d1Layers.length} layers (${baseLayers.length} of the base)`,
    );
    t.same(
      d1Layers.slice(0, baseLayers.length),
      baseLayers,
      'the derived image keeps the base layers as they are (same digests)',
    );
    t.ok(d1Layers.length > baseLayers.length, `it adds layers (${d1Layers.length - baseLayers.length})`);
    t.notMatch(d1.lint, /^error:/m, 'atomic container lint (the last RUN) found no error', { lint: d1.lint });

    // 1. A disk of the derived image.
    const { config } = testConfig();
    const derivedConfig = join(DIR, 'derived.yaml');
    writeFileSync(derivedConfig, `${readFileSync(config, 'utf8')}image: docker://${guestRegistry}/${derivedName}\n`);
    const disk1 = diskImage([
      '--oci',
      `docker://${derived}`,
      '--no-tls-verify',
      '--config',
      derivedConfig,
      '--format',
      'qcow2',
      '--output',
      join(DIR, 'derived.qcow2'),
    ]);
    log(`disk-image --oci of the derived image: commit ${String(disk1.commit).slice(0, 12)}`);
    let v = await boot(join(DIR, 'derived.qcow2'), 'disk of the derived image');
    let s = await status(t, v, 'derived disk');
    t.equal(s.status.booted?.checksum, disk1.commit, 'the derived commit is booted');
    t.same(
      s.status.booted?.origin,
      { type: 'image', image: `docker://${guestRegistry}/${derivedName}`, digest: d1.digest },
      'its origin: the derived image and its digest',
    );
    await checkDerived(t, v, 'derived disk', PACKAGES.split(' '));
    await v.kill();

    // 2. A machine of the base image switches to the derived image.
    const baseConfig = join(DIR, 'base.yaml');
    writeFileSync(baseConfig, `${readFileSync(config, 'utf8')}image: docker://${guestRegistry}/${baseName}\n`);
    const disk2 = diskImage([
      '--oci',
      `docker://${base}`,
      '--no-tls-verify',
      '--config',
      baseConfig,
      '--format',
      'qcow2',
      '--output',
      join(DIR, 'base.qcow2'),
    ]);
    v = await boot(join(DIR, 'base.qcow2'), 'disk of the base image');
    await v.sudo(
      `mkdir -p /etc/containers/registries.conf.d && printf '[[registry]]\\nlocation = "${guestRegistry}"\\ninsecure = true\\n' > /etc/containers/registries.conf.d/50-test.conf`,
    );
    await v.sudo('echo kept > /etc/debian-atomic-test');
    t.equal((await v.sshStatus('command -v jq')).code === 0, false, 'the base has no jq');
    counted.reset();
    const sw = await reboot(v, `atomic switch docker://${guestRegistry}/${derivedName} -r`);
    const switchServed = counted.blobsServed;
    const derivedOnly = new Set(d1Layers.slice(baseLayers.length));
    results.switch = {
      bytes: counted.bytes,
      layers_pulled: [...switchServed.keys()].filter((d) => d1Layers.includes(d)).length,
      derived_layers: derivedOnly.size,
    };
    log(`atomic switch: ${JSON.stringify(results.switch)}: ${sw.trim().split('\n').slice(-3).join(' | ')}`);
    t.same(
      [...switchServed.keys()].filter((d) => baseLayers.includes(d)),
      [],
      'the switch downloads none of the base layers (the layer cache has them)',
    );
    s = await status(t, v, 'switched');
    t.same(
      s.status.booted?.origin,
      { type: 'image', image: `docker://${guestRegistry}/${derivedName}`, digest: d1.digest },
      'after atomic switch -r: the derived image is booted',
    );
    t.equal(s.status.rollback?.checksum, disk2.commit, 'the base deployment is the rollback');
    t.equal(
      s.status.booted?.checksum,
      disk1.commit,
      'the same commit as the disk made from the derived image (the import is deterministic)',
    );
    await checkDerived(t, v, 'after switch', PACKAGES.split(' '));
    t.equal(
      (await v.ssh('cat /etc/debian-atomic-test')).trim(),
      'kept',
      "the machine's own /etc edit survived the switch",
    );

    // 3. The image rebuilt with one more package: the upgrade pulls the changed layers only.
    const d2 = buildDerived(base, derived, `${PACKAGES} ${MORE}`);
    const d2Layers = layersOf(`docker://${derived}`);
    const changed = d2Layers.filter((l) => !d1Layers.includes(l));
    results.rebuild_s = d2.seconds;
    t.not(d2.digest, d1.digest, 'the rebuild is a new image');
    t.equal(digestOf(`docker://${derived}`), d2.digest);
    counted.reset();
    const up = await reboot(v, 'atomic upgrade -r');
    const served = [...counted.blobsServed.keys()].filter((d) => d2Layers.includes(d));
    results.upgrade = {
      bytes: counted.bytes,
      layers_pulled: served.length,
      layers_changed: changed.length,
      changed_bytes: served.reduce((n, d) => n + (counted.blobsServed.get(d) ?? 0), 0),
    };
    log(`atomic upgrade: ${JSON.stringify(results.upgrade)}: ${up.trim().split('\n').slice(-3).join(' | ')}`);
    t.ok(
      served.length > 0 && served.every((d) => changed.includes(d)),
      `atomic upgrade pulled changed layers only (${served.length} of ${changed.length} changed, ${d2Layers.length} in all)`,
    );
    s = await status(t, v, 'upgraded');
    t.equal(
      s.status.booted?.origin?.type === 'image' ? s.status.booted.origin.digest : null,
      d2.digest,
      'the rebuilt image is booted',
    );
    t.match(
      await v.ssh('tree -d -L 1 /usr/share/debian-atomic'),
      /^\d+ director(y|ies)$/m,
      `the added package runs (${MORE})`,
    );
    await checkDerived(t, v, 'after upgrade', [...PACKAGES.split(' '), MORE]);
    const diff = JSON.parse(await v.ssh('atomic db diff --json')) as { added: { name: string }[] };
    t.same(
      diff.added.map((p) => p.name),
      [MORE],
      `atomic db diff: ${MORE} added`,
    );

    results.boots = boots;
    results.total_s = Math.round((Date.now() - started) / 1000);
    writeFileSync(join(DIR, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    log(`results: ${JSON.stringify(results)}`);
  },
);
