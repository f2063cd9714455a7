/**
 * Debian relationship fields (Depends, Recommends): `a (>= 1), b | c [amd64], d:any`.
 * Version constraints, arch qualifiers (`:any`) and build profiles are dropped;
 * arch restrictions (`[amd64]`, `[!s390x]`) are honoured per architecture;
 * alternatives stay together, in order (apt installs the first it can).
 */

export interface Alternative {
  name: string;
  /** `[amd64 i386]` (only there) or `[!s390x]` (everywhere but there). */
  archRestriction?: { negated: boolean; arches: string[] };
}

/** One comma-separated item: its alternatives, in order. */
export interface Relation {
  alternatives: Alternative[];
  /** The item as written, for reports. */
  text: string;
}

const PACKAGE = /^[a-z0-9][a-z0-9+.-]*$/;
const ALTERNATIVE =
  /^(?<name>[^\s:([<]+)(?::(?<qual>[a-z0-9-]+))?\s*(?:\(\s*(?<op><<|<=|=|>=|>>|<|>)\s*(?<ver>[^\s)]+)\s*\))?\s*(?:\[(?<arches>[^\]]*)\])?\s*(?:<[^>]*>\s*)*$/;

export class RelationSyntaxError extends Error {
  constructor(
    message: string,
    /** Offset of the offending item in the field value. */
    readonly offset: number,
  ) {
    super(message);
    this.name = 'RelationSyntaxError';
  }
}

export function parseRelations(value: string): Relation[] {
  const out: Relation[] = [];
  let offset = 0;
  for (const item of value.split(',')) {
    const text = item.replace(/\s+/g, ' ').trim();
    const itemOffset = offset + (item.length - item.trimStart().length);
    offset += item.length + 1;
    if (text === '') {
      if (value.trim() === '') continue;
      throw new RelationSyntaxError('empty relation (two commas in a row, or a trailing comma)', itemOffset);
    }
    const alternatives: Alternative[] = [];
    for (const altText of text.split('|')) {
      const alt = altText.trim();
      const m = ALTERNATIVE.exec(alt);
      if (!m?.groups || !PACKAGE.test(m.groups.name!)) {
        throw new RelationSyntaxError(`malformed relation ${JSON.stringify(alt || text)}`, itemOffset);
      }
      const parsed: Alternative = { name: m.groups.name! };
      if (m.groups.arches !== undefined) {
        const words = m.groups.arches.trim().split(/\s+/).filter(Boolean);
        const negated = words.length > 0 && words.every((w) => w.startsWith('!'));
        if (words.length === 0 || (!negated && words.some((w) => w.startsWith('!')))) {
          throw new RelationSyntaxError(`malformed architecture restriction in ${JSON.stringify(alt)}`, itemOffset);
        }
        parsed.archRestriction = { negated, arches: words.map((w) => w.replace(/^!/, '')) };
      }
      alternatives.push(parsed);
    }
    out.push({ alternatives, text });
  }
  return out;
}

/** The alternatives of a relation that apply on an architecture, in order. */
export function alternativesOn(relation: Relation, arch: string): string[] {
  return relation.alternatives
    .filter((a) => !a.archRestriction || a.archRestriction.arches.includes(arch) !== a.archRestriction.negated)
    .map((a) => a.name);
}

/** How alternatives are written in tasks.yaml: `a | b`. */
export function joinAlternatives(names: readonly string[]): string {
  return names.join(' | ');
}

/** Normalise a tasks.yaml entry (`a|b`, `a  | b`) to the form comps-sync writes. */
export function normaliseEntry(entry: string): string {
  return joinAlternatives(
    entry
      .split('|')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}
