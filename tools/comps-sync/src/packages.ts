/** A suite's Packages index for one architecture: what exists there, and the task metapackages' relations. */
import { detach, firstLine, parseDeb822, positionedError, type Field } from './deb822.js';
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

const KEEP = new Set(['package', 'version', 'priority', 'section', 'description', 'filename', 'sha256', 'size', 'depends', 'recommends', 'provides']);

export function parsePackagesIndex(text: string, file: string, arch: string): PackagesIndex {
  const packages = new Map<string, PackageEntry>();
  const provided = new Set<string>();
  // Priority and Section take a few dozen values: keep one copy of each.
  const interned = new Map<string, string>();
  for (const st of parseDeb822(text, file, { keep: KEEP })) {
    // Everything kept is detached from `text` (see detach), so the index can be dropped.
    const v = (k: string) => detach(st.fields.get(k)?.value);
    const common = (k: string) => {
      const value = st.fields.get(k)?.value;
      if (value === undefined) return undefined;
      let kept = interned.get(value);
      if (kept === undefined) interned.set(value, (kept = detach(value)));
      return kept;
    };
    const field = (k: string): Field | undefined => {
      const f = st.fields.get(k);
      return f && { ...f, name: detach(f.name), value: detach(f.value) };
    };
    const name = v('package');
    if (!name) throw positionedError({ file, line: st.line, col: 1, message: "stanza without a 'Package' field" });
    // An index lists one version per package; keep the first if a mirror lists more.
    if (packages.has(name)) continue;
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
    if (provides) for (const rel of relationsOf(provides, file)) for (const alt of rel.alternatives) provided.add(alt.name);
  }
  return { arch, file, packages, provided };
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
