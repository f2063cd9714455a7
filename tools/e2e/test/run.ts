/**
 * `make run`: the variant's image boots with the serial console on the terminal and a person is
 * logged in without a password or autologin in the image (systemd credentials through SMBIOS);
 * SSH answers on the printed port with the printed key; Ctrl-a x quits; the image is unchanged.
 * Driven as a person would: `make run` with its stdin and stdout as the terminal. A desktop's
 * `make run` also has a screen (VNC on 127.0.0.1 when there is no display).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { run } from '@debian-atomic/lib';
import { BUILD, ROOT, VARIANT } from './fixtures/images.js';

const LIMIT_MS = 900_000;

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

t.test(`make run VARIANT=${VARIANT}: a logged-in shell on the serial console, SSH, the image untouched`, async (t) => {
  const disk = join(BUILD, 'disk.qcow2');
  t.ok(existsSync(disk), `${disk} exists (make run-test builds it)`);
  const before = await sha256(disk);
  const env = { ...process.env, RUN_TIMEOUT: String(LIMIT_MS / 1000 + 60), VARIANT };
  const proc = spawn('make', ['--no-print-directory', '-s', 'run'], {
    cwd: ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.teardown(() => proc.kill('SIGKILL'));
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  const waitFor = async (what: string, test: () => boolean, ms = LIMIT_MS) => {
    const start = Date.now();
    while (!test()) {
      if (proc.exitCode !== null)
        throw new Error(
          `make run exited (${proc.exitCode}) while waiting for ${what}; stderr: ${err.slice(-500)}; console: ${out.slice(-1500)}`,
        );
      if (Date.now() - start > ms) throw new Error(`no ${what} after ${ms / 1000} s; console: ${out.slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    return Date.now() - start;
  };

  await waitFor('SSH line on stderr', () => /ssh -i \S+ -p \d+/.test(err), 60_000);
  const [, key, port] = /ssh -i (\S+) -p (\d+)/.exec(err)!;
  t.pass(`make run printed the SSH command: port ${port}`);

  // A root shell prompt on the serial console, with no password typed: root@host:~# (kernel
  // messages may follow it on the same line: the console is shared).
  const prompt = /root@[A-Za-z0-9.-]+:[^\n#]*# /;
  const ms = await waitFor('root shell prompt on the serial console', () => prompt.test(out));
  t.pass(`logged in on the serial console after ${Math.round(ms / 1000)} s (host clock)`);
  t.notMatch(out, /Password:/, 'no password was asked for');
  proc.stdin.write('echo RUN-$((6*7)) $(id -un) $(systemctl is-system-running --wait)\n');
  await waitFor('the shell answering', () => /RUN-42 root \S+/.test(out), 300_000);
  t.match(out, /RUN-42 root (running|degraded)/, 'the console shell is root on a booted system');

  const guest = (cmd: string) =>
    run(
      'ssh',
      [
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'LogLevel=ERROR',
        '-o',
        'BatchMode=yes',
        '-i',
        join(ROOT, key!),
        '-p',
        port!,
        'root@127.0.0.1',
        cmd,
      ],
      { timeout: 120_000 },
    );
  const ssh = await guest('ostree admin status; findmnt -no OPTIONS /usr');
  t.match(
    ssh.stdout,
    /^\* debian [0-9a-f]{64}\.0/m,
    'SSH on the printed port with the printed key: the ostree deployment is booted',
  );
  t.match(ssh.stdout, /(^|,)ro(,|$)/m, '/usr is read-only');
  // The credentials belong to this boot: nothing in the image's /etc or /usr enables autologin.
  t.equal(
    (await guest('grep -rls -e --autologin -e login.noauth /etc/systemd /usr/lib/systemd/system || true')).stdout,
    '',
    'no unit or drop-in in the image logs anyone in',
  );
  t.match(
    (await guest('ls /run/credentials/@system')).stdout,
    /agetty\.autologin/,
    'autologin came from a credential of this boot',
  );

  proc.stdin.write('\x01x');
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 30_000))]);
  t.equal(code, 0, 'Ctrl-a x quits QEMU and make run exits 0');
  t.equal(await sha256(disk), before, 'the image on disk is byte-identical after the session');
});

t.test("a desktop's make run: a VNC screen on 127.0.0.1, the serial console still on the terminal", async (t) => {
  // Any image will do to see QEMU's screen and console: a treefile whose default target is
  // graphical.target (what workstation and kde have) is what makes run-vm.sh give it a screen.
  const dir = t.testdir({ 'treefile.json': JSON.stringify({ 'default-target': 'graphical.target' }) });
  const env: NodeJS.ProcessEnv = { ...process.env, RUN_TIMEOUT: '300', RUN_KEY_DIR: join(dir, 'key') };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  delete env.RUN_DISPLAY;
  const proc = spawn(
    join(ROOT, 'scripts/run-vm.sh'),
    [join(BUILD, 'disk.qcow2'), 'qcow2', join(dir, 'treefile.json')],
    { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  t.teardown(() => proc.kill('SIGKILL'));
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const until = async (what: string, test: () => boolean, ms: number) => {
    for (const start = Date.now(); !test(); await new Promise((r) => setTimeout(r, 250))) {
      if (proc.exitCode !== null) throw new Error(`run-vm.sh exited (${proc.exitCode}) before ${what}: ${err}`);
      if (Date.now() - start > ms) throw new Error(`no ${what} after ${ms / 1000} s: ${err}`);
    }
  };
  await until('VNC line', () => /VNC viewer on 127\.0\.0\.1:\d+/.test(err), 60_000);
  const vnc = Number(/VNC viewer on 127\.0\.0\.1:(\d+)/.exec(err)![1]);
  t.ok(vnc >= 5900 && vnc < 6000, `no $DISPLAY: the screen is VNC on 127.0.0.1:${vnc}`);
  // QEMU's VNC server greets with its protocol version (RFB 003.008) as soon as it listens.
  let banner = '';
  await until(
    'RFB greeting',
    () => {
      if (banner) return true;
      const sock = connect(vnc, '127.0.0.1');
      sock.on('data', (d) => ((banner ||= d.toString('latin1')), sock.destroy()));
      sock.on('error', () => sock.destroy());
      return false;
    },
    60_000,
  );
  t.match(banner, /^RFB \d{3}\.\d{3}\n$/, `a VNC server answers: ${JSON.stringify(banner)}`);
  // The firmware's and the kernel's messages still come to this terminal (-serial mon:stdio).
  await until('serial output', () => /BdsDxe|Linux version|GRUB/.test(out), 240_000);
  t.pass('the serial console is on the terminal beside the screen');
  proc.stdin.write('\x01x');
  await until('QEMU quitting on Ctrl-a x', () => proc.exitCode !== null, 30_000).catch(() => undefined);
  t.equal(proc.exitCode, 0, 'Ctrl-a x quits it, as without a screen');
});
