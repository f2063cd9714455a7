/**
 * A static HTTP server for an OSTree archive repository: what `ostree pull`
 * needs (GET and HEAD of plain files, 404 otherwise) and no more. It counts the
 * bytes it sends, so tests measure what an upgrade transfers; it can throttle
 * (to cut the power in the middle of a pull) and serve another directory (a
 * tampered copy) without changing the URL baked into the image.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize, sep } from 'node:path';

export interface ServedRequest {
  path: string;
  status: number;
  bytes: number;
}

export class RepoServer {
  private server: Server | undefined;
  port = 0;
  /** Every request since the last reset(), with the body bytes sent. */
  requests: ServedRequest[] = [];
  /** Body bytes per second; 0 = as fast as possible. */
  throttle = 0;
  /** Called with the running total of body bytes after every chunk. */
  onBytes: ((total: number) => void) | undefined;

  constructor(public root: string) {}

  get bytes(): number {
    return this.requests.reduce((n, r) => n + r.bytes, 0);
  }

  reset(): void {
    this.requests = [];
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    this.server = createServer((req, res) => void this.handle(req.method ?? 'GET', req.url ?? '/', res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
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

  private async handle(method: string, url: string, res: import('node:http').ServerResponse): Promise<void> {
    const path = decodeURIComponent(url.split('?')[0]!);
    const entry: ServedRequest = { path, status: 404, bytes: 0 };
    this.requests.push(entry);
    const rel = normalize(path).replace(/^(\.\.(\/|$))+/, '');
    const file = join(this.root, rel);
    const st = file.startsWith(this.root + sep) || file === this.root ? await stat(file).catch(() => null) : null;
    if ((method !== 'GET' && method !== 'HEAD') || !st?.isFile()) {
      res.writeHead(method === 'GET' || method === 'HEAD' ? 404 : 405, { 'content-length': 0 }).end();
      entry.status = res.statusCode;
      return;
    }
    entry.status = 200;
    res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' });
    if (method === 'HEAD') return void res.end();
    const chunk = this.throttle ? Math.max(1024, Math.floor(this.throttle / 10)) : 64 * 1024;
    const stream = createReadStream(file, { highWaterMark: chunk });
    res.once('close', () => stream.destroy());
    try {
      for await (const buf of stream as AsyncIterable<Buffer>) {
        if (res.destroyed) return;
        res.write(buf);
        entry.bytes += buf.length;
        this.onBytes?.(this.bytes);
        if (this.throttle) await new Promise((r) => setTimeout(r, (buf.length / this.throttle) * 1000));
        // Asked after the pause: a 'drain' during it has already happened and will not come again.
        if (res.writableNeedDrain && !res.destroyed) await new Promise((r) => res.once('drain', r).once('close', r));
      }
      res.end();
    } catch {
      // The client went away mid-file (a power cut in the guest): what was sent is counted.
      res.destroy();
    }
  }
}
