/**
 * Loading a treefile or a tasks file: lib's bounded read (a regular file of at most maxBytes,
 * never a FIFO or a device), then two guards before and after yaml parses it. yaml's parser and
 * composer recurse: a few megabytes of "[[[[" or "- - - -" take seconds and gigabytes before
 * they fail with "Maximum call stack size exceeded", and a mapping of 100,000 keys makes every
 * positioned diagnostic a linear search. Both are refused as one positioned syntax error.
 */
import { isMap, isPair, isSeq, Lexer, LineCounter, YAMLParseError, type Document } from 'yaml';
import { parseYamlText, readBoundedText, type LoadedYaml } from '@debian-atomic/lib';

/** Deeper than any treefile (at most 5 levels) or a sane add-commit-metadata value. */
export const YAML_MAX_DEPTH = 64;
/** Entries of one mapping (a treefile has some 40 keys, a tasks file some 50 tasks). */
export const YAML_MAX_MAP_ENTRIES = 1000;
/** Entries of one sequence (the schema bounds lists too; this covers the ones it does not type). */
export const YAML_MAX_SEQ_ENTRIES = 10000;
/** Lexer tokens of one file (a treefile has a few hundred, a list of 10,000 packages 50,000). */
export const YAML_MAX_TOKENS = 60000;
/**
 * Mapping entries in one file, all mappings together: yaml checks each key against every other
 * key of its mapping (uniqueKeys), so one mapping of 20,000 keys takes seconds to parse.
 */
export const YAML_MAX_KEYS = 5000;

// Tokens of yaml's lexer that stand for no source text (cst.DOCUMENT, FLOW_END, SCALAR).
const MARKERS = new Set(['\u0002', '\u0018', '\u001f']);

/**
 * The first place where a YAML text nests deeper than `max` levels or has more than `maxTokens`
 * tokens, or null. Linear in the text and stops at the first offence: the lexer does not
 * recurse, only the parser does. Block nesting is
 * estimated from the indentation levels open on a line plus the `-`, `?`, `:` indicators on it,
 * which never undercounts and overcounts real nesting by a small factor; flow nesting is exact.
 */
export function shapeOverflow(
  text: string,
  max: number = YAML_MAX_DEPTH,
  maxTokens: number = YAML_MAX_TOKENS,
): [number, string] | null {
  const indents: number[] = [];
  /** The open flow collections, innermost last: '[' or '{'. */
  const flow: string[] = [];
  let tokens = 0;
  let keys = 0;
  let offset = 0;
  let lineStart = true;
  let indent = 0;
  let indicators = 0;
  for (const tok of new Lexer().lex(text)) {
    if (MARKERS.has(tok)) continue;
    const at = offset;
    offset += tok.length;
    if (++tokens > maxTokens) return [at, `more than ${maxTokens} YAML tokens, refusing to parse it`];
    if (tok === '\n' || tok === '\r\n') {
      lineStart = true;
      indent = 0;
      indicators = 0;
      continue;
    }
    if (lineStart && /^[ \t]+$/.test(tok)) {
      indent = tok.length;
      continue;
    }
    if (tok.startsWith('#') || /^\s+$/.test(tok)) continue;
    if (tok === '---' || tok === '...') {
      indents.length = 0;
      lineStart = false;
      continue;
    }
    if (lineStart) {
      lineStart = false;
      if (flow.length === 0) {
        while (indents.length && indents[indents.length - 1]! > indent) indents.pop();
        if (!indents.length || indents[indents.length - 1]! < indent) indents.push(indent);
      }
    }
    if (tok === '[' || tok === '{') flow.push(tok);
    else if (tok === ']' || tok === '}') flow.pop();
    else if (flow.length === 0 && (tok === '-' || tok === '?' || tok === ':')) indicators++;
    // A key is a ":" or "?" indicator, or an entry of a flow mapping ({a, b} has keys without ":").
    if (tok === ':' || tok === '?' || (tok === ',' && flow[flow.length - 1] === '{')) {
      if (++keys > YAML_MAX_KEYS) return [at, `more than ${YAML_MAX_KEYS} mapping keys, refusing to parse it`];
    }
    if (flow.length + indents.length + indicators > max)
      return [at, `nested deeper than ${max} levels, refusing to parse it`];
  }
  return null;
}

/** The first mapping or sequence with more entries than the limits, as [offset, message]. */
export function oversizedCollection(doc: Document.Parsed): [number, string] | null {
  const todo: unknown[] = [doc.contents];
  while (todo.length) {
    const node = todo.pop();
    if (isMap(node)) {
      if (node.items.length > YAML_MAX_MAP_ENTRIES)
        return [
          node.range?.[0] ?? 0,
          `a mapping with ${node.items.length} entries (at most ${YAML_MAX_MAP_ENTRIES}), refusing to check it`,
        ];
      for (const pair of node.items) if (isPair(pair)) todo.push(pair.key, pair.value);
    } else if (isSeq(node)) {
      if (node.items.length > YAML_MAX_SEQ_ENTRIES)
        return [
          node.range?.[0] ?? 0,
          `a list with ${node.items.length} entries (at most ${YAML_MAX_SEQ_ENTRIES}), refusing to check it`,
        ];
      for (const item of node.items) todo.push(item);
    }
  }
  return null;
}

/** A file that is not parsed: an empty document carrying one error, positioned in the real text. */
function refused(file: string, text: string, offset: number, message: string): LoadedYaml {
  const y = parseYamlText(file, '');
  const lines = new LineCounter();
  lines.addNewLine(0);
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines.addNewLine(i + 1);
  y.doc.errors.push(new YAMLParseError([offset, offset + 1], 'RESOURCE_EXHAUSTION', message));
  return { file, text, doc: y.doc, lines };
}

/**
 * Read and parse a YAML input of at most maxBytes. Throws lib's input error (exit 2, naming the
 * file) when it cannot be read; a bomb comes back as a document with one positioned error.
 */
export async function loadYaml(file: string, maxBytes: number): Promise<LoadedYaml> {
  const text = await readBoundedText(file, { maxBytes });
  const shape = shapeOverflow(text);
  if (shape) return refused(file, text, ...shape);
  const y = parseYamlText(file, text);
  if (y.doc.errors.length === 0) {
    const big = oversizedCollection(y.doc);
    if (big) y.doc.errors.push(new YAMLParseError([big[0], big[0] + 1], 'RESOURCE_EXHAUSTION', big[1]));
  }
  return y;
}
