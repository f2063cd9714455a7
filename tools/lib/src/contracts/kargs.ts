/**
 * bootc-style kernel argument files, usr/lib/bootc/kargs.d/*.toml:
 *   kargs = ["iommu=pt"]
 *   match-architectures = ["x86_64"]
 * hwdetect writes them; disk-image and atomic merge them into the deployment's kernel arguments.
 * The text is TOML read by smol-toml (any TOML bootc accepts: literal and multi-line strings,
 * arrays over several lines, comments), then checked: the two keys, arrays of strings, and every
 * karg one word of the kernel command line.
 */
import { parse, TomlError } from 'smol-toml';
import { z } from 'zod';
import { inputError } from '../errors.js';
import { kernelArgProblem } from '../grammar.js';

export interface KargsFile {
  kargs: string[];
  /** bootc architecture names (x86_64, aarch64); absent = every architecture. */
  architectures?: string[];
}

const strings = z.array(z.string({ error: 'expected an array of strings' }), { error: 'expected an array of strings' });
export const kargsFileSchema = z.strictObject({ kargs: strings, 'match-architectures': strings.optional() });
const KEYS: readonly string[] = Object.keys(kargsFileSchema.shape);

/** 1-based line and column of offset `at` in `text`. */
function position(text: string, at: number): string {
  const before = text.slice(0, at).split('\n');
  return `${before.length}:${before.at(-1)!.length + 1}`;
}

/** A top-level key's line (`m.index`, with the key's indent and quotes) and where its value starts. */
function keyAt(text: string, key: string): { key: number; value: number } {
  const m = new RegExp(`^([ \\t]*)(["']?)${key.replace(/\W/g, '\\$&')}\\2[ \\t]*=[ \\t]*`, 'm').exec(text);
  return m ? { key: m.index + m[1]!.length, value: m.index + m[0].length } : { key: 0, value: 0 };
}

/** Where an array item is, found by its usual spellings after the key; else the key's value. */
function itemOffset(text: string, key: string, item: string): number {
  const from = keyAt(text, key).value;
  for (const spelling of [JSON.stringify(item), `'${item}'`]) {
    const at = text.indexOf(spelling, from);
    if (at >= 0) return at;
  }
  return from;
}

export function parseKargsToml(text: string, file = 'kargs.toml'): KargsFile {
  const fail = (at: number | string, message: string): never => {
    throw inputError(`${file}:${typeof at === 'string' ? at : position(text, at)}: ${message}`);
  };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    fail(`${err.line}:${err.column}`, err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, ''));
  }
  // The key problems first, in reading order: an unknown key, then a missing one, then a type.
  const keys = Object.keys(doc as object);
  const unknown = keys.find((k) => !KEYS.includes(k));
  if (unknown !== undefined) fail(keyAt(text, unknown).key, `unknown key '${unknown}' (expected ${KEYS.join(', ')})`);
  if (!keys.includes('kargs')) fail(text.length, "missing key 'kargs'");
  const r = kargsFileSchema.safeParse(doc);
  if (!r.success) return fail(keyAt(text, String(r.error.issues[0]!.path[0])).value, r.error.issues[0]!.message);
  const f = r.data;
  // A karg lands on the kernel command line (BLS `options`): one argument, one line.
  for (const item of f.kargs) {
    const problem = kernelArgProblem(item);
    if (problem) fail(itemOffset(text, 'kargs', item), problem);
  }
  return f['match-architectures'] ? { kargs: f.kargs, architectures: f['match-architectures'] } : { kargs: f.kargs };
}
