/**
 * One file out of a tar stream (a .deb's data.tar, from `dpkg-deb --fsys-tarfile`),
 * read as the stream goes by and never written to disk: nothing is extracted, so no
 * symlink, hard link or `..` path in the package can make us read or write outside it.
 * The member must be a regular file; a symlink or hard link in its place is refused
 * (never followed), as is a member path with a `..` component. Bounded: the bytes
 * before the member, and the member itself.
 */
import { inputError } from '@debian-atomic/lib';

export interface TarLimits {
  /** Bytes of tar stream we read while looking for the member. */
  total: number;
  /** Size of the member itself. */
  member: number;
  /** What the member is, for the too-large message ("a task description file"). */
  memberWhat: string;
}

const TYPES: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '5': 'a directory',
  '6': 'a FIFO',
};

/** Path components, without `.` and empty ones: `./usr//share/` is usr/share. */
function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

function cString(b: Buffer, start: number, length: number): string {
  const field = b.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

export class TarScanner {
  private readonly wanted: string;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes of the stream consumed so far (headers and data). */
  private offset = 0;
  /** Data to skip (a member we do not want, with its padding). */
  private skip = 0;
  /** Data to collect: the member, or a GNU long name / pax header that applies to the next one. */
  private pending: { kind: 'member' | 'longname' | 'longlink' | 'pax'; size: number } | undefined;
  private next: { path?: string; linkpath?: string; size?: number } = {};
  /** The member's contents, once read. */
  found: Buffer | undefined;
  /** The end-of-archive block was seen (without the member). */
  ended = false;

  constructor(
    /** The package, for messages. */
    private readonly what: string,
    /** The member's path, without a leading `./` or `/`. */
    member: string,
    private readonly limits: TarLimits,
  ) {
    this.wanted = components(member).join('/');
  }

  get done(): boolean {
    return this.found !== undefined || this.ended;
  }

  /** Feed the next bytes of the stream; true once the member was found (or the archive ended). */
  push(chunk: Buffer): boolean {
    if (this.done) return true;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.skip > 0) {
        this.skip -= this.drop(this.skip);
        if (this.skip > 0) return false;
      }
      if (this.pending) {
        const padded = Math.ceil(this.pending.size / 512) * 512;
        if (this.buffered < padded) return false;
        const data = this.take(padded).subarray(0, this.pending.size);
        const kind = this.pending.kind;
        this.pending = undefined;
        if (kind === 'member') {
          this.found = data;
          return true;
        }
        if (kind === 'longname') this.next.path = cString(data, 0, data.length);
        else if (kind === 'longlink') this.next.linkpath = cString(data, 0, data.length);
        else this.pax(data);
        continue;
      }
      if (this.buffered < 512) return false;
      const at = this.offset;
      this.header(this.take(512), at);
      if (this.done) return true;
    }
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    this.offset += n;
    return out;
  }

  /** Discard up to n buffered bytes; returns how many. */
  private drop(n: number): number {
    let dropped = 0;
    while (dropped < n && this.chunks.length) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - dropped);
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
      dropped += k;
    }
    this.buffered -= dropped;
    this.offset += dropped;
    return dropped;
  }

  private damaged(why: string): Error {
    return inputError(`${this.what}: damaged data.tar (${why})`);
  }

  private header(h: Buffer, at: number): void {
    if (h.every((b) => b === 0)) {
      this.ended = true;
      return;
    }
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    const stored = cString(h, 148, 8).trim();
    if (!/^[0-7]+$/.test(stored) || parseInt(stored, 8) !== sum)
      throw this.damaged(`bad header checksum at byte ${at}`);

    let path = cString(h, 0, 100);
    // POSIX ustar splits long paths into prefix/name; GNU tar ('ustar  \0') uses that space otherwise.
    if (h.toString('latin1', 257, 263) === 'ustar\0') {
      const prefix = cString(h, 345, 155);
      if (prefix) path = `${prefix}/${path}`;
    }
    let size = this.size(h, at);
    let linkpath = cString(h, 157, 100);
    const type = h[156] === 0 ? '0' : String.fromCharCode(h[156]!);

    if (type === 'L' || type === 'K' || type === 'x' || type === 'g') {
      this.checkTotal(size);
      if (type === 'g') this.skip = Math.ceil(size / 512) * 512;
      else if (size > 1 << 20) throw this.damaged(`a ${size}-byte extended header at byte ${at}`);
      else this.pending = { kind: type === 'L' ? 'longname' : type === 'K' ? 'longlink' : 'pax', size };
      return;
    }
    // This entry: with the long name / pax overrides that came before it.
    path = this.next.path ?? path;
    linkpath = this.next.linkpath ?? linkpath;
    size = this.next.size ?? size;
    this.next = {};

    const parts = components(path);
    if (parts.includes('..'))
      throw inputError(`${this.what}: unsafe member path '${path}' (a '..' component)`, {
        hint: 'a package never has these; this one was made to write outside its directory',
      });
    if (parts.join('/') === this.wanted) {
      const kind = type === '0' || type === '7' ? undefined : (TYPES[type] ?? `a member of type '${type}'`);
      if (kind)
        throw inputError(
          `${this.what}: /${this.wanted} is ${kind}${linkpath && (type === '1' || type === '2') ? ` (to ${linkpath})` : ''}, expected a regular file`,
        );
      if (size > this.limits.member)
        throw inputError(
          `${this.what}: /${this.wanted} is ${size} bytes, more than the ${this.limits.member} ${this.limits.memberWhat} may have`,
        );
      this.pending = { kind: 'member', size };
      return;
    }
    this.checkTotal(size);
    this.skip = Math.ceil(size / 512) * 512;
  }

  /** Refused from the header, before its data is read: a bomb costs nothing. */
  private checkTotal(size: number): void {
    if (this.offset + Math.ceil(size / 512) * 512 > this.limits.total) {
      throw inputError(
        `${this.what}: its data.tar is larger than ${this.limits.total} bytes before /${this.wanted}; refusing it`,
        { hint: 'a decompression bomb, or not the package you meant' },
      );
    }
  }

  /** The size field: octal digits, or GNU base-256 (high bit set) for large files. */
  private size(h: Buffer, at: number): number {
    if (h[124]! & 0x80) {
      if (h[124] === 0xff) throw this.damaged(`a negative size at byte ${at}`);
      let n = h[124]! & 0x7f;
      for (let i = 125; i < 136; i++) n = n * 256 + h[i]!;
      return n;
    }
    const text = cString(h, 124, 12).trim();
    if (!/^[0-7]*$/.test(text)) throw this.damaged(`a malformed size at byte ${at}`);
    return text === '' ? 0 : parseInt(text, 8);
  }

  /** pax extended header records: "<length> <key>=<value>\n". */
  private pax(data: Buffer): void {
    let pos = 0;
    while (pos < data.length) {
      const space = data.indexOf(0x20, pos);
      const len = space < 0 ? NaN : Number(data.toString('latin1', pos, space));
      if (!Number.isInteger(len) || len <= space - pos || pos + len > data.length || data[pos + len - 1] !== 0x0a)
        throw this.damaged('a malformed pax header');
      const record = data.toString('utf8', space + 1, pos + len - 1);
      pos += len;
      const eq = record.indexOf('=');
      const key = record.slice(0, eq);
      const value = record.slice(eq + 1);
      if (key === 'path') this.next.path = value;
      else if (key === 'linkpath') this.next.linkpath = value;
      else if (key === 'size') {
        if (!/^\d+$/.test(value)) throw this.damaged(`a malformed pax size '${value}'`);
        this.next.size = Number(value);
      }
    }
  }
}
