// Every variant in variants/ lints clean and resolves, through the built CLI.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolvedTreefileSchema, type ResolvedTreefile } from '../src/schema.js';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'tools/treefile-lint/dist/bin.js');
// Treefiles: every file of variants/treefiles (tasks, hardware policies and files have their own directories).
const variants = readdirSync(join(root, 'variants/treefiles')).sort();

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}
const cli = (args: string[]) =>
  new Promise<Run>((done) =>
    execFile(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8' }, (err, stdout, stderr) =>
      done({ status: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    ),
  );

// Spawning node costs ~1 s on a loaded machine: run each command once, in parallel.
const FRAGMENTS = ['common.yaml', 'desktop.yaml'];
const buildable = variants.filter((v) => !FRAGMENTS.includes(v));
const [lintAll, again, ...resolvedRuns] = await Promise.all([
  cli(variants.map((v) => `variants/treefiles/${v}`)),
  cli(['--resolve', 'variants/treefiles/server.yaml']),
  ...buildable.map((v) => cli(['--resolve', `variants/treefiles/${v}`])),
]);
const runs = new Map(buildable.map((v, i) => [v.replace(/\.yaml$/, ''), resolvedRuns[i]!]));

function resolveVariant(name: string): ResolvedTreefile {
  const r = runs.get(name);
  if (r?.status !== 0) throw new Error(`--resolve ${name}: exit ${r?.status}\n${r?.stderr}`);
  return resolvedTreefileSchema.parse(JSON.parse(r.stdout));
}

t.test('the expected variants exist', async (t) => {
  for (const v of [
    'base-forky.yaml',
    'base.yaml',
    'bootc-base.yaml',
    'common.yaml',
    'desktop.yaml',
    'kde.yaml',
    'server.yaml',
    'testing.yaml',
    'workstation.yaml',
  ])
    t.ok(variants.includes(v), v);
});

t.test('all variants lint clean in one run', async (t) => {
  t.equal(lintAll.stderr, '');
  t.equal(lintAll.status, 0);
  const reports = JSON.parse(lintAll.stdout) as { file: string; ok: boolean; ref?: string; fragment?: boolean }[];
  t.equal(reports.length, variants.length);
  for (const rep of reports) t.ok(rep.ok, rep.file);
  t.same(
    reports.filter((r) => r.fragment).map((r) => r.file),
    FRAGMENTS.map((f) => `variants/treefiles/${f}`),
  );
});

t.test('every buildable variant resolves to a valid, stable treefile', async (t) => {
  for (const [name, r] of runs) {
    t.equal(r.status, 0, `${name} resolves`);
    t.equal(r.stderr, '');
    t.ok(resolvedTreefileSchema.safeParse(JSON.parse(r.stdout)).success, `${name} is a valid resolved treefile`);
  }
  t.equal(again.stdout, runs.get('server')?.stdout, 'same bytes twice');
});

t.test('base: Debian 13 trixie, from deb.debian.org, with the archive keyring', async (t) => {
  const base = resolveVariant('base');
  t.equal(base.ref, 'debian/13/x86_64/base');
  t.equal(base.suite, 'trixie');
  t.equal(base.release, '13');
  t.equal(base['automatic-version-prefix'], '13');
  t.same(base.repos, [
    {
      name: 'debian',
      mirror: 'http://deb.debian.org/debian',
      suite: 'trixie',
      components: ['main'],
      keyring: '/usr/share/keyrings/debian-archive-keyring.gpg',
    },
  ]);
  for (const p of ['systemd', 'linux-image-amd64', 'ostree', 'ostree-boot', 'dracut', 'systemd-timesyncd'])
    t.ok(base.packages.includes(p), p);
  t.same(base.units, ['fstrim.timer', 'systemd-networkd.service', 'systemd-resolved.service', 'ssh.service']);
});

t.test('server: base packages + its own, its scalars override base', async (t) => {
  const base = resolveVariant('base');
  const server = resolveVariant('server');
  t.equal(server.ref, 'debian/13/x86_64/server');
  t.equal(server['add-commit-metadata']?.['debian-atomic.variant'], 'server');
  t.equal(server['add-commit-metadata']?.['debian-atomic.project'], 'debian-atomic', 'map keys of includes are kept');
  for (const p of ['podman', 'chrony', 'nftables', 'openssh-server']) t.ok(server.packages.includes(p), p);
  // Every base package except the one server swaps out (chrony replaces systemd-timesyncd).
  t.same(
    base.packages.filter((p) => !server.packages.includes(p)),
    ['systemd-timesyncd'],
  );
  t.same(server['exclude-packages'], ['systemd-timesyncd']);
  t.same(server.tasks, ['ssh-server']);
  t.same(server.packages, [...server.packages].sort(), 'sorted');
  t.equal(server['hwdetect-policy'], join(root, 'variants/hardware/hwdetect-server.yaml'), 'policy path made absolute');
  t.notOk(base['hwdetect-policy']);
});

t.test("desktops: the task's core, Flatpak and Flathub, no apt for the software centres", async (t) => {
  const ws = resolveVariant('workstation');
  const kde = resolveVariant('kde');
  for (const d of [ws, kde]) {
    t.equal(d['default-target'], 'graphical.target');
    t.equal(d.recommends, true);
    for (const p of ['flatpak', 'network-manager', 'xorg', 'firefox-esr', 'systemd']) t.ok(d.packages.includes(p), p);
    // task-desktop needs tasksel and recommends GNOME first, whatever the desktop: its own packages are listed instead.
    t.notOk(d.packages.includes('task-desktop'), 'no task-desktop');
    t.ok(d['exclude-packages']?.includes('task-desktop'), 'task-desktop excluded');
    t.match(d.postprocess?.join('\n') ?? '', /remotes\.d\/flathub\.flatpakrepo/, 'Flathub as a static remote');
    t.match(d.postprocess?.join('\n') ?? '', /packagekit\.service/, 'PackageKit masked');
    t.ok(d.units?.includes('debian-atomic-flatpak-remotes.service'), 'Flathub applied to /var/lib/flatpak at boot');
  }
  // From the gnome-desktop task as comps-sync synced it, without its application set.
  for (const p of ['gnome-core', 'gnome-software-plugin-flatpak']) t.ok(ws.packages.includes(p), p);
  t.notOk(ws.packages.includes('gnome'), 'not the full GNOME application set');
  t.same(ws['exclude-packages'], ['gnome', 'gnome-software-plugin-deb', 'task-desktop']);
  for (const p of ['kde-standard', 'sddm', 'plasma-discover-backend-flatpak']) t.ok(kde.packages.includes(p), p);
  t.notOk(kde.packages.includes('gnome-core'));
  t.notOk(kde.packages.includes('libreoffice-writer'), 'applications come from Flathub');
  t.ok(kde['remove-files']?.includes('usr/lib/x86_64-linux-gnu/qt6/plugins/discover/packagekit-backend.so'));
});

t.test('forky, bootc and testing variants', async (t) => {
  const forky = resolveVariant('base-forky');
  t.equal(forky.ref, 'debian/14/x86_64/base');
  t.equal(forky.suite, 'forky');
  t.equal(forky.release, '14');
  t.same(
    forky.repos.map((r) => r.suite),
    ['forky'],
  );
  t.same(forky.packages, resolveVariant('base').packages);
  const bootc = resolveVariant('bootc-base');
  t.same(bootc['container-cmd'], ['/sbin/init']);
  t.equal(bootc['add-commit-metadata']?.['containers.bootc'], '1');
  const testing = resolveVariant('testing');
  for (const p of ['strace', 'gdb', 'curl', 'jq', 'python3']) t.ok(testing.packages.includes(p), p);
});
