/**
 * A reader for the GVariant serialisation (the GLib spec, "Serialisation"), the subset ostree uses
 * for /run/ostree/staged-deployment: a top-level a{sv} whose values atomic reads are `as`
 * ("kargs", "overlay-initrds"), `s` and `b`. Values of other types are skipped (left undefined),
 * not guessed at. Everything is bounds-checked: a damaged file is an error, never a wrong answer.
 */

export class GVariantError extends Error {
  override name = 'GVariantError';
}

export type GValue = string | boolean | string[] | Map<string, GValue | undefined>;

/** The size of a framing offset for a container of `size` bytes. */
function offsetSize(size: number): number {
  if (size === 0) return 0;
  if (size <= 0xff) return 1;
  if (size <= 0xffff) return 2;
  if (size <= 0xffffffff) return 4;
  return 8;
}

function readOffset(b: Uint8Array, at: number, width: number): number {
  let v = 0;
  for (let i = width - 1; i >= 0; i--) v = v * 256 + b[at + i]!;
  return v;
}

const align = (n: number, a: number) => (n + a - 1) & ~(a - 1);

function readString(b: Uint8Array): string {
  if (b.length === 0 || b[b.length - 1] !== 0) throw new GVariantError('a string without its terminating NUL');
  const body = b.subarray(0, b.length - 1);
  if (body.includes(0)) throw new GVariantError('a NUL inside a string');
  return new TextDecoder('utf-8', { fatal: true }).decode(body);
}

/** The elements of an array of variable-size elements (framing offsets at the end). */
function arrayElements(b: Uint8Array, elementAlign: number): Uint8Array[] {
  if (b.length === 0) return [];
  const w = offsetSize(b.length);
  const last = readOffset(b, b.length - w, w);
  if (last > b.length || (b.length - last) % w !== 0) throw new GVariantError('bad array framing');
  const n = (b.length - last) / w;
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = readOffset(b, last + i * w, w);
    start = align(start, elementAlign);
    if (end < start || end > last) throw new GVariantError('bad array element offset');
    out.push(b.subarray(start, end));
    start = end;
  }
  return out;
}

/** Parse one value of a type atomic knows; undefined for any other type. */
export function readValue(type: string, b: Uint8Array): GValue | undefined {
  switch (type) {
    case 's':
    case 'o':
      return readString(b);
    case 'b':
      if (b.length !== 1) throw new GVariantError('a boolean is one byte');
      return b[0] !== 0;
    case 'as':
      return arrayElements(b, 1).map(readString);
    case 'v':
      return readVariant(b);
    case 'a{sv}':
      return readVardict(b);
    default:
      return undefined;
  }
}

/** A variant: the value, a NUL, the value's type string. */
export function readVariant(b: Uint8Array): GValue | undefined {
  const nul = b.lastIndexOf(0);
  if (nul < 0) throw new GVariantError('a variant without its type');
  const type = new TextDecoder().decode(b.subarray(nul + 1));
  if (!/^[a-z{}()]+$/i.test(type)) throw new GVariantError(`a variant with the type '${type}'`);
  return readValue(type, b.subarray(0, nul));
}

/** a{sv}: entries of {sv} (8-aligned), each a key string, padding, a variant, the key's end offset. */
export function readVardict(b: Uint8Array): Map<string, GValue | undefined> {
  const out = new Map<string, GValue | undefined>();
  for (const entry of arrayElements(b, 8)) {
    const w = offsetSize(entry.length);
    if (entry.length < w) throw new GVariantError('a dictionary entry too short');
    const keyEnd = readOffset(entry, entry.length - w, w);
    if (keyEnd > entry.length - w) throw new GVariantError('bad dictionary entry framing');
    const key = readString(entry.subarray(0, keyEnd));
    const valueStart = align(keyEnd, 8);
    if (valueStart > entry.length - w) throw new GVariantError('bad dictionary entry framing');
    out.set(key, readVariant(entry.subarray(valueStart, entry.length - w)));
  }
  return out;
}
