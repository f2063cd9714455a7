/**
 * `make run`: the variant's image boots with the serial console on the terminal and a person is
 * logged in without a password or autologin in the image (systemd credentials through SMBIOS);
 * SSH answers on the printed port with the printed key; Ctrl-a x quits; the image is unchanged.
 * Driven as a person would: `make run` with its stdin and stdout as the terminal. A desktop's
 * `make run` also has a screen (VNC on 127.0.0.1 when there is no display).
 */
import t, { type Test } from 'tap';
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

/** A terminal session: CMD with stdin, stdout and stderr as pipes (out and err collect them), killed when the test ends. */
function session(t: Test, cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const proc = spawn(cmd, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => proc.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  const s = {
    proc,
    out: '',
    err: '',
    /** Wait until TEST holds (checked every 500 ms): fails when CMD exits first or after MS. Returns the ms waited. */
    waitFor: async (what: string, test: () => boolean, ms = LIMIT_MS): Promise<number> => {
      const start = Date.now();
      while (!test()) {
        if (proc.exitCode !== null)
          throw new Error(
            `${cmd} exited (${proc.exitCode}) while waiting for ${what}; stderr: ${s.err.slice(-500)}; console: ${s.out.slice(-1500)}`,
          );
        if (Date.now() - start > ms) throw new Error(`no ${what} after ${ms / 1000} s; console: ${s.out.slice(-1500)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      return Date.now() - start;
    },
    /** Ctrl-a x, QEMU's quit key on its serial console: CMD's exit status, or 'timeout' after 30 s. */
    quit: (): Promise<number | null | 'timeout'> => {
      proc.stdin.write('\x01x');
      return Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    },
  };
  proc.stdout.on('data', (d: Buffer) => (s.out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (s.err += d.toString()));
  return s;
}

/** The first bytes a TCP server on 127.0.0.1:PORT sends, or the connection's error. */
function firstBytes(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('data', (d) => (resolve(d.toString('latin1')), sock.destroy()));
    sock.once('error', reject);
  });
}

t.test(`make run VARIANT=${VARIANT}: a logged-in shell on the serial console, SSH, the image untouched`, async (t) => {
  const disk = join(BUILD, 'disk.qcow2');
  t.ok(existsSync(disk), `${disk} exists (make run-test builds it)`);
  const before = await sha256(disk);
  const env = { ...process.env, RUN_TIMEOUT: String(LIMIT_MS / 1000 + 60), VARIANT };
  const s = session(t, 'make', ['--no-print-directory', '-s', 'run'], env);

  await s.waitFor('SSH line on stderr', () => /ssh -i \S+ -p \d+/.test(s.err), 60_000);
  const [, key, port] = /ssh -i (\S+) -p (\d+)/.exec(s.err)!;
  t.pass(`make run printed the SSH command: port ${port}`);

  // A root shell prompt on the serial console, with no password typed: root@host:~# (kernel
  // messages may follow it on the same line: the console is shared).
  const prompt = /root@[A-Za-z0-9.-]+:[^\n#]*# /;
  const ms = await s.waitFor('root shell prompt on the serial console', () => prompt.test(s.out));
  t.pass(`logged in on the serial console after ${Math.round(ms / 1000)} s (host clock)`);
  t.notMatch(s.out, /Password:/, 'no password was asked for');
  s.proc.stdin.write('echo RUN-$((6*7)) $(id -un) $(systemctl is-system-running --wait)\n');
  await s.waitFor('the shell answering', () => /RUN-42 root \S+/.test(s.out), 300_000);
  t.match(s.out, /RUN-42 root (running|degraded)/, 'the console shell is root on a booted system');

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

  const code = await s.quit();
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
  const s = session(
    t,
    join(ROOT, 'scripts/run-vm.sh'),
    [join(BUILD, 'disk.qcow2'), 'qcow2', join(dir, 'treefile.json')],
    env,
  );
  await s.waitFor('VNC line', () => /VNC viewer on 127\.0\.0\.1:\d+/.test(s.err), 60_000);
  const vnc = Number(/VNC viewer on 127\.0\.0\.1:(\d+)/.exec(s.err)![1]);
  t.ok(vnc >= 5900 && vnc < 6000, `no $DISPLAY: the screen is VNC on 127.0.0.1:${vnc}`);
  // QEMU's VNC server greets with its protocol version (RFB 003.008) as soon as it listens.
  let banner = '';
  for (const start = Date.now(); !banner;) {
    banner = await firstBytes(vnc).catch(async (e: Error) => {
      if (Date.now() - start > 60_000) throw new Error(`no RFB greeting on 127.0.0.1:${vnc} after 60 s: ${e.message}`);
      return new Promise<string>((r) => setTimeout(() => r(''), 250));
    });
  }
  t.match(banner, /^RFB \d{3}\.\d{3}\n$/, `a VNC server answers: ${JSON.stringify(banner)}`);
  // The firmware's and the kernel's messages still come to this terminal (-serial mon:stdio).
  await s.waitFor('serial output', () => /BdsDxe|Linux version|GRUB/.test(s.out), 240_000);
  t.pass('the serial console is on the terminal beside the screen');
  const code = await s.quit();
  t.equal(code, 0, 'Ctrl-a x quits it, as without a screen');
});
