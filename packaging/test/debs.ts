/**
 * The .debs (packaging/build-debs.sh, `make debs`) installed by apt into a fresh trixie tree
 * (packaging/install-test-tree.sh: mmdebstrap minbase, which pulls nodejs and every Depends
 * from deb.debian.org), then used there through bubblewrap with the tree's own tools only:
 * no toolbox, no checkout, no node_modules. Each tool answers --help, has its man page and
 * bash completion, and runs one real invocation (shipped.ts). lintian has no complaint.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareWork, realInvocations, ROOT, TOOLS, type Runner, type Tool } from './fixtures/shipped.js';

const debs = process.env.DEBIAN_ATOMIC_DEBS ?? join(ROOT, 'debs');
const version = JSON.parse(spawnSync('cat', [join(ROOT, 'package.json')], { encoding: 'utf8' }).stdout)
  .version as string;
const debFile = (tool: Tool) => join(debs, `debian-atomic-${tool}_${version}_all.deb`);
const missing = TOOLS.filter((tool) => !existsSync(debFile(tool)));
if (missing.length) throw new Error(`${debs}: no .deb for ${missing.join(', ')}: run 'make debs' first`);
const tree = join(ROOT, 'build/packaging/trixie-tree');
// To iterate on these tests without the two-minute install: DEBIAN_ATOMIC_REUSE_TREE=1 keeps the last tree.
const reuse = process.env.DEBIAN_ATOMIC_REUSE_TREE === '1' && existsSync(join(tree, 'usr/bin/node'));
const W = '/srv/work';

/**
 * A command inside the tree: its root, its PATH, a clean environment (no DEBIAN_ATOMIC_* from
 * make, no NODE_OPTIONS that tap adds to every child process).
 */
function inTree(cmd: string, args: string[], env: Record<string, string> = {}, binds: string[] = []) {
  const vars = Object.entries({
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    LANG: 'C.UTF-8',
    ...env,
  }).flatMap(([k, v]) => ['--setenv', k, v]);
  const r = spawnSync(
    'bwrap',
    [
      '--bind',
      tree,
      '/',
      '--dev',
      '/dev',
      '--proc',
      '/proc',
      '--tmpfs',
      '/tmp',
      ...binds,
      '--cap-add',
      'ALL',
      '--clearenv',
      ...vars,
      '--',
      cmd,
      ...args,
    ],
    {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const run: Runner = (tool, args, env) => inTree(tool, args, env);

t.test('lintian: no error or warning (make debs ran it: debs/lintian.txt)', async (t) => {
  const report = readFileSync(join(debs, 'lintian.txt'), 'utf8');
  t.notMatch(report, /^[EW]: /m, report);
  t.ok(
    TOOLS.every((tool) => statSync(debFile(tool)).mtimeMs <= statSync(join(debs, 'lintian.txt')).mtimeMs),
    'the report is newer than every .deb',
  );
});

t.test('apt installs every .deb into a fresh trixie tree', { timeout: 600_000 }, async (t) => {
  if (!reuse) {
    const r = spawnSync(join(ROOT, 'packaging/install-test-tree.sh'), [tree, ...TOOLS.map(debFile)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    t.equal(r.status, 0, r.stderr.slice(-4000));
  }
  await rm(join(tree, W), { recursive: true, force: true });
  await prepareWork(join(tree, W));
  const q = inTree('dpkg-query', [
    '-W',
    '-f',
    '${Package} ${Version} ${Status}\n',
    ...TOOLS.map((x) => `debian-atomic-${x}`),
  ]);
  t.equal(q.status, 0, q.stderr);
  t.same(
    q.stdout.trim().split('\n').sort(),
    TOOLS.map((x) => `debian-atomic-${x} ${version} install ok installed`).sort(),
  );
  t.match(inTree('node', ['--version']).stdout, /^v(2\d|[3-9]\d)\./, "trixie's nodejs (>= 20)");
});

for (const tool of TOOLS) {
  t.test(`${tool}: --help, man page, bash completion`, async (t) => {
    const help = run(tool, ['--help']);
    t.equal(help.status, 0, help.stderr);
    t.match(help.stdout, new RegExp(`^${tool} `));
    t.equal(inTree('head', ['-c', '15', `/usr/bin/${tool}`]).stdout, '#!/usr/bin/node');
    const files = inTree('dpkg', ['-L', `debian-atomic-${tool}`]).stdout.split('\n');
    t.ok(files.includes(`/usr/share/man/man1/${tool}.1da.gz`), 'man page');
    t.ok(files.includes(`/usr/share/bash-completion/completions/${tool}`), 'bash completion');
    // The completion completes: an option everywhere, and hwdetect's subcommands.
    const [word, want] = tool === 'hwdetect' ? ['pr', 'probe'] : ['--he', '--help'];
    const fn = `_${tool.replace(/-/g, '_')}`;
    const c = inTree('bash', [
      '-c',
      `. /usr/share/bash-completion/completions/${tool}; COMP_WORDS=(${tool} ${word}); COMP_CWORD=1; ${fn}; echo "\${COMPREPLY[*]}"`,
    ]);
    t.equal(c.stdout.trim(), want, c.stderr);
  });
}

t.test("real invocations, with the tree's own ostree, mkfs, mmdebstrap...", async (t) => {
  t.notOk(existsSync(join(tree, 'root/.cache/debian-atomic/toolbox')), 'no toolbox: host tools');
  for (const inv of realInvocations(W)) t.test(`${inv.tool}: ${inv.what}`, async (t) => inv.check(run, t));
});

t.test('the image side: rootfs install-debs puts the hwdetect .deb into a tree with its dpkg', async (t) => {
  t.equal(inTree('dpkg', ['--purge', 'debian-atomic-hwdetect']).status, 0);
  t.notOk(existsSync(join(tree, 'usr/bin/hwdetect')), 'gone after purge');
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'tools/rootfs/dist/bin.js'), 'install-debs', '--root', tree, debFile('hwdetect')],
    { encoding: 'utf8' },
  );
  t.equal(r.status, 0, r.stderr);
  t.equal(run('hwdetect', ['--help']).status, 0);
  t.match(inTree('dpkg-query', ['-W', '-f', '${Status}', 'debian-atomic-hwdetect']).stdout, 'install ok installed');
  t.match(
    readFileSync(join(tree, 'usr/lib/systemd/system/hwdetect.service'), 'utf8'),
    /^ExecStart=\/usr\/bin\/hwdetect check /m,
  );
  t.notOk(existsSync(join(tree, 'var/tmp/debian-atomic-debs')), 'nothing left behind');
  // The fixture capture script: run in the tree on the host's sysfs, its tarball probes like the host.
  const sys = ['--ro-bind', '/sys', '/sys'];
  const cap = inTree(
    'sh',
    [
      '-c',
      '/usr/libexec/hwdetect/capture-sysfs /tmp/c.tar.gz && mkdir -p /tmp/c && tar -xzf /tmp/c.tar.gz -C /tmp/c && hwdetect probe --sysfs /tmp/c/sys --proc /tmp/c/proc',
    ],
    {},
    sys,
  );
  t.equal(cap.status, 0, cap.stderr);
  const live = JSON.parse(inTree('hwdetect', ['probe'], {}, sys).stdout);
  t.ok(live.pci.storage.length + live.pci.network.length > 0, 'the host has PCI devices to see');
  t.same(JSON.parse(cap.stdout), live, 'the capture probes like the machine');
});

t.test('the tree is left for inspection, listed here', async (t) => {
  t.ok(readdirSync(join(tree, W)).includes('repo'), `${tree}${W}/repo holds the test commit`);
});
