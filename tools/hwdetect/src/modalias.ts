/**
 * Modalias patterns as isenkram and Debian's `XB-Modaliases` fields use them:
 * fnmatch(3) globs (`*`, `?`, `[...]`, `[!...]`, `[^...]`, ranges) over the whole
 * modalias string, e.g. pci:v000010DEd*sv*sd*bc03sc*i* = any NVIDIA display controller.
 * Case-insensitive: the kernel prints hex in upper case, people often do not.
 *
 * Matched by a two-pointer walk with star backtracking, never a RegExp: at most
 * O(pattern × string) steps whatever the pattern (`*?*?*?…Q` made the RegExp
 * backtrack for minutes). A backslash is an ordinary character, as it always was here.
 */

/** Patterns are validated against this when a policy is read; real ones are under 100 characters. */
export const MAX_GLOB_LENGTH = 256;

const STAR = 0;
const ANY = 1;
const CHAR = 2;
const CLASS = 3;

type Token =
  | { kind: typeof STAR }
  | { kind: typeof ANY }
  /** A character, and its case-folded form (both UTF-16 code units). */
  | { kind: typeof CHAR; code: number; folded: number }
  /** A bracket expression: `source` is its text between the brackets (and after ! or ^). */
  | { kind: typeof CLASS; negate: boolean; ranges: [number, number][]; source: string };

export interface GlobProblem {
  /** 0-based offset in the pattern. */
  index: number;
  message: string;
}

interface CompiledGlob {
  tokens: Token[];
  /** Characters a match needs (every token but the stars): a shorter string cannot match. */
  minLength: number;
  problems: GlobProblem[];
}

/** Lower case where that is one character (as the RegExp 'i' flag compared them). */
const fold = (c: string): string => {
  const lower = c.toLowerCase();
  return lower.length === 1 ? lower : c;
};

/**
 * Parse a glob. An invalid bracket expression still compiles the way fnmatch reads
 * it (an unterminated `[` is a literal, a reversed range matches nothing), and is
 * reported in `problems` so a policy can refuse it.
 */
function compile(pattern: string): CompiledGlob {
  const tokens: Token[] = [];
  const problems: GlobProblem[] = [];
  const literal = (c: string) => tokens.push({ kind: CHAR, code: c.charCodeAt(0), folded: fold(c).charCodeAt(0) });
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      // Consecutive stars are one star: keeps the walk below from revisiting them.
      if (tokens.at(-1)?.kind !== STAR) tokens.push({ kind: STAR });
    } else if (c === '?') tokens.push({ kind: ANY });
    else if (c === '[') {
      const negate = pattern[i + 1] === '!' || pattern[i + 1] === '^';
      const start = i + 1 + (negate ? 1 : 0);
      // A ']' right after '[' or '[!' is a member, not the end.
      const end = pattern.indexOf(']', start + 1);
      if (end === -1) {
        problems.push({
          index: i,
          message: `unterminated bracket expression at character ${i + 1} (write [[] for a literal [)`,
        });
        literal(c);
        continue;
      }
      const source = pattern.slice(start, end);
      const ranges: [number, number][] = [];
      for (let j = 0; j < source.length; j++) {
        const lo = source.charCodeAt(j);
        // "a-z" is a range; a '-' first or last is a member.
        if (source[j + 1] === '-' && j + 2 < source.length) {
          const hi = source.charCodeAt(j + 2);
          if (hi < lo)
            problems.push({
              index: start + j,
              message: `reversed range "${source.slice(j, j + 3)}" at character ${start + j + 1} (a range goes from low to high)`,
            });
          ranges.push([lo, hi]);
          j += 2;
        } else ranges.push([lo, lo]);
      }
      tokens.push({ kind: CLASS, negate, ranges, source });
      i = end;
    } else literal(c);
  }
  return { tokens, minLength: tokens.filter((t) => t.kind !== STAR).length, problems };
}

/** Compiled patterns and folded strings, kept while a plan matches a policy's globs against a machine's modaliases. */
const CACHE_SIZE = 4096;
function cached<V>(cache: Map<string, V>, key: string, make: (key: string) => V): V {
  let v = cache.get(key);
  if (v === undefined) {
    v = make(key);
    if (cache.size >= CACHE_SIZE) cache.clear();
    cache.set(key, v);
  }
  return v;
}
const globs = new Map<string, CompiledGlob>();
const foldedTexts = new Map<string, string>();
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;
const foldText = (text: string) =>
  ASCII.test(text) ? text.toLowerCase() : Array.from({ length: text.length }, (_, i) => fold(text[i]!)).join('');

