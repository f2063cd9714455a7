import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { DbDiffSchema, DbListSchema } from '../src/db.js';
import { main } from '../src/main.js';
import { HostSchema } from '../src/schema.js';
import { BASE_KARGS, makeWorld, OS, REF, REMOTE } from './fixtures/sysroot.js';

const BIN = resolve(import.meta.dirname, '../dist/bin.js');

/** Run the CLI in-process: exit code, stdout, and the reboot commands it asked for. */
async function cli(args: string[]) {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const reboots: string[][] = [];
  const code = await main(args, { stdout, reboot: async (c) => void reboots.push([...c]) });
  return { code, out, reboots };
}

t.test('status --json-schema: the published schema', async (t) => {
  const r = await cli(['status', '--json-schema']);
  const schema = JSON.parse(r.out);
  t.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  t.same(Object.keys(schema.properties).sort(), ['apiVersion', 'kind', 'status']);
  t.same(Object.keys(schema.properties.status.properties).sort(), [
    'booted',
    'bootloader',
    'otherDeployments',
    'pending',
    'rollback',
    'staged',
  ]);
});

t.test('the update lifecycle on a real sysroot with an OSTree remote', async (t) => {
  const w = await makeWorld(t);
  const S = ['--sysroot', w.sysroot];
  const v1 = await w.commit({
    version: '1',
    kargsD: { '10-hw.toml': `kargs = ['iommu=pt', "quiet"]\n` },
    packages: { 'base-files': '13.8', bash: '5.2.37-2' },
  });
  await w.install([...BASE_KARGS, 'iommu=pt', 'quiet']);
  const host = async () => HostSchema.parse(JSON.parse((await cli(['status', ...S, '--json'])).out));
  const order = async () => (await host()).status.otherDeployments.map((d) => d.checksum);

  let h = await host();
  t.equal(h.status.booted, null, 'a sysroot in a directory is not booted');
  t.match(h.status.otherDeployments, [
    {
      checksum: v1,
      version: '1',
      origin: { type: 'ostree', refspec: `${REMOTE}:${REF}` },
      kernelArgs: [...BASE_KARGS, 'iommu=pt', 'quiet'],
      pinned: false,
      index: 0,
    },
  ]);
  t.match(
    (await cli(['status', ...S])).out,
    new RegExp(`^Deployments:\\n  ostree: ${REMOTE}:${REF}\\n +Version: 1 \\(\\d{4}-.*Z\\)\\n +Commit: ${v1}\\n`),
  );

  t.same(await cli(['upgrade', ...S]), { code: 0, out: 'No update available.\n', reboots: [] });
  t.same(await cli(['upgrade', ...S, '--check']), { code: 0, out: 'No update available.\n', reboots: [] });
  t.same(
    await cli(['upgrade', ...S, '-r']),
    { code: 0, out: 'No update available.\n', reboots: [] },
    'no update: no reboot',
  );

  // v2: one package more, one upgraded, a kargs.d argument changed.
  const v2 = await w.commit({
    version: '2',
    kargsD: { '10-hw.toml': `kargs = ['iommu=pt', "debian_atomic.update=v2"]\n` },
    packages: { 'base-files': '13.8+deb13u1', bash: '5.2.37-2', tree: '2.2.1-1' },
  });
  t.same(await cli(['upgrade', ...S, '--check']), {
    code: 0,
    out: `Update available: 2, ${REMOTE}:${REF} ${v2}\n`,
    reboots: [],
  });
  t.same(await order(), [v1], '--check deploys nothing');
  t.match(await cli(['upgrade', ...S, '--download-only']), {
    code: 0,
    out: `Downloaded 2 (${v2.slice(0, 12)}) from ${REMOTE}:${REF}; 'atomic upgrade' deploys it.\n`,
  });
  t.same(await order(), [v1], '--download-only deploys nothing');

  const up = await cli(['upgrade', ...S]);
  t.equal(
    up.out,
    [
      `Kernel arguments from the image's kargs.d: --karg-delete=quiet --karg-append=debian_atomic.update=v2`,
      `Deployed 2 (${v2.slice(0, 12)}) from ${REMOTE}:${REF}.`,
      "Run 'systemctl reboot' to boot into it.",
      '',
    ].join('\n'),
  );
  h = await host();
  t.same(
    h.status.otherDeployments.map((d) => [d.checksum, d.kernelArgs]),
    [
      [v2, [...BASE_KARGS, 'iommu=pt', 'debian_atomic.update=v2']],
      [v1, [...BASE_KARGS, 'iommu=pt', 'quiet']],
    ],
  );
  t.same((await cli(['upgrade', ...S])).out, 'No update available.\n', 'the new deployment is what boots next');

  // db: deployment 1 → deployment 0 by default on a sysroot that is not booted.
  const diff = await cli(['db', 'diff', ...S]);
  t.match(diff.out, /Upgraded:\n  base-files 13\.8 -> 13\.8\+deb13u1\nAdded:\n  tree 2\.2\.1-1\n/);
  const dj = DbDiffSchema.parse(JSON.parse((await cli(['db', 'diff', ...S, '--json', '1', '0'])).out));
  t.same([dj.from, dj.to, dj.added.map((p) => p.name), dj.removed], [v1, v2, ['tree'], []]);
  const back = DbDiffSchema.parse(
    JSON.parse((await cli(['db', 'diff', ...S, '--json', `${REMOTE}:${REF}`, v1.slice(0, 10)])).out),
  );
  t.same([back.from, back.to, back.removed.map((p) => p.name)], [v2, v1, ['tree']], 'refs and short checksums');
  t.same(
    DbListSchema.parse(JSON.parse((await cli(['db', 'list', ...S, '--json'])).out)).packages.map((p) => p.name),
    ['base-files', 'bash', 'tree'],
  );
  await t.rejects(cli(['db', 'list', ...S, '7']), { exitCode: 2, message: /there is no deployment 7/ });
  await t.rejects(cli(['db', 'list', ...S, 'no/such/ref']), {
    exitCode: 2,
    message: /no such commit, ref or deployment index/,
  });

  // kargs: print, the image's, edit.
  t.equal((await cli(['kargs', ...S])).out, `${[...BASE_KARGS, 'iommu=pt', 'debian_atomic.update=v2'].join(' ')}\n`);
  t.equal((await cli(['kargs', ...S, '--image'])).out, 'iommu=pt\ndebian_atomic.update=v2\n');
  const k = await cli([
    'kargs',
    ...S,
    '--append',
    'mitigations=off',
    '--delete',
    'iommu=pt',
    '--replace',
    `${BASE_KARGS[1]!.split('=')[0]}=tty0`,
    '-r',
  ]);
  t.equal(k.out, `Kernel arguments updated; deployed 2 (${v2.slice(0, 12)}) with them.\n`);
  t.same(k.reboots, [['systemctl', 'reboot']], '-r reboots after the change');
  h = await host();
  t.same(h.status.otherDeployments[0]!.kernelArgs, [
    BASE_KARGS[0],
    'console=tty0',
    'debian_atomic.update=v2',
    'mitigations=off',
  ]);
  t.same(h.status.otherDeployments[0]!.origin, { type: 'ostree', refspec: `${REMOTE}:${REF}` }, 'the origin is kept');
  await t.rejects(cli(['kargs', ...S, '--delete', 'nosuch']), { exitCode: 1, message: /no argument named nosuch/ });
  await t.rejects(cli(['kargs', ...S, '-r']), { exitCode: 2, message: /nothing to reboot into/ });

  // rollback swaps the first two.
  const before = await order();
  t.same(await cli(['rollback', ...S]), {
    code: 0,
    out: "The previous deployment is now the default.\nRun 'systemctl reboot' to boot into it.\n",
    reboots: [],
  });
  t.same((await order()).slice(0, 2), [before[1], before[0]]);
  t.same((await cli(['rollback', ...S, '-r'])).reboots, [['systemctl', 'reboot']]);
  t.same((await order()).slice(0, 2), before.slice(0, 2));

  // switch to another branch of the remote; a downgrade on the followed branch is refused.
  const other = await w.commit({ version: 'server-1', ref: 'debian/13/x86_64/server' });
  const sw = await cli(['switch', ...S, `${REMOTE}:debian/13/x86_64/server`]);
  t.match(sw.out, `Deployed server-1 (${other.slice(0, 12)}) from ${REMOTE}:debian/13/x86_64/server.`);
  h = await host();
  t.same(
    [h.status.otherDeployments[0]!.checksum, h.status.otherDeployments[0]!.origin],
    [other, { type: 'ostree', refspec: `${REMOTE}:debian/13/x86_64/server` }],
  );
  t.match((await cli(['switch', ...S, `${REMOTE}:debian/13/x86_64/server`])).out, /^Already on .*: nothing to do\.\n$/);
  await w.commit({ version: 'server-0', ref: 'debian/13/x86_64/server', timestamp: 1_600_000_000 });
  await t.rejects(cli(['upgrade', ...S]), {
    code: 'downgrade',
    message: /older than the deployed one: refusing to downgrade/,
  });

  await t.rejects(cli(['switch', ...S, 'nosuchremote:x']), {
    code: 'no-remote',
    message: /the origin names the remote 'nosuchremote'/,
  });
  await t.rejects(cli(['switch', ...S, 'https://example.org/repo']), { exitCode: 2 });
  await t.rejects(cli(['switch', ...S, 'docker://h.io/UPPER']), {
    exitCode: 2,
    message: /not a registry image reference/,
  });
});

