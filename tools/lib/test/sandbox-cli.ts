import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseSandboxArgs } from '../src/sandbox-cli.js';
import { bwrapArgs } from '../src/sandbox.js';

const bin = fileURLToPath(new URL('../dist/sandbox-bin.js', import.meta.url));
const sandbox = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

t.test("the command line maps onto sandbox.ts's options: one bubblewrap recipe for TypeScript and shell", async (t) => {
  const dir = t.testdir({});
  const { bwrap, command } = await parseSandboxArgs([
    '--root',
    '/',
    '--read-only-root',
    '--bind',
    dir,
    '--ro-bind',
    '/etc',
    '--setenv',
    'A=b=c',
    '--chdir',
    dir,
    '--',
    'ls',
    '-l',
  ]);
  t.same(command, ['ls', '-l']);
  t.same(
    bwrap,
    bwrapArgs({
      root: '/',
      readOnlyRoot: true,
      binds: [dir],
      roBinds: ['/etc'],
      network: false,
      hostDevices: false,
      allCaps: false,
      cwd: dir,
      env: { A: 'b=c' },
    }),
  );
  t.ok(bwrap.includes('/opt') || !bwrap.includes('--ro-bind'), 'opt is a system directory, as for toolboxRun');
  const mkosi = (
    await parseSandboxArgs(['--root', '/', '--network', '--host-devices', '--all-caps', '--', 'true'])
  ).bwrap.join(' ');
  t.match(mkosi, /--dev-bind \/dev \/dev --ro-bind \/sys \/sys/);
  t.match(mkosi, /--cap-add ALL/);
  t.notMatch(mkosi, /--unshare-net/);
});

t.test('a real run: the read-only root, the exit status passed on; usage errors are exit 2', async (t) => {
  const ok = sandbox(
    '--root',
    '/',
    '--read-only-root',
    '--setenv',
    'GREETING=hi',
    '--',
    'sh',
    '-c',
    'echo "$GREETING"; test -d /opt; touch /usr/nope 2>/dev/null && echo wrote; exit 7',
  );
  t.equal(ok.status, 7, "the command's exit status");
  t.equal(ok.stdout, 'hi\n', 'the environment given, nothing written to /usr');
  const usage = async (argv: string[], message: RegExp) =>
    t.rejects(parseSandboxArgs(argv), { exitCode: 2, message }, argv.join(' '));
  await usage(['--root', '/'], /no command: give it after --/);
  await usage(['--', 'true'], /Missing required argument: root/);
  await usage(['--root', '/', '--setenv', 'nope', '--', 'true'], /--setenv nope: expected NAME=VALUE/);
  const noCmd = sandbox('--root', '/');
  t.equal(noCmd.status, 2, 'through the bin too');
});
