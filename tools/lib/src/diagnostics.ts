/**
 * Positioned diagnostics for YAML inputs: `file:line:col: message`.
 * yaml's parseDocument + LineCounter give positions; zod issue paths are mapped
 * back to the node they name.
 */
import { isMap, isSeq, LineCounter, parseDocument, visit, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { suggest } from './suggest.js';
import { readBoundedText } from './read.js';

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}

export interface LoadedYaml {
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

/** A YAML input: a regular file of at most maxBytes (default 4 MiB), never a FIFO or a device. */
export async function readYamlFile(file: string, maxBytes?: number): Promise<LoadedYaml> {
  return parseYamlText(file, await readBoundedText(file, { maxBytes }));
}

export function parseYamlText(file: string, text: string): LoadedYaml {
  const lines = new LineCounter();
  // logLevel 'error': yaml's warnings stay in doc.warnings instead of going to stderr via process.emitWarning.
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    strict: true,
    logLevel: 'error',
  });
  return { file, text, doc, lines };
}

function at(y: LoadedYaml, offset: number | undefined, message: string): Diagnostic {
  const pos = y.lines.linePos(offset ?? 0);
  return { file: y.file, line: pos.line, col: pos.col, message };
}

/** YAML syntax errors (and warnings treated as errors, e.g. an unknown tag) of a parsed file. */
export function syntaxDiagnostics(y: LoadedYaml): Diagnostic[] {
  const firstLine = (message: string) => message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const errors = y.doc.errors.map((e) => at(y, e.pos[0], `YAML syntax: ${firstLine(e.message)}`));
  const warnings = y.doc.warnings.map((w) => at(y, w.pos[0], `YAML: ${firstLine(w.message)}`));
  return [...errors, ...warnings].sort((a, b) => a.line - b.line || a.col - b.col);
}

/**
 * The plain value of a parsed document. toJS throws on an alias to a missing
 * anchor and on alias bombs; those become a positioned diagnostic instead.
 */
export function documentValue(y: LoadedYaml): { value: unknown; diagnostics: Diagnostic[] } {
  try {
    return { value: y.doc.toJS({ maxAliasCount: 100 }), diagnostics: [] };
  } catch (err) {
    let unresolved: number | undefined;
    let first: number | undefined;
    visit(y.doc, {
      Alias(_, node) {
        first ??= node.range?.[0];
        if (unresolved === undefined && node.resolve(y.doc) === undefined) unresolved = node.range?.[0];
      },
    });
    const message = err instanceof Error ? err.message : String(err);
    return { value: undefined, diagnostics: [at(y, unresolved ?? first, `YAML: ${message}`)] };
  }
}

/** The node at a path, or the deepest existing ancestor. */
export function nodeAt(
  y: LoadedYaml,
  path: readonly PropertyKey[],
): { node: YamlNode | undefined; keyNode: YamlNode | undefined } {
  let node: unknown = y.doc.contents;
  let keyNode: YamlNode | undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === seg);
      if (!pair) break;
      keyNode = pair.key as YamlNode;
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (!item) break;
      keyNode = undefined;
      node = item;
    } else break;
  }
  return { node: node as YamlNode | undefined, keyNode };
}

export function positionOf(
  y: LoadedYaml,
  path: readonly PropertyKey[],
  preferKey = false,
): { line: number; col: number } {
  const { node, keyNode } = nodeAt(y, path);
  const target = preferKey && keyNode ? keyNode : node;
  const offset = target?.range?.[0] ?? 0;
  return y.lines.linePos(offset);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value} ${String(value)}`;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** Human message for a zod issue: what was expected and what was found. */
function issueMessage(
  issue: z.core.$ZodIssue,
  data: unknown,
  knownKeys: (path: readonly PropertyKey[]) => string[],
): string[] {
  const key = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
  const found = valueAt(data, issue.path);
  switch (issue.code) {
    case 'invalid_type':
      if (found === undefined && issue.path.length)
        return [`missing required key '${String(issue.path[issue.path.length - 1])}' (expected ${issue.expected})`];
      return [`${key}: expected ${issue.expected}, found ${describe(found)}`];
    case 'unrecognized_keys':
      return issue.keys.map((k) => {
        const s = suggest(k, knownKeys(issue.path));
        return `unknown key '${k}'${s ? ` (did you mean '${s}'?)` : ''}`;
      });
    case 'invalid_value':
      return [
        `${key}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, found ${describe(found)}`,
      ];
    default:
      return [
        `${key}: ${issue.message}${found !== undefined && issue.code !== 'custom' ? ` (found ${describe(found)})` : ''}`,
      ];
  }
}

/**
 * Validate a parsed YAML document with a zod schema and return every issue as a
 * positioned diagnostic. `knownKeys` gives the valid keys at a path for suggestions.
 */
export function schemaDiagnostics<T>(
  y: LoadedYaml,
  schema: z.ZodType<T>,
  knownKeys: (path: readonly PropertyKey[]) => string[] = () => [],
): { data: T | undefined; diagnostics: Diagnostic[] } {
  const { value: data, diagnostics: valueDiagnostics } = documentValue(y);
  if (valueDiagnostics.length) return { data: undefined, diagnostics: valueDiagnostics };
  const res = schema.safeParse(data);
  if (res.success) return { data: res.data, diagnostics: [] };
  const diagnostics: Diagnostic[] = [];
  for (const issue of res.error.issues) {
    const messages = issueMessage(issue, data, knownKeys);
    if (issue.code === 'unrecognized_keys') {
      issue.keys.forEach((k, i) => {
        const pos = positionOf(y, [...issue.path, k], true);
        diagnostics.push({ file: y.file, ...pos, message: messages[i]! });
      });
    } else {
      const pos = positionOf(y, issue.path);
      for (const m of messages) diagnostics.push({ file: y.file, ...pos, message: m });
    }
  }
  diagnostics.sort((a, b) => a.line - b.line || a.col - b.col);
  return { data: undefined, diagnostics };
}

/** Keys of a zod object schema at a path (for "did you mean"). */
export function zodObjectKeys(schema: unknown, path: readonly PropertyKey[]): string[] {
  let s: unknown = schema;
  for (const seg of path) {
    s = unwrap(s);
    const shape = (s as { shape?: Record<string, unknown> }).shape;
    const element = (s as { element?: unknown }).element;
    if (shape && typeof seg === 'string' && seg in shape) s = shape[seg];
    else if (element && typeof seg === 'number') s = element;
    else if ((s as { _zod?: { def?: { valueType?: unknown } } })._zod?.def?.valueType)
      s = (s as { _zod: { def: { valueType: unknown } } })._zod.def.valueType;
    else return [];
  }
  s = unwrap(s);
  const shape = (s as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(s: unknown): unknown {
  let cur = s as { _zod?: { def?: { innerType?: unknown; type?: string } } } | undefined;
  for (let i = 0; i < 10 && cur?._zod?.def?.innerType; i++) cur = cur._zod.def.innerType as typeof cur;
  return cur;
}
