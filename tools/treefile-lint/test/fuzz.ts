// Fuzz: a valid treefile mutated at random (seeded) must always give positioned
// diagnostics, never a crash — in-process and through the real CLI.
import t from 'tap';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { formatDiagnostic } from '@debian-atomic/lib';
import { lintTreefile } from '../src/lint.js';
import { PACKAGE_KEYS, treefileSchema, type Treefile } from '../src/schema.js';

const VALID = `# a complete treefile without references to other files
ref: debian/13/x86_64/fuzz
suite: trixie
release: "13"
architecture: amd64
mmdebstrap-variant: apt
repos:
  - mirror: http://deb.debian.org/debian
    components: [main, contrib]
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
packages:
  - systemd
  - linux-image-amd64
  - ostree
packages-arm64: [u-boot-tools]
exclude-packages: [nano]
units: [ssh.service, fstrim.timer]
default-target: multi-user.target
kernel-args: ["console=ttyS0,115200", rw]
recommends: false
add-commit-metadata:
  version: "1"
  nested: {a: [1, 2], b: &x yes}
  again: *x
postprocess:
  - |
    #!/bin/sh
    echo hi
`;

/** mulberry32: a small seeded PRNG, so a failure is reproducible from its case number. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const WRONG_VALUES = ['42', 'true', 'null', '[1, 2]', '{a: b}', '"a string"', '3.5', '~', '[[x]]', '""'];
const JUNK = [
  ':',
  '[',
  ']',
  '{',
  '}',
  '-',
  '&',
  '*',
  '!',
  '|',
  '>',
  "'",
  '"',
  '#',
  '%',
  '@',
  '`',
  ',',
  '?',
  '\t',
  ' ',
  'X',
  '/',
];

function mutate(text: string, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const pos = () => Math.floor(rnd() * text.length);
  const lines = text.split('\n');
  const line = () => Math.floor(rnd() * lines.length);
  switch (Math.floor(rnd() * 8)) {
    case 0: {
      const i = pos();
      return text.slice(0, i) + text.slice(i + 1);
    }
    case 1: {
      const i = pos();
      return text.slice(0, i) + text.charAt(i) + text.slice(i);
    }
    case 2: {
      const i = pos();
      return text.slice(0, i) + text.charAt(i + 1) + text.charAt(i) + text.slice(i + 2);
    }
    case 3:
      lines.splice(line(), 1);
      return lines.join('\n');
    case 4: {
      const i = line();
      lines.splice(i, 0, lines[i]!);
      return lines.join('\n');
    }
    case 5: {
      const i = line();
      const j = line();
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join('\n');
    }
    case 6: {
      // A wrong type for a top-level key's value.
      const keyed = lines.map((l, i) => [l, i] as const).filter(([l]) => /^[a-z-]+:/.test(l));
      const [l, i] = pick(keyed);
      lines[i] = `${l.slice(0, l.indexOf(':'))}: ${pick(WRONG_VALUES)}`;
      return lines.join('\n');
    }
    default: {
      const i = pos();
      return text.slice(0, i) + pick(JUNK) + text.slice(i);
    }
  }
}

/** What the linter must conclude, decided from the YAML library and the schema alone. */
function expectedValid(text: string): boolean {
  const doc = parseDocument(text, { uniqueKeys: true, strict: true, logLevel: 'silent' });
  if (doc.errors.length || doc.warnings.length) return false;
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch {
    return false;
  }
  const parsed = treefileSchema.safeParse(value);
  if (!parsed.success) return false;
  const tf: Treefile = parsed.data;
  const excluded = new Set(tf['exclude-packages']);
  if (PACKAGE_KEYS.some((k) => tf[k]?.some((p) => excluded.has(p)))) return false;
  if (tf.ref === undefined) return true; // a fragment
  return Boolean(tf.suite && tf.repos?.length && tf.packages?.some((p) => !excluded.has(p)));
}

const POSITIONED = /^(.+):(\d+):(\d+): \S/;
const WANTED = 200;

t.test('the unmutated treefile is valid', async (t) => {
  const dir = t.testdir({ 'valid.yaml': VALID });
  t.ok(expectedValid(VALID));
  const { report, result } = await lintTreefile(join(dir, 'valid.yaml'));
  t.same(result.diagnostics, []);
  t.ok(report.ok);
});

t.test(`${WANTED} malformed treefiles: positioned diagnostics, verdict as expected, no crash`, async (t) => {
  const dir = t.testdir({});
  const malformed: string[] = [];
  let valid = 0;
  for (let n = 0; malformed.length < WANTED && n < 20 * WANTED; n++) {
    const rnd = prng(n + 1);
    let text = VALID;
    const rounds = 1 + Math.floor(rnd() * 3);
    for (let r = 0; r < rounds; r++) text = mutate(text, rnd);
    const file = join(dir, `case-${n}.yaml`);
    writeFileSync(file, text);
    const shouldPass = expectedValid(text);
    const { report, result } = await lintTreefile(file);
    if (report.ok !== shouldPass) {
      t.fail(`case ${n}: lint says ok=${report.ok}, expected ${shouldPass}`, {
        text,
        diagnostics: result.diagnostics.map(formatDiagnostic),
      });
      continue;
    }
    if (shouldPass) {
      valid++;
      continue;
    }
    malformed.push(file);
    const lineCount = text.split('\n').length;
    const bad = result.diagnostics.filter((d) => {
      const m = POSITIONED.exec(formatDiagnostic(d));
      return !m || m[1] !== file || d.line < 1 || d.line > lineCount || d.col < 1;
    });
    if (result.diagnostics.length === 0 || bad.length)
      t.fail(`case ${n}: diagnostics not positioned`, { text, diagnostics: result.diagnostics });
  }
  t.equal(malformed.length, WANTED, `${WANTED} malformed cases (and ${valid} mutations that stayed valid)`);

  // A sample through the real CLI: exit 1 or 2, positioned lines, no stack trace.
  const bin = resolve(import.meta.dirname, '../dist/bin.js');
  const sample = malformed.filter((_, i) => i % 10 === 0);
  t.equal(sample.length, 20);
  const cli = (args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((done) =>
      execFile(process.execPath, [bin, ...args], { encoding: 'utf8' }, (err, stdout, stderr) =>
        done({ status: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr }),
      ),
    );
  for (let i = 0; i < sample.length; i += 4) {
    const batch = sample.slice(i, i + 4);
    const runs = await Promise.all(batch.map((f, j) => cli((i + j) % 2 ? ['--resolve', f] : [f])));
    runs.forEach((r, j) => {
      const f = batch[j]!;
      t.ok(r.status === 1 || r.status === 2, `${f}: exit ${r.status}`);
      t.match(r.stderr, /^.+:\d+:\d+: \S/m, `${f}: a positioned message`);
      t.notMatch(r.stderr, /^ {4}at /m, `${f}: no stack trace`);
      t.notMatch(r.stderr, /internal error/, `${f}: no internal error`);
    });
  }
});