t.test('upgrade --automatic follows /etc/atomic/atomic.conf', async (t) => {
  const w = await makeWorld(t);
  const S = ['--sysroot', w.sysroot];
  await w.commit({ version: '1' });
  await w.install();
  t.match(await cli(['upgrade', ...S, '--automatic']), {
    code: 0,
    out: /^AutomaticUpdatePolicy=none: automatic updates are off/,
  });
  await mkdir(join(w.sysroot, 'etc/atomic'), { recursive: true });
  const conf = (policy: string) =>
    writeFile(join(w.sysroot, 'etc/atomic/atomic.conf'), `[Daemon]\nAutomaticUpdatePolicy=${policy}\n`);
  await conf('check');
  const v2 = await w.commit({ version: '2' });
  t.match(await cli(['upgrade', ...S, '--automatic']), {
    code: 0,
    out: new RegExp(`checking for an update\\nUpdate available: 2, ${REMOTE}:${REF} ${v2}\\n$`),
  });
  await conf('apply');
  const r = await cli(['upgrade', ...S, '--automatic']);
  t.match(r.out, /staging the update and rebooting into it\n[^]*Deployed 2/);
  t.same(r.reboots, [['systemctl', 'reboot', '--check-inhibitors=yes', '--no-block']]);
  t.same((await cli(['upgrade', ...S, '--automatic'])).reboots, [], 'no update: no reboot');
  await conf('sometimes');
  await t.rejects(cli(['upgrade', ...S, '--automatic']), { exitCode: 2, message: /atomic\.conf:2/ });
  await t.rejects(cli(['upgrade', ...S, '--automatic', '--check']), { exitCode: 2 });
});

