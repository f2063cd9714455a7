/**
 * OSTree's archive-mode content objects (`objects/xx/yyy.filez`): a size-prefixed
 * GVariant header `(tuuuusa(ayay))` — size, uid, gid, mode, rdev, symlink target,
 * xattrs, all integers big-endian — followed by the file's content as raw deflate.
 * Reading them directly avoids one `ostree cat` per file; writing them is how the
 * importer rebuilds a repository whose objects ostree itself then verifies (fsck).
 */
import { ToolError } from '@debian-atomic/lib';
import { offsetWidth, readOffset } from './gvariant.js';

export interface FileHeader {
  size: number;
  uid: number;
  gid: number;
  /** Full st_mode, including the file type bits (S_IFREG, S_IFLNK). */
  mode: number;
  rdev: number;
  symlinkTarget: string;
  /** The serialized `a(ayay)` xattrs variant, kept as bytes (empty = no xattrs). */
  xattrs: Buffer;
}

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFDIR = 0o040000;

/** GVariant framing offset width for a container whose body is `body` bytes with `count` offsets. */
function offsetSize(body: number, count: number): number {
  if (body === 0 && count === 0) return 0;
  for (const s of [1, 2, 4, 8]) if (body + count * s <= 2 ** (8 * s) - 1) return s;
  return 8;
}

function writeOffset(buf: Buffer, at: number, value: number, size: number): void {
  if (size === 8) buf.writeBigUInt64LE(BigInt(value), at);
  else buf.writeUIntLE(value, at, size);
}

/** The GVariant `(tuuuusa(ayay))` of an archive file header. */
export function serializeFileHeader(h: FileHeader): Buffer {
  const target = Buffer.from(h.symlinkTarget, 'utf8');
  const stringEnd = 24 + target.length + 1;
  const body = stringEnd + h.xattrs.length;
  const os = offsetSize(body, 1);
  const out = Buffer.alloc(body + os);
  out.writeBigUInt64BE(BigInt(h.size), 0);
  out.writeUInt32BE(h.uid, 8);
  out.writeUInt32BE(h.gid, 12);
  out.writeUInt32BE(h.mode, 16);
  out.writeUInt32BE(h.rdev, 20);
  target.copy(out, 24);
  h.xattrs.copy(out, stringEnd);
  writeOffset(out, body, stringEnd, os);
  return out;
}

/** The header of a `.filez` object: `[u32 BE size][4 bytes padding][variant]`. */
export function encodeFilezHeader(h: FileHeader): Buffer {
  const variant = serializeFileHeader(h);
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32BE(variant.length, 0);
  return Buffer.concat([prefix, variant]);
}

function corrupt(what: string): ToolError {
  return new ToolError('corrupt-object', `corrupt archive object: ${what}`);
}

/** Parse a `.filez` object's header; returns it and where the deflated content starts. */
export function decodeFilezHeader(buf: Buffer): { header: FileHeader; contentOffset: number } {
  if (buf.length < 8) throw corrupt('shorter than its header');
  const len = buf.readUInt32BE(0);
  if (len < 26 || 8 + len > buf.length) throw corrupt(`bad header size ${len}`);
  const v = buf.subarray(8, 8 + len);
  const os = offsetWidth(v.length);
  const stringEnd = readOffset(v, v.length - os, os);
  if (stringEnd < 25 || stringEnd > v.length - os || v[stringEnd - 1] !== 0)
    throw corrupt('bad symlink target framing');
  return {
    header: {
      size: Number(v.readBigUInt64BE(0)),
      uid: v.readUInt32BE(8),
      gid: v.readUInt32BE(12),
      mode: v.readUInt32BE(16),
      rdev: v.readUInt32BE(20),
      symlinkTarget: v.subarray(24, stringEnd - 1).toString('utf8'),
      xattrs: Buffer.from(v.subarray(stringEnd, v.length - os)),
    },
    contentOffset: 8 + len,
  };
}
