/**
 * A minimal, strict tar (POSIX ustar + pax) writer and streaming reader: the
 * format is small, and owning it means deterministic bytes on write (no host
 * uids, names or mtimes leak in) and a reader that refuses what it does not know.
 */
import { ToolError } from '@debian-atomic/lib';

/** A name from the archive, quoted (control characters escaped) and cut, for a message. */
const shown = (s: string): string => JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s);

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

function ustarBlock(
  name: string,
  typeflag: string,
  h: { mode: number; uid: number; gid: number; size: number; mtime: number },
  linkname = '',
): Buffer {
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
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

/** The zero bytes that fill an entry's content to a whole block. */
export function padding(size: number): Buffer {
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
  const paxHeader = ustarBlock(
    'PaxHeaders/entry',
    'x',
    { mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime: h.mtime },
    '',
  );
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

/**
 * One entry of a streamed archive: its content is read from `body` as it is consumed.
 * Consume it (or leave it) before asking for the next entry; what is left is skipped.
 */
export interface TarStreamEntry {
  header: TarHeader;
  body: AsyncIterable<Buffer>;
}

export interface TarLimits {
  /** Largest pax or GNU long-name header, and largest sum of them before one entry (held in memory). */
  metadataBytes?: number;
  /** Largest entry size a header may declare. */
  entryBytes?: number;
}

/** Pax and GNU long-name headers: a path is at most PATH_MAX, so 1 MiB is more than any real one. */
export const MAX_METADATA = 1 << 20;
export const MAX_ENTRY = 4 * 1024 * 1024 * 1024;
const MAX_ID = 0xffffffff;

function bad(message: string): ToolError {
  return new ToolError('bad-tar', `invalid tar stream: ${message}`, { exitCode: 2 });
}

function cstring(b: Buffer, at: number, width: number): string {
  const s = b.subarray(at, at + width);
  const nul = s.indexOf(0);
  return (nul === -1 ? s : s.subarray(0, nul)).toString('utf8');
}

function number(b: Buffer, at: number, width: number, field: string): number {
  if ((b[at]! & 0x80) !== 0) {
    // GNU base-256 for large values; 0xff first is a negative number, which no field here may be.
    if (b[at] === 0xff) throw bad(`negative ${field}`);
    let v = b[at]! & 0x7f;
    for (let i = at + 1; i < at + width; i++) v = v * 256 + b[i]!;
    if (!Number.isSafeInteger(v)) throw bad(`${field} out of range`);
    return v;
  }
  const s = cstring(b, at, width).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw bad(`bad ${field} field ${shown(s)}`);
  return parseInt(s, 8);
}

/** A pax numeric record: decimal digits only (pax uid/gid/size are non-negative integers). */
function paxNumber(pax: Record<string, string>, key: string, max: number): number | undefined {
  const v = pax[key];
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,16}$/.test(v)) throw bad(`pax ${key} ${JSON.stringify(v.slice(0, 40))} is not a non-negative integer`);
  const n = Number(v);
  if (n > max) throw bad(`pax ${key} ${v} is out of range (at most ${max})`);
  return n;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space === -1 || space - i > 12) throw bad('bad pax record');
    const digits = data.subarray(i, space).toString('ascii');
    const len = /^[0-9]+$/.test(digits) ? Number(digits) : NaN;
    if (!Number.isInteger(len) || len <= space - i + 1 || i + len > data.length || data[i + len - 1] !== 0x0a)
      throw bad('bad pax record length');
    const rec = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq === -1) throw bad('bad pax record');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Reads exact byte counts, or streams a byte range, from an async stream of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async pull(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    this.chunks.push(c);
    this.have += c.length;
    return true;
  }

  /** Exactly n bytes (n small: a header block, a pax header), or undefined at a clean end. */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.have < n && (await this.pull()));
    if (this.have < n) {
      if (this.have === 0) return undefined;
      throw bad('truncated');
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    return out;
  }

  /** At most n bytes, as they arrive (never more than one source chunk held); undefined at the end. */
  async chunk(n: number): Promise<Buffer | undefined> {
    if (this.have === 0 && !(await this.pull())) return undefined;
    const first = this.chunks[0]!;
    if (first.length <= n) {
      this.chunks.shift();
      this.have -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(n);
    this.have -= n;
    return first.subarray(0, n);
  }
}

/**
 * Entries of a tar stream, their contents streamed: only headers (and pax / GNU long-name
 * headers, bounded by limits.metadataBytes) are held in memory. Unknown entry types are refused.
 */