t.test(
  "changing the running system is root's",
  { skip: process.getuid?.() !== 0 || !existsSync(BIN) ? 'needs root (to drop it) and dist/bin.js' : false },
  async (t) => {
    for (const command of [
      ['upgrade'],
      ['upgrade', '--check'],
      ['switch', 'origin:x'],
      ['rollback'],
      ['kargs', '--append', 'x'],
    ]) {
      const r = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...command],
        {
          encoding: 'utf8',
        },
      );
      // (tap's process hooks, in the child too, may add their own complaint: nobody cannot write .tap/.)
      t.same(
        [r.status, r.stdout, r.stderr.split('\n')[0]],
        [1, '', `atomic: ${command[0]}: must run as root (sudo atomic ${command[0]})`],
        command.join(' '),
      );
    }
  },
);

t.test('usage and refusals', async (t) => {
  await t.rejects(cli(['frobnicate']), { exitCode: 2 });
  await t.rejects(cli(['upgrade', '--check', '-r']), { exitCode: 2 });
  await t.rejects(cli(['switch']), { exitCode: 2 });
  await t.rejects(cli(['kargs', '--image', '--append', 'x']), { exitCode: 2 });
  const w = await makeWorld(t);
  await t.rejects(cli(['status', '--sysroot', join(w.dir, 'nothing')]), {
    exitCode: 2,
    message: /nothing: not an OSTree sysroot \(no ostree\/repo\)/,
  });
  await w.ostree('admin', 'init-fs', '--modern', w.sysroot);
  t.equal((await cli(['status', '--sysroot', w.sysroot])).out, 'No deployments.\n');
  t.equal((await cli(['status', '--sysroot', w.sysroot, '--booted'])).out, 'No booted deployment.\n');
  await t.rejects(cli(['rollback', '--sysroot', w.sysroot]), { exitCode: 1, message: /no deployments/ });
  await w.commit();
  await w.install();
  await t.rejects(cli(['rollback', '--sysroot', w.sysroot]), {
    exitCode: 1,
    message: /only one deployment, nothing to roll back to/,
  });
  await t.rejects(cli(['upgrade', '--sysroot', w.sysroot, '--os', 'fedora']), {
    exitCode: 2,
    message: /no deployment of the stateroot 'fedora'/,
  });
});

