import t from 'tap';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { toolboxRoot } from '@debian-atomic/lib';
import { main } from '../src/main.js';
import {
  checkAptPlan,
  isLiveTransaction,
  LAYERED_TMPFILES,
  parseAptPlan,
  RELOCATED_TMPFILES,
  transactionName,
  WORK_DIR,
} from '../src/layering.js';
import { NO_REQUESTS, parseOrigin, parseRequests, rewriteOrigin, withRequests } from '../src/origin.js';
import { HostSchema } from '../src/schema.js';
import { readDeployments } from '../src/sysroot.js';
import { makeLayeringWorld, OS, REF, REMOTE, type Deb } from './fixtures/layering.js';

async function cli(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const reboots: string[][] = [];
  const code = await main(args, { stdout, stderr, reboot: async (c) => void reboots.push([...c]) });
  return { code, out, reboots };
}

t.test('origin: the layering requests, as rpm-ostree keeps them', async (t) => {
  const origin = `[origin]\nrefspec=${REMOTE}:${REF}\n`;
  const sha = 'a'.repeat(64);
  const text = withRequests(origin, {
    packages: ['htop', 'curl'],
    local: [{ sha256: sha, name: 'mine' }],
    remove: ['nano'],
  });
  t.equal(
    text,
    `[origin]\nbaserefspec=${REMOTE}:${REF}\n\n[packages]\nrequested=curl;htop;\nrequested-local=${sha}:mine;\n\n[overrides]\nremove=nano;\n`,
  );
  t.same(parseRequests(text, 'o'), {
    packages: ['curl', 'htop'],
    local: [{ sha256: sha, name: 'mine' }],
    remove: ['nano'],
  });
  t.equal(withRequests(text, NO_REQUESTS), origin, 'no requests: the groups go');
  t.same(parseRequests(origin, 'o'), NO_REQUESTS);
  t.same(
    parseOrigin(text, 'o'),
    { kind: 'ostree', refspec: `${REMOTE}:${REF}` },
    "a layered origin names its base as baserefspec= (ostree does not take the local commit for the remote's: no GPG check of it)",
  );
  t.equal(
    rewriteOrigin(text, { kind: 'ostree', refspec: 'other:ref' }).split('\n')[1],
    'refspec=other:ref',
    'a new source replaces baserefspec too',
  );
  t.throws(() => parseRequests(`${origin}[packages]\nrequested=Bad_Name;\n`, 'o'), {
    message: /o:4: 'Bad_Name' in requested is not a Debian package name/,
  });
  t.throws(() => parseRequests(`${origin}[packages]\nrequested-local=x:y;\n`, 'o'), {
    message: /is not SHA256:PACKAGE/,
  });
});

t.test("apt's plan: what layering may and may not do", async (t) => {
  const sim = [
    'NOTE: This is only a simulation!',
    'Inst demo-data (1.0 atomic-test:test [all])',
    'Inst libc6 [2.41-11] (2.41-12 Debian:13.2/stable [amd64])',
    'Purg dosfstools [4.2-1.2]',
    'Conf demo-data (1.0 atomic-test:test [all])',
  ].join('\n');
  const plan = parseAptPlan(sim);
  t.same(plan, {
    install: [
      { name: 'demo-data', version: '1.0' },
      { name: 'libc6', version: '2.41-12', replaces: '2.41-11' },
    ],
    remove: [{ name: 'dosfstools', version: '4.2-1.2' }],
  });
  t.throws(() => checkAptPlan(plan, NO_REQUESTS, ['demo']), {
    code: 'base-change',
    message: /installing demo would change base packages: libc6 2\.41-11 → 2\.41-12/,
  });
  const removal = { install: [], remove: plan.remove };
  t.throws(() => checkAptPlan(removal, NO_REQUESTS, ['conflicting']), {
    code: 'conflict',
    message: /conflicting conflicts with the base image: apt would remove base package\(s\) dosfstools/,
  });
  t.doesNotThrow(() => checkAptPlan(removal, { ...NO_REQUESTS, remove: ['dosfstools'] }, []));
});

