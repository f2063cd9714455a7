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
  /** Longest line, in characters (default DEB822_LIMITS.line). */
  maxLine?: number;
  /** Longest kept field, continuation lines included (default DEB822_LIMITS.field). */
  maxField?: number;
}

/**
 * Far above any real field (the longest in a Debian Packages index, a librust-*-dev
 * Provides, is a few hundred kB), far below what would hurt: a 10 MB field, or a
 * decompression bomb of zeros (one endless line), is refused as soon as it passes these.
 */
export const DEB822_LIMITS = { line: 4 << 20, field: 4 << 20 } as const;

export function positionedError(d: Diagnostic): ToolError {
  return inputError(formatDiagnostic(d));
}

/**
 * A deb822 parser fed text as it comes (a Packages index is streamed out of xz): each
 * stanza is handed to onStanza when it ends, so the caller keeps only what it needs.
 * Works on offsets and slices only what it keeps.
 */
export class Deb822Reader {
  private readonly keep: ReadonlySet<string> | undefined;
  private readonly maxLine: number;
  private readonly maxField: number;
  private current: Stanza | undefined;
  private last: Field | undefined;
  private lineNo = 0;
  /** The start of a line whose end has not come yet. */
  private partial: string[] = [];
  private partialLength = 0;

  constructor(
    private readonly file: string,
    private readonly onStanza: (stanza: Stanza) => void,
    opts: ParseOptions = {},
  ) {
    this.keep = opts.keep;
    this.maxLine = opts.maxLine ?? DEB822_LIMITS.line;
    this.maxField = opts.maxField ?? DEB822_LIMITS.field;
  }

  push(text: string): void {
    let pos = 0;
    let nl = text.indexOf('\n');
    if (nl >= 0 && this.partial.length) {
      // The end of the line begun in earlier chunks.
      this.partial.push(text.slice(0, nl + 1));
      const line = this.partial.join('');
      this.partial = [];
      this.partialLength = 0;
      this.line(line, 0, line.length - 1);
      pos = nl + 1;
      nl = text.indexOf('\n', pos);
    }
    while (nl >= 0) {
      this.line(text, pos, nl);
      pos = nl + 1;
      nl = text.indexOf('\n', pos);
    }
    if (pos < text.length) {
      this.partial.push(pos === 0 ? text : text.slice(pos));
      this.partialLength += text.length - pos;
      if (this.partialLength > this.maxLine) this.tooLong(this.lineNo + 1);
    }
  }

  end(): void {
    if (this.partial.length) {
      const line = this.partial.join('');
      this.partial = [];
      this.partialLength = 0;
      this.line(line, 0, line.length);
    }
    this.finish();
  }

  private tooLong(line: number): never {
    throw positionedError({
      file: this.file,
      line,
      col: 1,
      message: `line longer than ${this.maxLine} characters (is this a deb822 file?)`,
    });
  }

  private finish(): void {
    if (this.current) this.onStanza(this.current);
    this.current = undefined;
    this.last = undefined;
  }

  private start(): Stanza {
    if (!this.current) this.current = { line: this.lineNo, fields: new Map() };
    return this.current;
  }

  /** One line: text[start, end) with end at its newline (or the end of the text). */
  private line(text: string, start: number, end: number): void {
    const { file } = this;
    const lineEnd = text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    this.lineNo++;
    const lineNo = this.lineNo;
    if (lineEnd - start > this.maxLine) this.tooLong(lineNo);
    const first = text.charCodeAt(start);
    if (first === 32 || first === 9) {
      const line = text.slice(start, lineEnd);
      if (line.trim() === '') {
        this.finish();
      } else if (!this.current) {
        throw positionedError({
          file,
          line: lineNo,
          col: 1,
          message: 'continuation line outside a field (a field line must come first)',
        });
      } else if (this.last) {
        this.last.value += '\n' + line.trimStart();
        if (this.last.value.length > this.maxField) {
          throw positionedError({
            file,
            line: this.last.line,
            col: 1,
            message: `field '${this.last.name}' longer than ${this.maxField} characters`,
          });
        }
      }
      return;
    }
    if (start === lineEnd) {
      this.finish();
      return;
    }
    if (first === 35 /* # */) return;
    const colon = text.indexOf(':', start);
    const name = colon < 0 || colon >= lineEnd ? '' : text.slice(start, colon);
    if (name === '' || /\s/.test(name)) {
      const line = text.slice(start, Math.min(lineEnd, start + 41));
      throw positionedError({
        file,
        line: lineNo,
        col: 1,
        message: `expected 'Field: value', found ${JSON.stringify(line.length > 40 ? line.slice(0, 40) + '…' : line)}`,
      });
    }
    const key = lowerCase(name);
    if (this.keep && !this.keep.has(key)) {
      this.start();
      this.last = undefined;
      return;
    }
    const current = this.start();
    const prev = current.fields.get(key);
    if (prev)
      throw positionedError({
        file,
        line: lineNo,
        col: 1,
        message: `duplicate field '${name}' (first at line ${prev.line})`,
      });
    const rest = text.slice(colon + 1, lineEnd);
    const value = rest.trim();
    const lead = value === '' ? 0 : rest.indexOf(value[0]!);
    this.last = { name, value, line: lineNo, col: colon - start + 2 + lead };
    current.fields.set(key, this.last);
  }
}

/** All stanzas of a whole text. */
export function parseDeb822(text: string, file: string, opts: ParseOptions = {}): Stanza[] {
  const stanzas: Stanza[] = [];
  const reader = new Deb822Reader(file, (s) => stanzas.push(s), opts);
  reader.push(text);
  reader.end();
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