t.test('refusals a sysroot brings: too few deployments for db, an unreadable origin, several stateroots', async (t) => {
  const w = await makeWorld(t);
  const S = ['--sysroot', w.sysroot];
  await w.ostree('admin', 'init-fs', '--modern', w.sysroot);
  await t.rejects(cli(['db', 'list', ...S]), { exitCode: 2, message: /no deployments: name a commit or ref/ });
  const v1 = await w.commit({ version: '1', packages: { 'base-files': '13.8', bash: '5.2.37-2' } });
  await w.install();

  // One deployment, not booted: db diff has nothing to compare it with, unless told.
  await t.rejects(cli(['db', 'diff', ...S]), {
    exitCode: 2,
    message: /there is only one deployment: name FROM and TO/,
  });
  const self = DbDiffSchema.parse(JSON.parse((await cli(['db', 'diff', ...S, '--json', v1.slice(0, 12)])).out));
  t.same([self.from, self.to, self.added, self.removed], [v1, v1, [], []], 'FROM alone: compared with deployment 0');

  // An origin file atomic cannot read: every command that follows or records the origin refuses, saying why.
  const dir = join(w.sysroot, 'ostree/deploy', OS, 'deploy');
  const origin = (await readdir(dir)).find((n) => n.endsWith('.origin'))!;
  await writeFile(join(dir, origin), `[origin]\nrefspec=${REMOTE}:${REF}\nrefspec=${REMOTE}:other\n`);
  const dup = /has no origin atomic can (follow|keep): .*\.origin:3: key 'refspec' appears twice in \[origin\]/;
  await t.rejects(cli(['upgrade', ...S]), { code: 'no-origin', message: dup });
  const up = await cli(['upgrade', ...S, '--check']).catch((e: unknown) => e as Error & { hint?: string });
  t.match(up, { code: 'no-origin', message: new RegExp(`deployment 0 \\(${v1.slice(0, 12)}\\)`) });
  t.match((up as { hint?: string }).hint, /atomic switch TARGET says where updates come from/);
  await t.rejects(cli(['kargs', ...S, '--append', 'quiet']), { code: 'no-origin', message: dup });
  await t.rejects(cli(['install', ...S, 'tree']), {
    code: 'no-origin',
    message: /deployment 0 has no origin to record the packages in: .*appears twice/,
  });
  t.same((await cli(['kargs', ...S])).out, `${BASE_KARGS.join(' ')}\n`, 'reading the kernel arguments needs no origin');

  // A second stateroot, neither booted: which one is meant must be said.
  await w.ostree('admin', 'os-init', `--sysroot=${w.sysroot}`, 'other');
  await w.ostree('admin', 'deploy', `--sysroot=${w.sysroot}`, '--os=other', `${REMOTE}:${REF}`);
  await t.rejects(cli(['upgrade', ...S]), {
    exitCode: 2,
    message: /has several stateroots \((debian, other|other, debian)\) and none is booted: name one with --os/,
  });
  t.equal((await cli(['upgrade', ...S, '--os', 'other'])).out, 'No update available.\n', '--os picks one');
});
