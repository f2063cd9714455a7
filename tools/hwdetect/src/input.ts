/**
 * Reading a validated YAML or JSON document (policies, facts, plans): every
 * problem becomes `file:line:col: message`, and a bad input is exit 2.
 * JSON is YAML, so one parser gives positions for both. Parsing with positions
 * costs about 80 times the document's size in memory, so a JSON document that
 * is valid is taken from JSON.parse; only a bad one goes through YAML to say where.
 */
import {
  formatDiagnostic,
  inputError,
  parseYamlText,
  READ_LIMITS,
  readBoundedText,
  schemaDiagnostics,
  syntaxDiagnostics,
  zodObjectKeys,
  type Diagnostic,
  type LoadedYaml,
} from '@debian-atomic/lib';
import type { z } from 'zod';

export function diagnosticsError(what: string, diagnostics: readonly Diagnostic[]) {
  const [first, ...rest] = diagnostics.map(formatDiagnostic);
  return inputError(`invalid ${what}: ${first}`, { detail: rest.length ? rest.join('\n') : undefined });
}

export function validateYaml<T>(y: LoadedYaml, schema: z.ZodType<T>, what: string): T {
  const syntax = syntaxDiagnostics(y);
  if (syntax.length > 0) throw diagnosticsError(what, syntax);
  const { data, diagnostics } = schemaDiagnostics(y, schema, (path) => zodObjectKeys(schema, path));
  if (diagnostics.length > 0 || data === undefined) throw diagnosticsError(what, diagnostics);
  return data;
}

/**
 * Standard input, at most maxBytes (the bound of a file: READ_LIMITS.config). A stream
 * that goes on (/dev/zero piped in) is refused at the bound, not read to the end.
 */
export async function readStdin(
  stream: NodeJS.ReadableStream = process.stdin,
  maxBytes: number = READ_LIMITS.config,
): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > maxBytes) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      throw inputError(`<stdin>: larger than ${maxBytes} bytes, refusing to read it`, {
        hint: 'is this the input you meant?',
      });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/**
 * The most each document may be: hand-written policies are a few KiB; facts and
 * plans are what probe and plan write (they refuse to write more).
 */
export const DOCUMENT_LIMITS = {
  policy: 512 << 10,
  facts: 2 << 20,
  plan: 2 << 20,
} as const;

/** A JSON text that is valid as it is: the data; anything else: undefined (and YAML says what is wrong). */
function validJson<T>(text: string, schema: z.ZodType<T>): T | undefined {
  if (!/^\s*\{/.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = schema.safeParse(value);
  return r.success ? r.data : undefined;
}

/** Load FILE (or standard input for "-") of at most maxBytes and validate it with a schema. */
export async function loadDocument<T>(
  file: string,
  schema: z.ZodType<T>,
  what: string,
  stdin?: NodeJS.ReadableStream,
  maxBytes: number = READ_LIMITS.config,
): Promise<T> {
  const name = file === '-' ? '<stdin>' : file;
  const text = file === '-' ? await readStdin(stdin, maxBytes) : await readBoundedText(file, { maxBytes });
  return validJson(text, schema) ?? validateYaml(parseYamlText(name, text), schema, what);
}
