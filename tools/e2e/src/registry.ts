/**
 * A real registry for the tests: Debian's docker-registry on 127.0.0.1 with its
 * storage in a temp dir, and a counting proxy in front of it that a QEMU guest
 * reaches (as 10.0.2.2:PORT). The proxy counts the body bytes of every answer,
 * names the blobs it served, can throttle (to cut the power mid-pull) and lets
 * the host push straight to the registry without being counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { freePort } from './vm.js';

export const REGISTRY_CONFIG = resolve(import.meta.dirname, '../src/registry.yml');

export interface Registry {
  /** 127.0.0.1:PORT of the registry itself. */
  host: string;
  stop: () => Promise<void>;
}

export async function startRegistry(storage: string): Promise<Registry> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const logFile = join(dirname(storage), `registry-${port}.log`);
  const logFd = openSync(logFile, 'w');
  const child: ChildProcess = spawn('docker-registry', ['serve', REGISTRY_CONFIG], {
    env: { ...process.env, REGISTRY_HTTP_ADDR: host, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: storage },
    // To a file, not a pipe: a full pipe would stall the registry while a test waits on skopeo.
    stdio: ['ignore', 'ignore', logFd],
  });
  closeSync(logFd);
  const log = () => readFileSync(logFile, 'utf8').slice(-2000);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`);
    const ok = await fetch(`http://${host}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { host, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`docker-registry did not answer on ${host}: ${log()}`);
}

export interface ProxiedRequest {
  method: string;
  path: string;
  status: number;
  bytes: number;
  /** sha256:… when the request was for a blob. */
  blob: string | null;
}

/** Until a response can take more (or the client went away), without leaving listeners behind. */
function drained(res: import('node:http').ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export class RegistryProxy {
  private server: Server | undefined;
  port = 0;
  requests: ProxiedRequest[] = [];
  /** Body bytes per second for blob answers; 0 = as fast as possible. */
  throttle = 0;
  /** Called with the running total of body bytes after every chunk. */
  onBytes: ((total: number) => void) | undefined;

  constructor(private readonly upstream: string) {}

  get bytes(): number {
    return this.requests.reduce((n, r) => n + r.bytes, 0);
  }

  /** Blobs answered with their whole body (GET 200), by digest. */
  get blobsServed(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.requests)
      if (r.blob && r.method === 'GET' && r.status === 200) m.set(r.blob, (m.get(r.blob) ?? 0) + r.bytes);
    return m;
  }

  reset(): void {
    this.requests = [];
  }

  async listen(host = '127.0.0.1'): Promise<number> {
    const [upHost, upPort] = this.upstream.split(':');
    this.server = createServer((req, res) => {
      const entry: ProxiedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        status: 0,
        bytes: 0,
        blob: /\/blobs\/(sha256:[0-9a-f]{64})/.exec(req.url ?? '')?.[1] ?? null,
      };
      this.requests.push(entry);
      const up = request(
        {
          host: upHost,
          port: Number(upPort),
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: this.upstream },
        },
        (upRes) => {
          entry.status = upRes.statusCode ?? 0;
          res.writeHead(entry.status, upRes.headers);
          void (async () => {
            try {
              for await (const buf of upRes as AsyncIterable<Buffer>) {
                if (res.destroyed) return void upRes.destroy();
                res.write(buf);
                entry.bytes += buf.length;
                this.onBytes?.(this.bytes);
                if (this.throttle && entry.blob)
                  await new Promise((r) => setTimeout(r, (buf.length / this.throttle) * 1000));
                // Asked after the pause: a 'drain' during it has already happened and will not come again.
                if (res.writableNeedDrain && !res.destroyed) await drained(res);
              }
              res.end();
            } catch {
              res.destroy();
            }
          })();
        },
      );
      up.once('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, host, () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }
}
