/**
 * deb822 (RFC-822-style) control data: Packages indexes, Release files, tasksel's
 * .desc files. Stanzas are separated by blank lines; a line starting with a space
 * or tab continues the previous field. Field names are case-insensitive.
 */
import { formatDiagnostic, inputError, type Diagnostic, type ToolError } from '@debian-atomic/lib';

export interface Field {
  /** The name as written. */
  name: string;
  /** First line (trimmed), then one line per continuation line (leading blanks removed). */
  value: string;
  line: number;
  col: number;
}

export interface Stanza {
  line: number;
  /** Keyed by lower-case field name. */
  fields: Map<string, Field>;
}

export interface ParseOptions {
  /** Keep only these (lower-case) fields: a 60 MB Packages index needs a handful. Others are not checked for duplicates. */
  keep?: ReadonlySet<string>;
}

export function positionedError(d: Diagnostic): ToolError {
  return inputError(formatDiagnostic(d));
}

export function parseDeb822(text: string, file: string, opts: ParseOptions = {}): Stanza[] {
  const stanzas: Stanza[] = [];
  const keep = opts.keep;
  let current: Stanza | undefined;
  let last: Field | undefined;
  let lineNo = 0;
  let pos = 0;
  // Works on offsets and slices only what it keeps: a full Packages index is ~60 MB.
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const lineEnd = text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    const start = pos;
    pos = end + 1;
    lineNo++;
    const first = text.charCodeAt(start);
    if (first === 32 || first === 9) {
      const line = text.slice(start, lineEnd);
      if (line.trim() === '') {
        current = undefined;
        last = undefined;
      } else if (!current) {
        throw positionedError({ file, line: lineNo, col: 1, message: 'continuation line outside a field (a field line must come first)' });
      } else if (last) {
        last.value += '\n' + line.trimStart();
      }
      continue;
    }
    if (start === lineEnd) {
      current = undefined;
      last = undefined;
      continue;
    }
    if (first === 35 /* # */) continue;
    const colon = text.indexOf(':', start);
    const name = colon < 0 || colon >= lineEnd ? '' : text.slice(start, colon);
    if (name === '' || /\s/.test(name)) {
      const line = text.slice(start, lineEnd);
      throw positionedError({ file, line: lineNo, col: 1, message: `expected 'Field: value', found ${JSON.stringify(line.length > 40 ? line.slice(0, 40) + '…' : line)}` });
    }
    const key = lowerCase(name);
    if (keep && !keep.has(key)) {
      if (!current) stanzas.push((current = { line: lineNo, fields: new Map() }));
      last = undefined;
      continue;
    }
    if (!current) {
      current = { line: lineNo, fields: new Map() };
      stanzas.push(current);
    }
    const prev = current.fields.get(key);
    if (prev) throw positionedError({ file, line: lineNo, col: 1, message: `duplicate field '${name}' (first at line ${prev.line})` });
    const rest = text.slice(colon + 1, lineEnd);
    const value = rest.trim();
    const lead = value === '' ? 0 : rest.indexOf(value[0]!);
    last = { name, value, line: lineNo, col: colon - start + 2 + lead };
    current.fields.set(key, last);
  }
  return stanzas;
}

// Field names repeat ~20 times per stanza: lower-case each spelling once.
const lowered = new Map<string, string>();
function lowerCase(name: string): string {
  let k = lowered.get(name);
  if (k === undefined) {
    k = name.toLowerCase();
    // Detached: this cache outlives the text the name was sliced from.
    if (lowered.size < 1000) lowered.set(detach(name), k);
  }
  return k;
}

export function fieldValue(stanza: Stanza, name: string): string | undefined {
  return stanza.fields.get(name.toLowerCase())?.value;
}

/**
 * A copy that does not keep the whole input alive: V8 makes a slice of a long string
 * a view into it, so keeping a few fields of a 60 MB index would keep all 60 MB.
 * (JSON.parse builds a new string; `' ' + s` tricks are optimised back into views.)
 */
export function detach<T extends string | undefined>(s: T): T {
  return (s === undefined || s.length < 13 ? s : JSON.parse(JSON.stringify(s))) as T;
}

/** The first line of a field: a Description's synopsis. */
export function firstLine(value: string): string {
  const nl = value.indexOf('\n');
  return nl < 0 ? value : value.slice(0, nl);
}
