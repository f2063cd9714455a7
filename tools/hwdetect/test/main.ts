import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../src/main.js';
import { extractCapture, POLICIES_DIR } from './fixtures/capture.js';

const server = join(POLICIES_DIR, 'hwdetect-server.yaml');

/** Run the CLI in-process: exit code, stdout, and what went to stderr. */
async function cli(t: { capture: (o: object, m: string) => () => { args: unknown[] }[] }, args: string[], stdin = '') {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const stderr = t.capture(process.stderr, 'write');
  const code = await main(args, { stdout, stdin: Readable.from([stdin]) });
  return {
    code,
    out,
    err: stderr()
      .map((c) => String(c.args[0]))
      .join(''),
  };
}

t.test('probe → plan → apply, through files and pipes', async (t) => {
  const c = extractCapture(t, 'qemu-q35-tcg-uefi');
  const probe = await cli(t, ['probe', '--sysfs', c.sysfs, '--proc', c.proc]);
  t.equal(probe.code, 0);
  t.equal(probe.err, '');
  t.equal(JSON.parse(probe.out).firmware, 'uefi');

  const plan = await cli(t, ['plan', '--policy', server, '--facts', '-'], probe.out);
  t.equal(plan.code, 0);
  const planJson = JSON.parse(plan.out);
  t.equal(planJson.target, 'machine');

  const lists: Record<string, string> = {
    'kernel-args': 'iommu=pt\n',
    modules: 'overlay\nbr_netfilter\n',
    'initramfs-drivers': 'nvme\nahci\nsd_mod\nvirtio_pci\nvirtio_blk\nvirtio_scsi\n',
    packages: 'nodejs\namd64-microcode\nnvme-cli\nsmartmontools\nqemu-guest-agent\n',
  };
  for (const [what, want] of Object.entries(lists))
    t.equal(
      (await cli(t, ['plan', '--policy', server, '--facts', '-', '--list', what], probe.out)).out,
      want,
      `--list ${what}`,
    );

  const factsFile = join(c.dir, 'facts.json');
  writeFileSync(factsFile, probe.out);
  const out = join(c.dir, 'out/plan.json');
  t.equal((await cli(t, ['plan', '--policy', server, '--facts', factsFile, '-o', out])).code, 0);
  t.same(JSON.parse(readFileSync(out, 'utf8')), planJson, '--output writes the same JSON');

  const listOut = join(c.dir, 'out/packages.txt');
  await cli(t, ['plan', '--policy', server, '--any-hardware', '--list', 'components', '-o', listOut]);
  t.equal(readFileSync(listOut, 'utf8'), 'main\nnon-free-firmware\n');

  const root = join(c.dir, 'root');
  writeFileSync(join(c.dir, 'disabled.json'), JSON.stringify({ ...planJson, enabled: false }));
  await t.rejects(cli(t, ['apply', '--plan', join(c.dir, 'disabled.json'), '--root', root]), {
    exitCode: 2,
    message: /--root .*: not a directory/,
  });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(root);
  const apply = await cli(t, ['apply', '--plan', '-', '--root', root], JSON.stringify({ ...planJson, enabled: false }));
  t.equal(apply.code, 0);
  t.same(JSON.parse(apply.out).written, [
    'usr/lib/bootc/kargs.d/10-hwdetect.toml',
    'usr/lib/modules-load.d/hwdetect.conf',
    'usr/lib/dracut/dracut.conf.d/50-hwdetect.conf',
  ]);
});

t.test('warnings and notes go to stderr; --quiet silences warnings', async (t) => {
  const c = extractCapture(t, 'firecracker-vm');
  writeFileSync(join(c.proc, 'meminfo'), '');
  const { rmSync, mkdirSync } = await import('node:fs');
  rmSync(join(c.proc, 'meminfo'));
  mkdirSync(join(c.proc, 'meminfo'));
  const probe = await cli(t, ['probe', '--sysfs', c.sysfs, '--proc', c.proc]);
  t.equal(probe.code, 0);
  t.match(probe.err, /^hwdetect: warning: cannot read .*meminfo: EISDIR, skipped\n$/);
  t.equal(JSON.parse(probe.out).memory.totalMiB, null);
  t.equal((await cli(t, ['probe', '--quiet', '--sysfs', c.sysfs, '--proc', c.proc])).err, '');

  const ws = await cli(t, ['plan', '--policy', join(POLICIES_DIR, 'hwdetect-workstation.yaml'), '--any-hardware']);
  t.match(ws.err, /warning: not installing nvidia-driver: .*component non-free not in allow-components/);
});

t.test('check: report on stdout, the difference on stderr, exit 1', async (t) => {
  const c = extractCapture(t, 'firecracker-vm');
  const r = await cli(t, [
    'check',
    '--policy',
    server,
    '--state-dir',
    join(c.dir, 'run'),
    '--sysfs',
    c.sysfs,
    '--proc',
    c.proc,
    '--quiet',
  ]);
  t.equal(r.code, 1);
  t.same(JSON.parse(r.out).missing, ['iommu=pt']);
  t.match(
    r.err,
    /hwdetect: kernel arguments missing \(policy hwdetect-server\): iommu=pt\nhwdetect: to apply, run: ostree admin kargs edit-in-place --append-if-missing=iommu=pt\n/,
  );
  const pass = join(c.dir, 'pass.yaml');
  writeFileSync(pass, 'kernel-args: {always: [quiet]}\n');
  t.equal(
    (await cli(t, ['check', '--policy', pass, '--state-dir', join(c.dir, 'run'), '--sysfs', c.sysfs, '--proc', c.proc]))
      .code,
    0,
  );
});

