/** A suite's Packages index for one architecture: what exists there, and the task metapackages' relations. */
import { Deb822Reader, detach, firstLine, positionedError, type Field, type Stanza } from './deb822.js';
import { parseRelations, RelationSyntaxError, type Relation } from './relations.js';

export interface PackageEntry {
  name: string;
  version: string | undefined;
  priority: string | undefined;
  section: string | undefined;
  synopsis: string | undefined;
  filename: string | undefined;
  sha256: string | undefined;
  size: number | undefined;
  depends: Field | undefined;
  recommends: Field | undefined;
  line: number;
}

export interface PackagesIndex {
  arch: string;
  /** Where it was read from (a path or URL), for diagnostics. */
  file: string;
  packages: Map<string, PackageEntry>;
  /** Virtual package names (Provides). */
  provided: Set<string>;
}

const KEEP = new Set([
  'package',
  'version',
  'priority',
  'section',
  'description',
  'filename',
  'sha256',
  'size',
  'depends',
  'recommends',
  'provides',
]);

/**
 * Bounds for one architecture's Packages index. Debian's forky/amd64 main (2026): 71,000
 * stanzas, 60 MB (xz: 10 MB), 35 MB in the fields kept here, 92,000 Provides entries,
 * longest line 20 kB. Far beyond these, an index is a bomb: it would take gigabytes to
 * hold, or minutes to parse.
 */
export const PACKAGES_LIMITS = {
  /** Uncompressed bytes. */
  bytes: 512 << 20,
  /** The compressed index, downloaded or read. */
  compressed: 64 << 20,
  /** Stanzas (what we keep of each is a few hundred bytes). */
  stanzas: 500_000,
  /** Characters in the fields kept (KEEP), all stanzas together. */
  kept: 128 << 20,
  /** Provides entries, all stanzas together (each is parsed, and its name kept). */
  provides: 2_000_000,
} as const;

export type PackagesLimits = Pick<typeof PACKAGES_LIMITS, 'stanzas' | 'kept' | 'provides'>;

/**
 * A Packages index read as it streams in (out of xz): push text, then end(). Only the
 * fields comps-sync uses are kept, detached from the text (see detach), so the text of
 * the whole index is never held at once.
 */
export class PackagesIndexReader {
  private readonly index: PackagesIndex;
  private readonly reader: Deb822Reader;
  // Priority and Section take a few dozen values: keep one copy of each.
  private readonly interned = new Map<string, string>();
  private stanzas = 0;
  private kept = 0;
  private provides = 0;

  constructor(
    file: string,
    arch: string,
    private readonly limits: PackagesLimits = PACKAGES_LIMITS,
  ) {
    this.index = { arch, file, packages: new Map(), provided: new Set() };
    this.reader = new Deb822Reader(file, (st) => this.stanza(st), { keep: KEEP });
  }

  push(text: string): void {
    this.reader.push(text);
  }

  end(): PackagesIndex {
    this.reader.end();
    return this.index;
  }

  private stanza(st: Stanza): void {
    const { file, packages, provided } = this.index;
    const limit = (what: string) =>
      positionedError({
        file,
        line: st.line,
        col: 1,
        message: `more than ${what} (is this one architecture's Packages index?)`,
      });
    if (++this.stanzas > this.limits.stanzas) throw limit(`${this.limits.stanzas} stanzas`);
    for (const f of st.fields.values()) this.kept += f.value.length;
    if (this.kept > this.limits.kept) throw limit(`${this.limits.kept} characters of package data`);
    const v = (k: string) => detach(st.fields.get(k)?.value);
    const common = (k: string) => {
      const value = st.fields.get(k)?.value;
      if (value === undefined) return undefined;
      let kept = this.interned.get(value);
      if (kept === undefined) this.interned.set(value, (kept = detach(value)));
      return kept;
    };
    const field = (k: string): Field | undefined => {
      const f = st.fields.get(k);
      return f && { ...f, name: detach(f.name), value: detach(f.value) };
    };
    const name = v('package');
    if (!name) throw positionedError({ file, line: st.line, col: 1, message: "stanza without a 'Package' field" });
    // An index lists one version per package; keep the first if a mirror lists more.
    if (packages.has(name)) return;
    const size = v('size');
    const description = st.fields.get('description')?.value;
    packages.set(name, {
      name,
      version: v('version'),
      priority: common('priority'),
      section: common('section'),
      synopsis: description === undefined ? undefined : detach(firstLine(description)),
      filename: v('filename'),
      sha256: v('sha256'),
      size: size === undefined ? undefined : Number(size),
      depends: field('depends'),
      recommends: field('recommends'),
      line: st.line,
    });
    const provides = field('provides');
    if (provides) {
      const rels = relationsOf(provides, file);
      this.provides += rels.length;
      if (this.provides > this.limits.provides) throw limit(`${this.limits.provides} Provides entries`);
      for (const rel of rels) for (const alt of rel.alternatives) provided.add(alt.name);
    }
  }
}

export function parsePackagesIndex(text: string, file: string, arch: string): PackagesIndex {
  const reader = new PackagesIndexReader(file, arch);
  reader.push(text);
  return reader.end();
}

/** Parse a relationship field, with errors positioned at the field. */
export function relationsOf(field: Field, file: string): Relation[] {
  try {
    return parseRelations(field.value);
  } catch (err) {
    if (!(err instanceof RelationSyntaxError)) throw err;
    // Map the offset in the (continuation-joined) value back to a line and column.
    const before = field.value.slice(0, err.offset);
    const nl = before.lastIndexOf('\n');
    const line = field.line + (before.match(/\n/g)?.length ?? 0);
    const col = nl < 0 ? field.col + err.offset : err.offset - nl + 1;
    throw positionedError({ file, line, col, message: `${field.name}: ${err.message}` });
  }
}

/** Installable on this architecture: a real package or a provided virtual one. */
export function isAvailable(index: PackagesIndex, name: string): boolean {
  return index.packages.has(name) || index.provided.has(name);
}
