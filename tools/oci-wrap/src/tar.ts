/**
 * A minimal, strict tar (POSIX ustar + pax) writer and streaming reader: the
 * format is small, and owning it means deterministic bytes on write (no host
 * uids, names or mtimes leak in) and a reader that refuses what it does not know.
 */
import { ToolError } from '@debian-atomic/lib';

export type EntryType = 'file' | 'link' | 'symlink' | 'directory';

export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** Hardlink or symlink target. */
  linkname?: string;
}

const TYPEFLAG: Record<EntryType, string> = { file: '0', link: '1', symlink: '2', directory: '5' };
const BLOCK = 512;

function octal(buf: Buffer, at: number, width: number, value: number): void {
  buf.write(value.toString(8).padStart(width - 1, '0') + '\0', at, width, 'ascii');
}

function ustarBlock(name: string, typeflag: string, h: { mode: number; uid: number; gid: number; size: number; mtime: number }, linkname = ''): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'utf8');
  octal(b, 100, 8, h.mode & 0o7777);
  octal(b, 108, 8, h.uid);
  octal(b, 116, 8, h.gid);
  octal(b, 124, 12, h.size);
  octal(b, 136, 12, h.mtime);
  b.fill(0x20, 148, 156);
  b.write(typeflag, 156, 1, 'ascii');
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** The header block(s) of one entry: a pax header first when a name or size does not fit ustar. */
export function encodeHeader(h: TarHeader): Buffer {
  const records: string[] = [];
  const name = h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  if (Buffer.byteLength(name) > 100) records.push(paxRecord('path', name));
  if (h.linkname !== undefined && Buffer.byteLength(h.linkname) > 100) records.push(paxRecord('linkpath', h.linkname));
  if (h.size > 0o77777777777) records.push(paxRecord('size', String(h.size)));
  const main = ustarBlock(
    Buffer.byteLength(name) > 100 ? name.slice(0, 99) : name,
    TYPEFLAG[h.type],
    { ...h, size: h.size > 0o77777777777 ? 0 : h.size },
    h.linkname !== undefined && Buffer.byteLength(h.linkname) <= 100 ? h.linkname : '',
  );
  if (!records.length) return main;
  const pax = Buffer.from(records.join(''), 'utf8');
  const paxHeader = ustarBlock('PaxHeaders/entry', 'x', { mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime: h.mtime }, '');
  return Buffer.concat([paxHeader, pax, padding(pax.length), main]);
}

/** One complete entry (header + content + padding). */
export function encodeEntry(h: TarHeader, content?: Buffer): Buffer[] {
  const parts = [encodeHeader(h)];
  if (content && content.length) parts.push(content, padding(content.length));
  return parts;
}

export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

export interface TarEntry {
  header: TarHeader;
  content: Buffer;
}

function bad(message: string): ToolError {
  return new ToolError('bad-tar', `invalid tar stream: ${message}`);
}

function cstring(b: Buffer, at: number, width: number): string {
  const s = b.subarray(at, at + width);
  const nul = s.indexOf(0);
  return (nul === -1 ? s : s.subarray(0, nul)).toString('utf8');
}

function number(b: Buffer, at: number, width: number): number {
  if ((b[at]! & 0x80) !== 0) {
    // GNU base-256 for large values.
    let v = 0;
    for (let i = at + 1; i < at + width; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = cstring(b, at, width).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw bad(`bad number field '${s}'`);
  return parseInt(s, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space === -1) throw bad('bad pax record');
    const len = parseInt(data.subarray(i, space).toString('ascii'), 10);
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) throw bad('bad pax record length');
    const rec = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq === -1) throw bad('bad pax record');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Reads exact byte counts from an async stream of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}
  async read(n: number): Promise<Buffer | undefined> {
    while (this.have < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else {
        const c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
        this.chunks.push(c);
        this.have += c.length;
      }
    }
    if (this.have < n) return this.have === 0 ? undefined : (() => { throw bad('truncated'); })();
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    return out;
  }
}

const MAX_ENTRY = 4 * 1024 * 1024 * 1024;

/** Entries of a tar stream; content is buffered per entry. Unknown entry types are refused. */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source[Symbol.asyncIterator]());
  let pax: Record<string, string> = {};
  let gnuName: string | undefined;
  let gnuLink: string | undefined;
  for (;;) {
    const block = await r.read(BLOCK);
    if (!block) return;
    if (block.every((x) => x === 0)) return;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (sum !== number(block, 148, 8)) throw bad('header checksum mismatch');
    const typeflag = String.fromCharCode(block[156]!);
    let size = number(block, 124, 12);
    if (pax.size !== undefined) size = Number(pax.size);
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_ENTRY) throw bad(`entry size ${size}`);
    const data = size ? ((await r.read(size + ((BLOCK - (size % BLOCK)) % BLOCK))) ?? Buffer.alloc(0)).subarray(0, size) : Buffer.alloc(0);
    if (data.length !== size) throw bad('truncated entry');
    if (typeflag === 'x') {
      pax = { ...pax, ...parsePax(data) };
      continue;
    }
    if (typeflag === 'g') continue;
    if (typeflag === 'L') {
      gnuName = cstring(data, 0, data.length);
      continue;
    }
    if (typeflag === 'K') {
      gnuLink = cstring(data, 0, data.length);
      continue;
    }
    const types: Record<string, EntryType> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '5': 'directory' };
    const type = types[typeflag];
    const prefix = cstring(block, 345, 155);
    const rawName = pax.path ?? gnuName ?? (prefix ? `${prefix}/${cstring(block, 0, 100)}` : cstring(block, 0, 100));
    if (!type) throw bad(`${rawName}: unsupported entry type '${typeflag === '\0' ? '\\0' : typeflag}'`);
    const linkname = pax.linkpath ?? gnuLink ?? cstring(block, 157, 100);
    const header: TarHeader = {
      name: rawName,
      type,
      mode: number(block, 100, 8),
      uid: pax.uid !== undefined ? Number(pax.uid) : number(block, 108, 8),
      gid: pax.gid !== undefined ? Number(pax.gid) : number(block, 116, 8),
      size,
      mtime: number(block, 136, 12),
      ...(type === 'link' || type === 'symlink' ? { linkname } : {}),
    };
    pax = {};
    gnuName = undefined;
    gnuLink = undefined;
    yield { header, content: data };
  }
}