t.test('schema prints JSON Schema', async (t) => {
  for (const doc of ['policy', 'facts', 'plan']) {
    const r = await cli(t, ['schema', doc]);
    t.equal(JSON.parse(r.out).$schema, 'https://json-schema.org/draft/2020-12/schema', doc);
  }
});

t.test('usage and input errors are exit 2', async (t) => {
  await t.rejects(cli(t, []), { exitCode: 2, message: /a command is needed/ });
  await t.rejects(cli(t, ['plan']), { exitCode: 2, message: /Missing required argument: policy/ });
  await t.rejects(cli(t, ['plan', '--policy', server, '--facts', 'x', '--any-hardware']), {
    exitCode: 2,
    message: /mutually exclusive/,
  });
  await t.rejects(cli(t, ['plan', '--policy', '-', '--facts', '-']), {
    exitCode: 2,
    message: /cannot both be read from stdin/,
  });
  await t.rejects(cli(t, ['plan', '--policy', server, '--facts', '-'], '{"version": 2}'), {
    exitCode: 2,
    message: /^invalid facts: <stdin>:1:1: /,
    detail: /<stdin>:1:13: version: /,
  });
  await t.rejects(cli(t, ['plan', '--policy', server, '--list', 'nope', '--any-hardware']), {
    exitCode: 2,
    message: /Invalid values/,
  });
  await t.rejects(cli(t, ['schema', 'treefile']), { exitCode: 2 });
  await t.rejects(cli(t, ['apply', '--plan', '-', '--root', '/'], '{}'), {
    exitCode: 2,
    message: /invalid plan: <stdin>:1:1: /,
  });
});

t.test('the built bin: JSON only on stdout, errors on stderr, exit codes', async (t) => {
  const bin = resolve(import.meta.dirname, '../dist/bin.js');
  const c = extractCapture(t, 'firecracker-vm');
  const ok = spawnSync(process.execPath, [bin, 'probe', '--sysfs', c.sysfs, '--proc', c.proc]);
  t.equal(ok.status, 0);
  t.equal(ok.stderr.toString(), '');
  t.equal(JSON.parse(ok.stdout.toString()).virtualization.type, 'kvm');
  const bad = join(c.dir, 'bad.yaml');
  writeFileSync(bad, 'kernel-args:\n  alwyas: [x]\n');
  const r = spawnSync(process.execPath, [bin, 'plan', '--policy', bad, '--any-hardware']);
  t.equal(r.status, 2);
  t.equal(r.stdout.toString(), '');
  t.equal(r.stderr.toString(), `hwdetect: invalid policy: ${bad}:2:3: unknown key 'alwyas' (did you mean 'always'?)\n`);
  const live = spawnSync(process.execPath, [bin, 'probe']);
  t.equal(live.status, 0, 'the live machine');
  t.equal(JSON.parse(live.stdout.toString()).version, 1);
});

t.test('outputs that cannot be written: clear errors naming the path, the old output kept', async (t) => {
  const c = extractCapture(t, 'firecracker-vm');
  const { mkdirSync } = await import('node:fs');
  const probeArgs = ['probe', '--sysfs', c.sysfs, '--proc', c.proc];
  await t.rejects(cli(t, [...probeArgs, '-o', c.dir]), {
    exitCode: 2,
    message: `-o ${c.dir}: is a directory, expected a file name`,
  });
  writeFileSync(join(c.dir, 'file'), 'old\n');
  await t.rejects(cli(t, [...probeArgs, '-o', join(c.dir, 'file/facts.json')]), {
    exitCode: 2,
    message: /-o .*file\/facts\.json: cannot write: a component of the path is not a directory/,
  });
  await t.rejects(
    cli(t, ['plan', '--policy', server, '--any-hardware', '--list', 'packages', '-o', join(c.dir, 'file/x')]),
    { exitCode: 2, message: /cannot write/ },
  );
  t.equal(readFileSync(join(c.dir, 'file'), 'utf8'), 'old\n');

  await t.rejects(
    cli(t, ['check', '--policy', server, '--state-dir', join(c.dir, 'file'), '--sysfs', c.sysfs, '--proc', c.proc]),
    { exitCode: 2, message: /--state-dir .*file: not a directory/ },
  );
  await t.rejects(
    cli(t, ['check', '--policy', server, '--state-dir', join(c.dir, 'file/run'), '--sysfs', c.sysfs, '--proc', c.proc]),
    {
      exitCode: 2,
      message: /--state-dir .*file\/run: cannot write: a component of the path is not a directory/,
    },
  );

  // A directory where apply writes a file: the root's problem, a failure (exit 1) naming it.
  const root = join(c.dir, 'root');
  mkdirSync(join(root, 'usr/lib/modules-load.d/hwdetect.conf'), { recursive: true });
  const plan = (await cli(t, ['plan', '--policy', server, '--any-hardware'])).out;
  await t.rejects(
    cli(t, ['apply', '--plan', '-', '--root', root], JSON.stringify({ ...JSON.parse(plan), enabled: false })),
    {
      exitCode: 1,
      message: /^--root .*root: cannot write: is a directory \(.*hwdetect\.conf/,
    },
  );
});

t.test('inputs on stdin are bounded', async (t) => {
  await t.rejects(
    cli(t, ['plan', '--policy', server, '--facts', '-'], `{"version": 1, "pad": "${' '.repeat(3 << 20)}"}`),
    { exitCode: 2, message: /^<stdin>: larger than 2097152 bytes, refusing to read it/ },
  );
  await t.rejects(cli(t, ['apply', '--plan', '-', '--root', '/'], ' '.repeat(3 << 20)), {
    exitCode: 2,
    message: /^<stdin>: larger than 2097152 bytes/,
  });
});
