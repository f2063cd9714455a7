/** stdout carries data only: canonical JSON documents or NDJSON records. */

/** JSON with object keys sorted recursively: stable bytes for the same value. */
export function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalize);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonicalize(v);
    }
    return out;
  }
  return value;
}

export function canonicalJson(value: unknown, indent = 2): string {
  return JSON.stringify(canonicalize(value), null, indent) + '\n';
}

export function writeJson(value: unknown, stream: NodeJS.WritableStream = process.stdout): void {
  stream.write(canonicalJson(value));
}

export function writeNdjson(value: unknown, stream: NodeJS.WritableStream = process.stdout): void {
  stream.write(JSON.stringify(canonicalize(value)) + '\n');
}