const DEMO: Deb[] = [
  { name: 'demo', depends: 'libdemo1', files: { 'usr/bin/demo': '#!/bin/sh\necho demo\n' } },
  { name: 'libdemo1', depends: 'demo-data' },
  { name: 'demo-data' },
  { name: 'failpost', postinst: 'echo "failpost: cannot configure" >&2; exit 1' },
  { name: 'conflicting', conflicts: 'dosfstools' },
  {
    name: 'optvar',
    files: {
      'opt/optvar/bin/tool': '#!/bin/sh\necho tool\n',
      'var/lib/optvar/seed': 'seed\n',
      'usr/share/optvar/README': 'optvar\n',
    },
    // A system user as adduser makes one, appended in place: the overlay copies /etc/passwd up first.
    postinst: [
      'echo "_optvar:x:990:990:optvar daemon:/var/lib/optvar:/usr/sbin/nologin" >> /etc/passwd',
      'echo "_optvar:x:990:" >> /etc/group',
      'echo state > /var/lib/optvar/state',
      'chown 990:990 /var/lib/optvar',
    ].join('\n'),
  },
];

t.test('layering on a real sysroot: install, failures, /opt and /var, uninstall, overrides, upgrade', async (t) => {
  if (!toolboxRoot()) return t.skip('needs the toolbox (make toolbox): its tree is the base image');
  const w = await makeLayeringWorld(t);
  const S = ['--sysroot', w.sysroot];
  await w.publish(DEMO);
  const v1 = await w.commitBase('v1');
  await w.install();
  const host = async () => HostSchema.parse(JSON.parse((await cli(['status', ...S, '--json'])).out));
  const deployed = async () => readDeployments(w.sysroot);
  const fsck = async () =>
    t.match(await w.ostree(`--repo=${w.repo}`, 'fsck'), /object/, 'ostree fsck: the repository is intact');
  const noWork = async () =>
    t.same(await readdir(join(w.sysroot, WORK_DIR)).catch(() => []), [], 'no transaction left behind');
  const show = (commit: string, path: string) => w.ostree(`--repo=${w.repo}`, 'cat', commit, path);
  const statusOf = async (commit: string) => show(commit, '/usr/lib/sysimage/dpkg/status');

  await t.test('install a package with a dependency chain', async (t) => {
    const r = await cli(['install', 'demo', ...S, '--json']);
    t.equal(r.code, 0);
    const j = JSON.parse(r.out);
    t.match(j, {
      kind: 'Layering',
      baseCommit: v1,
      requests: { requested: ['demo'], requestedLocal: [], removed: [] },
      removed: [],
    });
    t.same(j.added.map((p: { name: string }) => p.name).sort(), ['demo', 'demo-data', 'libdemo1']);
    const ds = await deployed();
    t.equal(ds.length, 2, 'a new deployment beside the old');
    t.equal(ds[0]!.checksum, j.commit);
    t.equal(ds[1]!.checksum, v1, 'the base deployment is untouched');
    t.match(await show(j.commit, '/usr/bin/demo'), /echo demo/);
    const status = await statusOf(j.commit);
    for (const p of ['demo', 'libdemo1', 'demo-data'])
      t.match(status, new RegExp(`Package: ${p}\\nStatus: install ok installed`), `dpkg status lists ${p}`);
    t.notMatch(await statusOf(v1), /Package: demo/, "the base commit's database is unchanged");
    t.notOk(
      existsSync(join(w.sysroot, 'ostree/deploy', OS, 'deploy', `${j.commit}.0`, 'etc/atomic-layering')),
      'no transaction layout in the deployment',
    );
    const origin = await readFile(join(w.sysroot, 'ostree/deploy', OS, 'deploy', `${j.commit}.0.origin`), 'utf8');
    t.match(origin, /\[packages\]\nrequested=demo;\n/, 'the origin keeps the request');
    const h = await host();
    const d = h.status.otherDeployments[0]!;
    t.match(d.layering, {
      baseCommit: v1,
      requested: ['demo'],
      layeredPackages: ['demo 1.0', 'demo-data 1.0', 'libdemo1 1.0'].filter((x) => x),
    });
    t.match((await cli(['status', ...S])).out, /LayeredPackages: demo\n +Installed: .*demo 1\.0/);
    t.match((await cli(['status', ...S])).out, new RegExp(`BaseCommit: ${v1}`));
    t.match(await w.ostree(`--repo=${w.repo}`, 'refs'), new RegExp(`atomic/base/${v1}`), 'the base commit keeps a ref');
    await fsck();
    await noWork();
    await t.rejects(cli(['install', 'demo', ...S]), { code: 'already-requested' });
    await t.rejects(cli(['install', 'dosfstools', ...S]), {
      code: 'in-base',
      message: /dosfstools is already installed in the base image/,
    });
  });

  await t.test('a failing postinst: a clear error, no new deployment', async (t) => {
    const before = (await deployed()).map((d) => d.checksum);
    await t.rejects(cli(['install', 'failpost', ...S]), {
      code: 'apt',
      message: /failpost: .*post-installation script subprocess returned error exit status 1/,
    });
    t.same(
      (await deployed()).map((d) => d.checksum),
      before,
      'nothing deployed',
    );
    await fsck();
    await noWork();
  });

  await t.test('a conflict with a base package: a clear error, no new deployment', async (t) => {
    const before = (await deployed()).map((d) => d.checksum);
    await t.rejects(cli(['install', 'conflicting', ...S]), {
      code: 'conflict',
      message: /conflicting conflicts with the base image: apt would remove base package\(s\) dosfstools/,
    });
    await t.rejects(cli(['install', 'no-such-package', ...S]), {
      code: 'apt',
      message: /Unable to locate package no-such-package/,
    });
    t.same(
      (await deployed()).map((d) => d.checksum),
      before,
      'nothing deployed',
    );
    await noWork();
  });

  await t.test('/opt, /var and a system user', async (t) => {
    const r = await cli(['install', 'optvar', ...S, '--json']);
    const j = JSON.parse(r.out);
    t.same(j.requests.requested, ['demo', 'optvar'], 'the requests add up');
    t.match(await show(j.commit, '/usr/lib/opt/optvar/bin/tool'), /echo tool/, '/opt content is kept in /usr/lib/opt');
    t.match(
      await show(j.commit, `/${RELOCATED_TMPFILES}`),
      /^L \/var\/opt\/optvar\/bin\/tool - - - - \/usr\/lib\/opt\/optvar\/bin\/tool$/m,
      'with a tmpfiles.d link at /var/opt',
    );
    const tmpfiles = await show(j.commit, `/${LAYERED_TMPFILES}`);
    t.match(
      tmpfiles,
      /^d \/var\/lib\/optvar 0755 _optvar _optvar -$/m,
      "the package's /var directory, owned by its user",
    );
    t.match(tmpfiles, /^C \/var\/lib\/optvar\/seed - - - -$/m);
    t.match(tmpfiles, /^C \/var\/lib\/optvar\/state - - - -$/m, 'what its postinst wrote in /var');
    t.equal(await show(j.commit, '/usr/share/factory/var/lib/optvar/state'), 'state\n');
    t.match(
      await show(j.commit, '/usr/lib/sysusers.d/debian-atomic.conf'),
      /^u _optvar 990:_optvar "optvar daemon" \/var\/lib\/optvar \/usr\/sbin\/nologin$/m,
      'the new system user is a sysusers.d line',
    );
    t.match(await show(j.commit, '/usr/etc/passwd'), /^_optvar:/m);
    t.notMatch(
      await show(v1, '/usr/etc/passwd'),
      /_optvar/,
      "the base commit's passwd object is untouched (the write went to a copy)",
    );
    await t.rejects(show(j.commit, '/var/lib/optvar/seed'), 'the commit has no /var content');
    await fsck();
  });

  await t.test('a local .deb', async (t) => {
    const deb = await w.buildDeb({ name: 'localtool', files: { 'usr/bin/localtool': '#!/bin/sh\necho local\n' } });
    const r = await cli(['install', deb, ...S, '--json']);
    const j = JSON.parse(r.out);
    t.match(j.requests.requestedLocal, [/^[0-9a-f]{64}:localtool$/]);
    t.match(await show(j.commit, '/usr/bin/localtool'), /echo local/);
    t.match((await cli(['status', ...S])).out, /LocalPackages: localtool/);
    await t.rejects(cli(['install', deb, ...S]), { code: 'already-requested' });
    await t.rejects(cli(['install', join(w.dir, 'nothing.deb'), ...S]), { exitCode: 2, message: /no such file/ });
  });

  await t.test('uninstall', async (t) => {
    await t.rejects(cli(['uninstall', 'dosfstools', ...S]), {
      code: 'not-requested',
      message: /dosfstools is not a layered package/,
    });
    const j = JSON.parse((await cli(['uninstall', 'demo', 'localtool', ...S, '--json'])).out);
    t.same(j.requests.requested, ['optvar']);
    t.notMatch(
      await statusOf(j.commit),
      /Package: (demo|libdemo1|demo-data|localtool)\n/,
      'demo, its dependencies and the local package are gone',
    );
    t.match(await statusOf(j.commit), /Package: optvar\n/);
  });

  await t.test('override remove and reset of a base package', async (t) => {
    await t.rejects(cli(['override', 'remove', 'no-such', ...S]), { code: 'not-in-base' });
    const removed = JSON.parse((await cli(['override', 'remove', 'mtools', ...S, '--json'])).out);
    t.same(removed.requests.removed, ['mtools']);
    t.match(removed.removed, [{ name: 'mtools' }]);
    t.notMatch(await statusOf(removed.commit), /Package: mtools\n/, 'mtools is gone');
    await t.rejects(show(removed.commit, '/usr/bin/mtools'), 'its files too');
    t.match((await cli(['status', ...S])).out, /RemovedBasePackages: mtools/);
    await t.rejects(cli(['override', 'reset', 'dosfstools', ...S]), { code: 'not-overridden' });
    const reset = JSON.parse((await cli(['override', 'reset', 'mtools', ...S, '--json'])).out);
    t.same(reset.requests.removed, []);
    t.match(await statusOf(reset.commit), /Package: mtools\nStatus: install ok installed/, 'mtools is back');
  });

  await t.test('upgrade re-applies the requests on the new base; when they no longer apply it stops', async (t) => {
    const v2 = await w.commitBase('v2');
    const r = await cli(['upgrade', ...S]);
    t.match(r.out, /with the layered packages \(\+optvar 1\.0\)/);
    const [d] = await deployed();
    t.equal(d!.layered?.base, v2, 'layered on v2');
    t.same(d!.requests.packages, ['optvar']);
    t.match(await show(d!.checksum, '/usr/lib/os-release'), /DEBIAN_ATOMIC_TEST=v2/);
    t.match(await statusOf(d!.checksum), /Package: optvar\n/);
    t.match((await cli(['upgrade', ...S])).out, /No update available/, 'the layered deployment counts as v2');
    const bases = [...new Set((await deployed()).flatMap((x) => (x.layered ? [x.layered.base] : [])))].sort();
    t.same(
      (await w.ostree(`--repo=${w.repo}`, 'refs'))
        .split('\n')
        .filter((r) => r.startsWith('atomic/base/'))
        .sort(),
      bases.map((b) => `atomic/base/${b}`),
      'a base ref for each base of a layered deployment',
    );

    // optvar is gone from the sources: the upgrade stops, the deployments stay as they are.
    await w.publish(DEMO.filter((p) => p.name !== 'optvar'));
    const v3 = await w.commitBase('v3');
    const before = (await deployed()).map((x) => x.checksum);
    await t.rejects(cli(['upgrade', ...S]), {
      code: 'layering-failed',
      message: new RegExp(
        `the layered packages do not apply to v3 \\(${v3.slice(0, 12)}\\): .*Unable to locate package optvar`,
      ),
    });
    t.same(
      (await deployed()).map((x) => x.checksum),
      before,
      'nothing deployed',
    );
    await fsck();
    await noWork();

    // Uninstalling the last layered package deploys the base itself.
    const j = JSON.parse((await cli(['uninstall', 'optvar', ...S, '--json'])).out);
    t.equal(j.commit, v2, 'the plain base commit');
    t.equal((await host()).status.otherDeployments[0]!.layering, null);
  });
});

t.test('a transaction directory is live only when its boot is this one and its process runs', async (t) => {
  const alive = (pid: number) => pid === 4242;
  const name = transactionName('abc123def456', 4242);
  t.match(name, /^tx-abc123def456-4242-[0-9a-f]{8}$/);
  t.ok(isLiveTransaction(name, 'abc123def456', alive), 'this boot, its process runs: kept');
  t.notOk(
    isLiveTransaction(name, 'fff000fff000', alive),
    'an earlier boot (a power cut): stale, though a process has that PID now',
  );
  t.notOk(
    isLiveTransaction(transactionName('abc123def456', 77), 'abc123def456', alive),
    'this boot, its process gone: stale',
  );
  t.notOk(isLiveTransaction('tx-668-9759b9bc', 'abc123def456', alive), "an older atomic's name: stale");
  t.notOk(
    isLiveTransaction(transactionName('abc123def456', process.pid), 'abc123def456', () => true),
    'never our own',
  );
});
