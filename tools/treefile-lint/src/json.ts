/**
 * Reading a resolved treefile (the JSON `--resolve` prints) in the stages after treefile-lint:
 * one reader, so every stage refuses the same inputs with the same messages.
 */
import { CONTROL_CHARS, inputError } from '@debian-atomic/lib';
import { resolvedTreefileSchema, type ResolvedTreefile } from './schema.js';
import { YAML_MAX_DEPTH } from './yaml.js';

/** JSON.parse does not recurse, but zod's z.json() and JSON.stringify do: 2,000 levels overflow the stack. */
export const JSON_MAX_DEPTH = YAML_MAX_DEPTH;

/** The offset where JSON text nests deeper than `max` arrays/objects, or null. Linear, no parse. */
export function jsonNestingOverflow(text: string, max: number = JSON_MAX_DEPTH): number | null {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return null;
}

// A global copy of lib's CONTROL_CHARS, to escape every one.
const CONTROLS = new RegExp(CONTROL_CHARS.source, 'g');

/**
 * One line of a message about untrusted input: at most `max` characters, control characters
 * escaped (a key or a JSON excerpt must not send a terminal escape sequence or a newline to stderr).
 */
export function clip(s: string, max = 200): string {
  const short = s.length > max ? `${s.slice(0, max)}…` : s;
  return short.replace(CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Parse and validate a resolved treefile. Throws lib's input error (exit 2) naming `source` when
 * the text is not JSON, nests too deeply, or is not a resolved treefile (the first problems as
 * detail, each clipped: a hostile key or value must not become a megabyte of stderr).
 */
export function parseResolvedTreefile(text: string, source: string): ResolvedTreefile {
  const deep = jsonNestingOverflow(text);
  if (deep !== null)
    throw inputError(
      `${source}: JSON nested deeper than ${JSON_MAX_DEPTH} levels (at offset ${deep}), refusing to read it`,
    );
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw inputError(
      `${source}: not JSON (${clip((err as Error).message)}); give the output of treefile-lint --resolve`,
    );
  }
  const parsed = resolvedTreefileSchema.safeParse(data);
  if (!parsed.success) {
    const first = parsed.error.issues
      .slice(0, 5)
      .map((i) => clip(`${i.path.join('.') || '(top level)'}: ${i.message}`));
    const more = parsed.error.issues.length - first.length;
    if (more > 0) first.push(`... and ${more} more`);
    throw inputError(`${source}: not a resolved treefile`, {
      detail: first.join('\n'),
      hint: 'run treefile-lint --resolve on the YAML first',
    });
  }
  return parsed.data;
}