/** The problems of a pattern a policy gives (empty when it is a valid glob). */
export function globProblems(pattern: string): GlobProblem[] {
  if (pattern.length > MAX_GLOB_LENGTH)
    return [
      {
        index: MAX_GLOB_LENGTH,
        message: `a modalias glob is at most ${MAX_GLOB_LENGTH} characters (this one has ${pattern.length})`,
      },
    ];
  return compile(pattern).problems;
}

function inRanges(ranges: readonly [number, number][], code: number): boolean {
  for (const [lo, hi] of ranges) if (lo <= code && code <= hi) return true;
  return false;
}

/** Case-insensitive, as the RegExp's 'i' flag was: [a-f] matches 'D', [A-F] matches 'd'. */
function inClass(ranges: readonly [number, number][], code: number): boolean {
  if (inRanges(ranges, code)) return true;
  if (code < 0x80) {
    const isLetter = (code | 0x20) >= 0x61 && (code | 0x20) <= 0x7a;
    return isLetter && inRanges(ranges, code ^ 0x20);
  }
  const c = String.fromCharCode(code);
  return [c.toLowerCase(), c.toUpperCase()].some((o) => o !== c && o.length === 1 && inRanges(ranges, o.charCodeAt(0)));
}

/**
 * Whether the glob matches the whole string. The classic walk: on a mismatch after a
 * star, let that star take one more character and retry from just after it. Only the
 * last star is ever revisited, so each string position is tried against each token at
 * most once per star restart: O(pattern × string) in the worst case, no recursion.
 */
export function globMatch(pattern: string, text: string, budget?: GlobBudget): boolean {
  const { tokens, minLength } = cached(globs, pattern, compile);
  if (text.length < minLength) return false;
  const folded = cached(foldedTexts, text, foldText);
  let p = 0;
  let s = 0;
  let starP = -1;
  let starS = 0;
  let steps = 0;
  let matched = true;
  while (s < text.length) {
    steps++;
    const t = tokens[p];
    let one = false;
    if (t !== undefined) {
      if (t.kind === STAR) {
        starP = p++;
        starS = s;
        continue;
      }
      const code = text.charCodeAt(s);
      one =
        t.kind === ANY ||
        (t.kind === CHAR ? t.code === code || t.folded === folded.charCodeAt(s) : inClass(t.ranges, code) !== t.negate);
    }
    if (one) {
      p++;
      s++;
    } else if (starP !== -1) {
      p = starP + 1;
      s = ++starS;
    } else {
      matched = false;
      break;
    }
  }
  if (matched) {
    while (tokens[p]?.kind === STAR) p++;
    matched = p === tokens.length;
  }
  if (budget) budget.steps += steps;
  return matched;
}

/**
 * Steps a caller allows its glob matches in all. One match is bounded (pattern ×
 * string), but a policy's globs × a machine's devices are not: the caller checks
 * `exhausted` between matches and stops with a clear error instead of running for minutes.
 */
export class GlobBudget {
  steps = 0;
  constructor(readonly limit: number) {}
  get exhausted(): boolean {
    return this.steps > this.limit;
  }
}

export function matchModalias(pattern: string, modalias: string, budget?: GlobBudget): boolean {
  return globMatch(pattern, modalias, budget);
}

/**
 * The equivalent RegExp, for showing a valid glob to tools that take regular expressions.
 * Not used for matching: a RegExp backtracks exponentially on patterns like *?*?*?…Q.
 */
export function globToRegExp(pattern: string): RegExp {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const re = compile(pattern)
    .tokens.map((t) => {
      switch (t.kind) {
        case STAR:
          return '.*';
        case ANY:
          return '.';
        case CHAR:
          return escape(String.fromCharCode(t.code));
        case CLASS:
          return `[${t.negate ? '^' : ''}${t.source.replace(/[\\\]^]/g, '\\$&')}]`;
      }
    })
    .join('');
  return new RegExp(`^${re}$`, 'is');
}
