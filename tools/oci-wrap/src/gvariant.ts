/**
 * Reading OSTree's metadata objects directly (GVariant's serialization, normal form, as OSTree
 * writes them): a commit `(a{sv}aya(say)sstayay)`, a dirtree `(a(say)a(sayay))` and a dirmeta
 * `(uuua(ayay))`, their integers big-endian. This replaces `ostree ls -R` and `ostree show`
 * (one sandboxed ostree process each, a second of a wrap) with a walk over the object files.
 * Anything that does not frame correctly is a corrupt object, never a wrong answer.
 */
import { ToolError } from '@debian-atomic/lib';

/** A metadata object that does not frame, or holds what ostree would not write. */
export function corrupt(what: string): ToolError {
  return new ToolError('corrupt-object', `corrupt metadata object: ${what}`);
}

/** Width of the framing offsets of a container of `total` bytes. */
export function offsetWidth(total: number): number {
  return total === 0 ? 0 : total <= 0xff ? 1 : total <= 0xffff ? 2 : total <= 0xffffffff ? 4 : 8;
}

/** A framing offset of `width` bytes (little-endian) at `at`. */
export function readOffset(buf: Buffer, at: number, width: number): number {
  return width === 8 ? Number(buf.readBigUInt64LE(at)) : buf.readUIntLE(at, width);
}

const align = (n: number, a: number) => (n + a - 1) & ~(a - 1);

/** An item of a structure: its alignment, and its size when fixed. */
export interface Item {
  align: 1 | 2 | 4 | 8;
  fixed?: number;
}

/** The items of a structure (tuple) whose items are `items`, as slices of `buf`. */
export function structItems(buf: Buffer, items: readonly Item[], what: string): Buffer[] {
  const width = offsetWidth(buf.length);
  const last = items.length - 1;
  // Every variable-size item but the last has its end among the framing offsets at the end.
  const offsets = items.filter((it, i) => it.fixed === undefined && i < last).length;
  const bodyEnd = buf.length - width * offsets;
  if (bodyEnd < 0 || (offsets && !width)) throw corrupt(`${what}: framing offsets beyond its size`);
  const out: Buffer[] = [];
  let pos = 0;
  let framing = 0; // framing offsets read so far, from the end
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const start = align(pos, item.align);
    let end: number;
    if (item.fixed !== undefined) end = start + item.fixed;
    else if (i === last) end = bodyEnd;
    else end = readOffset(buf, buf.length - ++framing * width, width);
    if (start > end || end > bodyEnd) throw corrupt(`${what}: item ${i} at ${start}..${end} of ${buf.length} bytes`);
    out.push(buf.subarray(start, end));
    pos = end;
  }
  return out;
}

/** The elements of an array of variable-size elements aligned to `elementAlign`. */
export function arrayElements(buf: Buffer, elementAlign: Item['align'], what: string): Buffer[] {
  if (buf.length === 0) return [];
  const width = offsetWidth(buf.length);
  const tableStart = readOffset(buf, buf.length - width, width);
  const table = buf.length - tableStart;
  if (tableStart > buf.length || table % width !== 0) throw corrupt(`${what}: bad array framing`);
  const out: Buffer[] = [];
  let pos = 0;
  for (let at = tableStart; at < buf.length; at += width) {
    const start = align(pos, elementAlign);
    const end = readOffset(buf, at, width);
    if (start > end || end > tableStart) throw corrupt(`${what}: element at ${start}..${end} of ${tableStart} bytes`);
    out.push(buf.subarray(start, end));
    pos = end;
  }
  return out;
}

/** A string (`s`): its bytes up to the terminating NUL. */
export function str(buf: Buffer, what: string): string {
  if (buf.length === 0 || buf[buf.length - 1] !== 0) throw corrupt(`${what}: string without its NUL`);
  return buf.toString('utf8', 0, buf.length - 1);
}

/** An OSTree checksum (`ay` of 32 bytes) as hex. */
export function checksum(buf: Buffer, what: string): string {
  if (buf.length !== 32) throw corrupt(`${what}: checksum of ${buf.length} bytes`);
  return buf.toString('hex');
}

export interface Dirtree {
  files: { name: string; checksum: string }[];
  dirs: { name: string; tree: string; meta: string }[];
}

export function parseDirtree(buf: Buffer, what = 'dirtree'): Dirtree {
  const [files, dirs] = structItems(buf, [{ align: 1 }, { align: 1 }], what);
  return {
    files: arrayElements(files!, 1, what).map((e) => {
      const [name, sum] = structItems(e, [{ align: 1 }, { align: 1 }], what);
      return { name: str(name!, what), checksum: checksum(sum!, what) };
    }),
    dirs: arrayElements(dirs!, 1, what).map((e) => {
      const [name, tree, meta] = structItems(e, [{ align: 1 }, { align: 1 }, { align: 1 }], what);
      return { name: str(name!, what), tree: checksum(tree!, what), meta: checksum(meta!, what) };
    }),
  };
}

/** A dirmeta's owner and mode (the xattrs are not needed here). */
export function parseDirmeta(buf: Buffer, what = 'dirmeta'): { uid: number; gid: number; mode: number } {
  if (buf.length < 12) throw corrupt(`${what}: ${buf.length} bytes`);
  return { uid: buf.readUInt32BE(0), gid: buf.readUInt32BE(4), mode: buf.readUInt32BE(8) };
}

export interface CommitObject {
  /** The string values of the commit's metadata (e.g. `version`); other types are left out. */
  metadata: Map<string, string>;
  parent: string | null;
  subject: string;
  timestamp: number;
  tree: string;
  meta: string;
}

/** A variant (`v`) holding a string, or undefined when it holds another type. */
function variantString(buf: Buffer): string | undefined {
  const nul = buf.lastIndexOf(0);
  if (nul < 0 || buf.toString('latin1', nul + 1) !== 's') return undefined;
  return str(buf.subarray(0, nul), 'variant');
}

export function parseCommit(buf: Buffer, what = 'commit'): CommitObject {
  const [meta, parent, , subject, , timestamp, tree, dirmeta] = structItems(
    buf,
    [
      { align: 8 }, // a{sv}
      { align: 1 }, // ay: parent
      { align: 1 }, // a(say): related
      { align: 1 }, // s: subject
      { align: 1 }, // s: body
      { align: 8, fixed: 8 }, // t: timestamp, big-endian
      { align: 1 }, // ay: root dirtree
      { align: 1 }, // ay: root dirmeta
    ],
    what,
  );
  const metadata = new Map<string, string>();
  for (const entry of arrayElements(meta!, 8, what)) {
    const [key, value] = structItems(entry, [{ align: 1 }, { align: 8 }], what);
    const s = variantString(value!);
    if (s !== undefined) metadata.set(str(key!, what), s);
  }
  return {
    metadata,
    parent: parent!.length ? checksum(parent!, what) : null,
    subject: str(subject!, what),
    timestamp: Number(timestamp!.readBigUInt64BE(0)),
    tree: checksum(tree!, what),
    meta: checksum(dirmeta!, what),
  };
}
