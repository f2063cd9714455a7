/**
 * A QEMU virtual machine for tests: UEFI (OVMF, a fresh copy of the variables
 * per boot, else stale boot entries drop it into the EFI shell), TCG (KVM is
 * not usable here), always under a timeout, serial console logged to a file,
 * SSH forwarded from a free port on 127.0.0.1. Never interactive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, copyFile, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { run, shellQuote, ToolError } from '@debian-atomic/lib';

export { shellQuote };

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
/** Secure Boot as on a PC: firmware that enforces it (needs SMM) and variables with Microsoft's keys enrolled. */
export const OVMF_CODE_SECBOOT = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd';
export const OVMF_VARS_MS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';

/** DEBIAN_ATOMIC_SECURE_BOOT=1 boots every test VM with Secure Boot on (make secureboot-test runs the update test so). */
export function secureBootFromEnv(): boolean {
  return process.env.DEBIAN_ATOMIC_SECURE_BOOT === '1';
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface VmOptions {
  disk: string;
  format: 'qcow2' | 'raw';
  serialLog: string;
  sshKey: string;
  user: string;
  /** The user's password, for sudo in the guest. */
  password: string;
  /** Hard limit for the whole VM run, in seconds. */
  timeout: number;
  memoryMiB?: number;
  /** Discard writes (qemu -snapshot): the image stays as built. */
  snapshot?: boolean;
  /** More qemu arguments (extra devices). */
  extraArgs?: string[];
  /** Secure Boot on (Microsoft keys); default: DEBIAN_ATOMIC_SECURE_BOOT=1. */
  secureBoot?: boolean;
  /** An ISO in a CD-ROM drive (AHCI), booted first. */
  cdrom?: string;
  /** The serial console on a Unix socket too (the log still gets everything): typeOnSerial() answers prompts. */
  serialInput?: boolean;
  /**
   * A graphics card (QEMU's std VGA or virtio-vga) drawn to no window, and the QEMU monitor on a
   * Unix socket so that screendump() can take what the screen shows. Default: no display at all.
   */
  display?: 'std' | 'virtio';
  /** QEMU's -cpu (default max: every feature TCG emulates). */
  cpu?: string;
}

export class Vm {
  private proc: ChildProcess | undefined;
  port = 0;
  private vars = '';
  private exited: Promise<number | null> = Promise.resolve(null);

  constructor(readonly o: VmOptions) {}

  async start(): Promise<void> {
    this.port = await freePort();
    this.vars = `${this.o.serialLog}.vars.fd`;
    const sb = this.secureBoot;
    await copyFile(sb ? OVMF_VARS_MS : OVMF_VARS, this.vars);
    await rm(this.o.serialLog, { force: true });
    await rm(this.serialSocket, { force: true });
    await rm(this.monitorSocket, { force: true });
    const args = [
      '--foreground',
      '-k',
      '5',
      String(this.o.timeout),
      'qemu-system-x86_64',
      '-accel',
      'tcg',
      '-cpu',
      this.o.cpu ?? 'max',
      '-m',
      String(this.o.memoryMiB ?? 2048),
      '-smp',
      '2',
      ...(sb
        ? ['-machine', 'q35,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on']
        : ['-machine', 'q35']),
      ...(this.o.display
        ? ['-display', 'none', '-vga', this.o.display, '-monitor', `unix:${this.monitorSocket},server=on,wait=off`]
        : ['-nographic', '-monitor', 'none']),
      ...(this.o.serialInput
        ? [
            '-chardev',
            `socket,id=ser0,path=${this.serialSocket},server=on,wait=off,logfile=${this.o.serialLog}`,
            '-serial',
            'chardev:ser0',
          ]
        : ['-serial', `file:${this.o.serialLog}`]),
      '-drive',
      `if=pflash,format=raw,readonly=on,file=${sb ? OVMF_CODE_SECBOOT : OVMF_CODE}`,
      '-drive',
      `if=pflash,format=raw,file=${this.vars}`,
      '-drive',
      `if=virtio,format=${this.o.format},file=${this.o.disk}${this.o.snapshot ? ',snapshot=on' : ''}`,
      '-netdev',
      `user,id=n0,hostfwd=tcp:127.0.0.1:${this.port}-:22`,
      '-device',
      'virtio-net-pci,netdev=n0',
      '-device',
      'virtio-rng-pci',
      ...(this.o.cdrom
        ? [
            '-drive',
            `if=none,id=cd0,media=cdrom,readonly=on,format=raw,file=${this.o.cdrom}`,
            '-device',
            'ide-cd,drive=cd0,bootindex=0',
          ]
        : []),
      ...(this.o.extraArgs ?? []),
    ];
    // Its own process group, so that a power cut kills timeout and qemu together.
    this.proc = spawn('timeout', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    this.proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    this.exited = new Promise((resolve) => this.proc!.once('exit', (code) => resolve(code)));
    void this.exited.then((code) => {
      if (code !== 0 && code !== null && stderr) process.stderr.write(`qemu exited ${code}: ${stderr}\n`);
    });
  }

  get serialSocket(): string {
    return `${this.o.serialLog}.sock`;
  }

  get monitorSocket(): string {
    return `${this.o.serialLog}.monitor`;
  }

  /** A QEMU monitor (HMP) command (display: set): what the monitor answered before its next prompt. */
  async monitor(command: string, timeoutMs = 60_000): Promise<string> {
    if (!this.o.display) throw new Error('monitor() needs a VM started with a display');
    return new Promise<string>((resolve, reject) => {
      let buf = '';
      let sent = false;
      const c = createConnection(this.monitorSocket);
      const timer = setTimeout(() => {
        c.destroy();
        reject(
          new ToolError('vm-timeout', `the QEMU monitor did not answer '${command}' within ${timeoutMs / 1000} s`),
        );
      }, timeoutMs);
      c.on('data', (d: Buffer) => {
        buf += d.toString();
        if (!sent && buf.includes('(qemu) ')) {
          sent = true;
          buf = '';
          c.write(`${command}\n`);
        } else if (sent && buf.includes('(qemu) ')) {
          clearTimeout(timer);
          c.end();
          // eslint-disable-next-line no-control-regex
          const text = buf.replace(/\x1b\[[0-9;]*[A-Za-z]|\r/g, '').split('(qemu) ')[0]!;
          resolve(text.split('\n').slice(1).join('\n').trim());
        }
      });
      c.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** What the screen shows, as a file QEMU writes (png or ppm); rejects when QEMU reports an error. */
  async screendump(file: string, format: 'png' | 'ppm' = 'png'): Promise<void> {
    await rm(file, { force: true });
    const answer = await this.monitor(`screendump ${file} -f ${format}`);
    if (answer) throw new ToolError('screendump', `screendump ${file}: ${answer}`);
    await access(file);
  }

  /** Wait until QEMU exits (the guest powered off); its exit code, or a timeout error. */
  async waitForExit(limitMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          void this.serialTail().then((tail) =>
            reject(
              new ToolError(
                'vm-timeout',
                `the VM did not power off within ${Math.round(limitMs / 1000)} s; serial log: ${this.o.serialLog}`,
                { detail: tail },
              ),
            ),
          ),
        limitMs,
      );
    });
    try {
      return await Promise.race([this.exited, limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Wait until the serial console has printed a match of `pattern` (counting from `from` characters in). */
  async waitForSerial(pattern: RegExp, limitMs: number, from = 0): Promise<{ match: RegExpExecArray; end: number }> {
    const start = Date.now();
    while (Date.now() - start < limitMs) {
      // eslint-disable-next-line no-control-regex
      const text = (await readFile(this.o.serialLog, 'utf8').catch(() => ''))
        .slice(from)
        .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
      const match = pattern.exec(text);
      if (match) return { match, end: from + match.index + match[0].length };
      if (!this.running)
        throw new ToolError(
          'vm-exited',
          `the VM exited before the console showed ${pattern}; serial log: ${this.o.serialLog}`,
          { detail: await this.serialTail() },
        );
      await new Promise((r) => setTimeout(r, 2000));
    }
    throw new ToolError(
      'vm-timeout',
      `the console did not show ${pattern} within ${Math.round(limitMs / 1000)} s; serial log: ${this.o.serialLog}`,
      { detail: await this.serialTail() },
    );
  }

  /** Type on the serial console (serialInput: true), as a person at a terminal would; Enter is "\r". */
  async typeOnSerial(text: string): Promise<void> {
    if (!this.o.serialInput) throw new Error('typeOnSerial needs a VM started with serialInput: true');
    await new Promise<void>((resolve, reject) => {
      const c = createConnection(this.serialSocket, () => {
        c.end(text, () => resolve());
      });
      c.once('error', reject);
    });
  }

  get secureBoot(): boolean {
    return this.o.secureBoot ?? secureBootFromEnv();
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  sshArgs(cmd: string, connectTimeout = 10): string[] {
    return [
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'LogLevel=ERROR',
      '-o',
      'BatchMode=yes',
      '-o',
      `ConnectTimeout=${connectTimeout}`,
      // A guest that does not answer for 2 minutes is gone: 30 s was too short for a TCG guest
      // starting a desktop on a loaded host (ssh exited 255, silently at LogLevel=ERROR). The
      // command's own timeout still bounds the whole call.
      '-o',
      'ServerAliveInterval=5',
      '-o',
      'ServerAliveCountMax=24',
      '-i',
      this.o.sshKey,
      '-p',
      String(this.port),
      `${this.o.user}@127.0.0.1`,
      cmd,
    ];
  }

  /** Run a shell command in the guest; rejects with its output when it fails. */
  async ssh(cmd: string, timeoutMs = 120_000): Promise<string> {
    return (await run('ssh', this.sshArgs(cmd), { timeout: timeoutMs, what: `in the guest: ${cmd}` })).stdout;
  }

  /** Exit status and output of a guest command, without throwing. */
  async sshStatus(cmd: string, timeoutMs = 120_000): Promise<{ code: number; out: string }> {
    return run('ssh', this.sshArgs(cmd), { timeout: timeoutMs }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: ToolError) => ({ code: Number(/exit (\d+)/.exec(e.summary)?.[1] ?? 255), out: e.output ?? '' }),
    );
  }

  /** Wait until SSH answers (sshd up and the user can log in). */
  async waitForSsh(limitMs: number): Promise<number> {
    const start = Date.now();
    while (Date.now() - start < limitMs) {
      if (!this.running)
        throw new ToolError('vm-exited', `the VM exited before SSH came up; serial log: ${this.o.serialLog}`, {
          detail: await this.serialTail(),
        });
      const ok = await run('ssh', this.sshArgs('true', 15), { timeout: 40_000 }).then(
        () => true,
        () => false,
      );
      if (ok) return Date.now() - start;
      await new Promise((r) => setTimeout(r, 5000));
    }
    throw new ToolError('vm-timeout', `no SSH after ${Math.round(limitMs / 1000)} s; serial log: ${this.o.serialLog}`, {
      detail: await this.serialTail(),
    });
  }

  /** The id of the running boot (a reboot changes it). */
  async bootId(): Promise<string> {
    return (await this.ssh('cat /proc/sys/kernel/random/boot_id')).trim();
  }

  /** The kernel command line the guest booted with, an argument an item. */
  async cmdline(): Promise<string[]> {
    return (await this.ssh('cat /proc/cmdline')).trim().split(/\s+/);
  }

  /** Wait until the boot's jobs are done: oneshots (hwdetect.service) do not hold up SSH. */
  async settled(): Promise<void> {
    await this.ssh('systemctl is-system-running --wait || true', 600_000);
  }

  /** Reboot from inside and wait for the new boot's SSH; returns the new boot id. */
  async reboot(limitMs: number): Promise<string> {
    const oldBootId = await this.bootId();
    await this.sshStatus(this.sudoCmd('systemctl reboot'));
    const start = Date.now();
    while (Date.now() - start < limitMs) {
      await new Promise((r) => setTimeout(r, 5000));
      const r = await run('ssh', this.sshArgs('cat /proc/sys/kernel/random/boot_id', 15), { timeout: 40_000 }).catch(
        () => null,
      );
      const id = r?.stdout.trim();
      if (id && id !== oldBootId) return id;
    }
    throw new ToolError('vm-timeout', `the guest did not come back after reboot; serial log: ${this.o.serialLog}`, {
      detail: await this.serialTail(),
    });
  }

  async serialTail(lines = 30): Promise<string> {
    const text = await readFile(this.o.serialLog, 'utf8').catch(() => '');
    // eslint-disable-next-line no-control-regex
    return text
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      .split('\n')
      .slice(-lines)
      .join('\n');
  }

  /** Cut the power (SIGKILL): what a power failure does. */
  async kill(): Promise<void> {
    if (this.running) process.kill(-this.proc!.pid!, 'SIGKILL');
    await this.exited;
  }

  /**
   * Run a guest command as root and cut the power when its output matches (or right after it
   * ends, when it never does or no pattern is given): the host SIGKILLs QEMU.
   */
  async cutPowerWhen(cmd: string, pattern: RegExp | null): Promise<{ matched: boolean; out: string }> {
    const child = spawn('ssh', this.sshArgs(this.sudoCmd(cmd)), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let matched = false;
    await new Promise<void>((resolve) => {
      const onData = (c: Buffer) => {
        out += c.toString();
        if (!matched && pattern?.test(out)) {
          matched = true;
          void this.kill().then(resolve);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', () => void (matched ? undefined : this.kill().then(resolve)));
    });
    child.kill();
    return { matched, out };
  }

  /** A command as root in the guest (sudo with the test user's password on stdin). */
  sudo(cmd: string, timeoutMs?: number): Promise<string> {
    return this.ssh(this.sudoCmd(cmd), timeoutMs);
  }

  sudoCmd(cmd: string): string {
    return `echo '${this.o.password}' | sudo -S -p '' sh -c ${shellQuote(cmd)}`;
  }

  async stop(): Promise<void> {
    if (this.running) {
      await this.sshStatus(this.sudoCmd('systemctl poweroff'));
      const t = setTimeout(() => this.running && process.kill(-this.proc!.pid!, 'SIGKILL'), 60_000);
      await this.exited;
      clearTimeout(t);
    }
    await rm(this.vars, { force: true });
  }
}