export async function* readTarStream(
  source: AsyncIterable<Buffer>,
  limits: TarLimits = {},
): AsyncGenerator<TarStreamEntry> {
  const maxMeta = limits.metadataBytes ?? MAX_METADATA;
  const maxEntry = limits.entryBytes ?? MAX_ENTRY;
  const r = new ByteReader(source[Symbol.asyncIterator]());
  let pax: Record<string, string> = Object.create(null) as Record<string, string>;
  let gnuName: string | undefined;
  let gnuLink: string | undefined;
  let metaBytes = 0;
  const skip = async (n: number) => {
    while (n > 0) {
      const c = await r.chunk(n);
      if (!c) throw bad('truncated entry');
      n -= c.length;
    }
  };
  for (;;) {
    const block = await r.read(BLOCK);
    if (!block) return;
    if (block.every((x) => x === 0)) return;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (sum !== number(block, 148, 8, 'checksum')) throw bad('header checksum mismatch');
    const typeflag = String.fromCharCode(block[156]!);
    const size = paxNumber(pax, 'size', Number.MAX_SAFE_INTEGER) ?? number(block, 124, 12, 'size');
    if (size > maxEntry) throw bad(`entry size ${size} is more than the ${maxEntry} bytes an entry may have`);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      metaBytes += size;
      if (size > maxMeta || metaBytes > maxMeta)
        throw bad(
          `${typeflag === 'L' || typeflag === 'K' ? 'GNU long name' : 'pax'} header of ${size} bytes (more than ${maxMeta} bytes of headers for one entry)`,
        );
      const data = size ? (await r.read(size + pad))?.subarray(0, size) : Buffer.alloc(0);
      if (!data) throw bad('truncated entry');
      if (typeflag === 'x') pax = { ...pax, ...parsePax(data) };
      else if (typeflag === 'L') gnuName = cstring(data, 0, data.length);
      else if (typeflag === 'K') gnuLink = cstring(data, 0, data.length);
      continue;
    }
    const types: Record<string, EntryType> = {
      '0': 'file',
      '\0': 'file',
      '7': 'file',
      '1': 'link',
      '2': 'symlink',
      '5': 'directory',
    };
    const type = types[typeflag];
    const prefix = cstring(block, 345, 155);
    const rawName = pax.path ?? gnuName ?? (prefix ? `${prefix}/${cstring(block, 0, 100)}` : cstring(block, 0, 100));
    if (!type)
      throw bad(
        `${shown(rawName)}: unsupported entry type '${/^[\x21-\x7e]$/.test(typeflag) ? typeflag : `\\x${block[156]!.toString(16).padStart(2, '0')}`}'`,
      );
    const linkname = pax.linkpath ?? gnuLink ?? cstring(block, 157, 100);
    const header: TarHeader = {
      name: rawName,
      type,
      mode: number(block, 100, 8, 'mode'),
      uid: paxNumber(pax, 'uid', MAX_ID) ?? number(block, 108, 8, 'uid'),
      gid: paxNumber(pax, 'gid', MAX_ID) ?? number(block, 116, 8, 'gid'),
      size,
      mtime: number(block, 136, 12, 'mtime'),
      ...(type === 'link' || type === 'symlink' ? { linkname } : {}),
    };
    if (header.uid > MAX_ID || header.gid > MAX_ID) throw bad(`${shown(rawName)}: uid/gid out of range`);
    pax = Object.create(null) as Record<string, string>;
    gnuName = undefined;
    gnuLink = undefined;
    metaBytes = 0;
    let left = size;
    const body = (async function* () {
      while (left > 0) {
        const c = await r.chunk(left);
        if (!c) throw bad(`${shown(rawName)}: truncated entry`);
        left -= c.length;
        yield c;
      }
    })();
    yield { header, body };
    await skip(left);
    await skip(pad);
  }
}

/** An entry's content, read whole: at most max bytes (the header's size is checked first). */
export async function readBody(e: TarStreamEntry, max: number, what: string): Promise<Buffer> {
  if (e.header.size > max)
    throw new ToolError(
      'entry-too-large',
      `${shown(e.header.name)}: ${e.header.size} bytes, more than the ${max} a ${what} may have`,
      { exitCode: 2 },
    );
  const chunks: Buffer[] = [];
  for await (const c of e.body) chunks.push(c);
  return Buffer.concat(chunks, e.header.size);
}

/** Entries of a tar stream, each content read whole (small archives; see readTarStream). */
export async function* readTar(source: AsyncIterable<Buffer>, limits: TarLimits = {}): AsyncGenerator<TarEntry> {
  for await (const e of readTarStream(source, limits))
    yield { header: e.header, content: await readBody(e, limits.entryBytes ?? MAX_ENTRY, 'entry') };
}
