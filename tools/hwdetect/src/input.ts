/**
 * Reading a validated YAML or JSON document (policies, facts, plans): every
 * problem becomes `file:line:col: message`, and a bad input is exit 2.
 * JSON is YAML, so one parser gives positions for both.
 */
import { formatDiagnostic, inputError, parseYamlText, readYamlFile, schemaDiagnostics, syntaxDiagnostics, zodObjectKeys, type Diagnostic, type LoadedYaml } from '@debian-atomic/lib';
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

export async function readStdin(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  return text;
}

/** Load FILE (or standard input for "-") and validate it with a schema. */
export async function loadDocument<T>(file: string, schema: z.ZodType<T>, what: string, stdin?: NodeJS.ReadableStream): Promise<T> {
  const y = file === '-' ? parseYamlText('<stdin>', await readStdin(stdin)) : await readYamlFile(file);
  return validateYaml(y, schema, what);
}
