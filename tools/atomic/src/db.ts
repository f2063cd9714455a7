/**
 * The Debian packages a commit carries: its dpkg status database, read out of the OSTree
 * repository (no checkout), compared between two commits as `rpm-ostree db diff` does.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inputError, READ_LIMITS, ToolError, toolboxRun } from '@debian-atomic/lib';
import { z } from 'zod';

export interface Pkg {
  name: string;
  version: string;
  architecture: string;
}

export interface PkgChange {
  name: string;
  architecture: string;
  from: string;
  to: string;
}

export interface PackageDiff {
  added: Pkg[];
  removed: Pkg[];
  upgraded: PkgChange[];
  downgraded: PkgChange[];
}

/**
 * Where a commit keeps its dpkg database: usr-unify moves /var/lib/dpkg to /usr (an OSTree
 * commit's /var is not deployed); a plain tree (not made by usr-unify) still has it in /var.
 */
export const DPKG_STATUS_PATHS = ['/usr/lib/sysimage/dpkg/status', '/var/lib/dpkg/status'] as const;

/** A desktop's status file is a few MB; READ_LIMITS.large (64 MiB) is far above any real one. */
export const MAX_STATUS_BYTES = READ_LIMITS.large;

async function ostree(repo: string, args: string[], what: string) {
  return toolboxRun('ostree', [`--repo=${repo}`, ...args], {
    binds: [repo],
    providedBy: 'ostree',
    what,
    allowExitCodes: [1],
  });
}

function ostreeFailure(repo: string, commit: string, args: string[], stderr: string): ToolError {
  const message = stderr.trim().replace(/^error: /, '');
  if (
    /^Refspec '.*' not found|^Invalid refspec|^Can't find commit|^No such metadata object|has no parent$/.test(message)
  ) {
    return inputError(`${commit}: no such commit or ref in ${repo}`, { detail: message });
  }
  return new ToolError('command-failed', `ostree ${args[0]} ${commit} failed`, { detail: message, output: stderr });
}

/** The status file of a commit: its path and size (from `ostree ls`), before reading a byte. */
async function findStatusFile(repo: string, commit: string): Promise<{ path: string; size: number }> {
  for (const path of DPKG_STATUS_PATHS) {
    const args = ['ls', commit, path];
    const r = await ostree(repo, args, `find the dpkg database of ${commit}`);
    if (r.exitCode !== 0) {
      // A missing path (or a parent that is a symlink or a file): try the next place.
      if (/No such file or directory|Not a directory/.test(r.stderr)) continue;
      throw ostreeFailure(repo, commit, args, r.stderr);
    }
    // "-00644 0 0   1234 /usr/lib/sysimage/dpkg/status"
    const m = /^(\S)\d+\s+\d+\s+\d+\s+(\d+)\s/.exec(r.stdout);
    if (!m)
      throw new ToolError('command-failed', `ostree ls ${commit} ${path}: unexpected output`, {
        detail: r.stdout.slice(0, 200),
      });
    if (m[1] !== '-')
      throw inputError(
        `${commit}:${path}: not a regular file (ostree ls: ${JSON.stringify(r.stdout.trim().slice(0, 120))})`,
      );
    return { path, size: Number(m[2]) };
  }
  throw inputError(`${commit}: no dpkg database in the commit (neither ${DPKG_STATUS_PATHS.join(' nor ')})`, {
    hint: 'is it a Debian Atomic commit? usr-unify keeps the database in /usr/lib/sysimage/dpkg',
  });
}

/** The installed packages of a commit (or ref) of an OSTree repository, sorted by name and architecture. */
export async function packagesOfCommit(repo: string, commit: string, opts: { maxBytes?: number } = {}): Promise<Pkg[]> {
  // Checked here: bwrap's "Can't find source path" for a missing bind would say nothing useful.
  if (!existsSync(join(repo, 'config'))) throw inputError(`${repo}: not an OSTree repository (no config file)`);
  // ostree would take it for an option.
  if (commit === '' || commit.startsWith('-'))
    throw inputError(`${JSON.stringify(commit)}: not a commit checksum or ref`);
  const max = opts.maxBytes ?? MAX_STATUS_BYTES;
  const { path, size } = await findStatusFile(repo, commit);
  const file = `${commit}:${path}`;
  const tooLarge = (n: number) =>
    inputError(`${file}: ${n} bytes, larger than ${max}: refusing to read it`, {
      hint: 'a dpkg status file of a whole desktop is a few MB; is this commit intact?',
    });
  if (size > max) throw tooLarge(size);
  const args = ['cat', commit, path];
  const r = await ostree(repo, args, `read the dpkg database of ${commit}`);
  if (r.exitCode !== 0) throw ostreeFailure(repo, commit, args, r.stderr);
  if (Buffer.byteLength(r.stdout) > max) throw tooLarge(Buffer.byteLength(r.stdout));
  return parseDpkgStatus(r.stdout, file);
}

// What dpkg itself writes; anything else in an installed package's paragraph is a damaged or
// hostile database, refused before a name or version reaches a terminal.
const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9+._-]{0,254}$/;
const VERSION = /^[A-Za-z0-9.+~:-]{1,256}$/;
const ARCHITECTURE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const KEPT_FIELDS = new Set(['package', 'status', 'version', 'architecture']);

interface Field {
  value: string;
  line: number;
}

/**
 * The installed packages of a dpkg status file (deb822 paragraphs): those whose Status says
 * "installed" (want install, hold or deinstall alike: the files are there). Half-installed,
 * unpacked, config-files and not-installed ones are left out. Errors name file:line.
 */
export function parseDpkgStatus(text: string, file: string): Pkg[] {
  const fail = (line: number, message: string) => inputError(`${file}:${line}: ${message}`);
  const out: Pkg[] = [];
  const seen = new Map<string, number>();
  /** The line the current paragraph starts at; 0 between paragraphs. */
  let start = 0;
  let fields = new Map<string, Field>();
  let last: Field | undefined;

  const finish = () => {
    const para = fields;
    const at = start;
    start = 0;
    fields = new Map();
    last = undefined;
    if (para.get('status')?.value.split(/\s+/)[2] !== 'installed') return;
    const get = (name: string, re: RegExp) => {
      const f = para.get(name.toLowerCase());
      if (!f) throw fail(at, `installed package with no ${name} field`);
      if (!re.test(f.value)) throw fail(f.line, `${name}: ${JSON.stringify(f.value.slice(0, 80))} is not valid`);
      return f.value;
    };
    const pkg = {
      name: get('Package', PACKAGE_NAME),
      version: get('Version', VERSION),
      architecture: get('Architecture', ARCHITECTURE),
    };
    const key = `${pkg.name}:${pkg.architecture}`;
    const first = seen.get(key);
    if (first !== undefined) throw fail(at, `${key} is installed twice (first at line ${first})`);
    seen.set(key, at);
    out.push(pkg);
  };

  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (line.trim() === '') {
      if (start) finish();
    } else if (line[0] === ' ' || line[0] === '\t') {
      // A continuation line: only multi-line fields (Description, Conffiles) have them.
      if (!start) throw fail(lineNo, 'continuation line outside a paragraph');
      if (last) last.value += '\n' + line.trim();
    } else if (line[0] !== '#') {
      const colon = line.indexOf(':');
      if (colon <= 0 || /\s/.test(line.slice(0, colon))) {
        throw fail(
          lineNo,
          `expected 'Field: value', found ${JSON.stringify(line.slice(0, 40))}${line.length > 40 ? '…' : ''}`,
        );
      }
      if (!start) start = lineNo;
      const key = line.slice(0, colon).toLowerCase();
      last = undefined;
      if (!KEPT_FIELDS.has(key)) continue;
      const prev = fields.get(key);
      if (prev) throw fail(lineNo, `duplicate field '${line.slice(0, colon)}' (first at line ${prev.line})`);
      last = { value: line.slice(colon + 1).trim(), line: lineNo };
      fields.set(key, last);
    }
  }
  if (start) finish();
  return out.sort(byNameAndArch);
}

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byNameAndArch = (a: { name: string; architecture: string }, b: { name: string; architecture: string }) =>
  compareStrings(a.name, b.name) || compareStrings(a.architecture, b.architecture);

/**
 * What changed from one package set to another. A package is matched by name; a name
 * installed for more than one architecture on either side (Multi-Arch: same libraries) is
 * matched by name and architecture and shown arch-qualified ("libc6:i386"). A package that
 * only changed architecture at the same version (all -> amd64) is not a change.
 */
export function diffPackages(from: readonly Pkg[], to: readonly Pkg[]): PackageDiff {
  const multiArch = new Set<string>();
  for (const side of [from, to]) {
    const names = new Set<string>();
    for (const p of side) (names.has(p.name) ? multiArch : names).add(p.name);
  }
  const keyOf = (p: Pkg) => (multiArch.has(p.name) ? `${p.name}:${p.architecture}` : p.name);
  const index = (side: readonly Pkg[]) => new Map(side.map((p) => [keyOf(p), p]));
  const a = index(from);
  const b = index(to);

  const diff: PackageDiff = { added: [], removed: [], upgraded: [], downgraded: [] };
  for (const [key, p] of a) {
    const q = b.get(key);
    if (!q) {
      diff.removed.push({ ...p, name: key });
      continue;
    }
    const c = compareDebianVersions(p.version, q.version);
    if (c < 0) diff.upgraded.push({ name: key, architecture: q.architecture, from: p.version, to: q.version });
    else if (c > 0) diff.downgraded.push({ name: key, architecture: q.architecture, from: p.version, to: q.version });
  }
  for (const [key, q] of b) if (!a.has(key)) diff.added.push({ ...q, name: key });
  for (const list of [diff.added, diff.removed, diff.upgraded, diff.downgraded]) list.sort(byNameAndArch);
  return diff;
}

// --- Debian version comparison (dpkg's lib/dpkg/version.c: dpkg_version_compare) ---

/** dpkg's order of a non-digit character: '~' first (even before the end), then the end, letters, everything else. */
function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return 0;
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) return code;
  return code + 256;
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** dpkg's verrevcmp: alternating non-digit runs (by `order`) and digit runs (numerically, any length). */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = order(a[i]);
      const bc = order(b[j]);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let firstDiff = 0;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

export interface DebianVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

/** [epoch:]upstream[-revision]: the epoch before the first ':', the revision after the last '-'. */
export function splitDebianVersion(v: string): DebianVersion {
  // dpkg refuses a non-numeric epoch; here such a string is all upstream, so that any two strings compare.
  const m = /^(\d+):/.exec(v);
  const epoch = m ? m[1]! : '0';
  const rest = m ? v.slice(m[0].length) : v;
  const dash = rest.lastIndexOf('-');
  return dash < 0
    ? { epoch, upstream: rest, revision: '' }
    : { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) };
}

/** Digit strings of any length, as numbers. */
function compareNumbers(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  return x.length !== y.length ? x.length - y.length : compareStrings(x, y);
}

/** dpkg --compare-versions: negative, 0 or positive (-1, 0, 1) as a sorts before, with or after b. */
export function compareDebianVersions(a: string, b: string): number {
  const x = splitDebianVersion(a);
  const y = splitDebianVersion(b);
  const c =
    compareNumbers(x.epoch, y.epoch) ||
    compareFragment(x.upstream, y.upstream) ||
    compareFragment(x.revision, y.revision);
  return Math.sign(c);
}

// --- Rendering for `atomic db diff` and `atomic db list` ---

/** A commit as the user named it: its checksum and what it is ("booted deployment", "ref debian/13/x86_64/desktop"). */
export interface CommitLabel {
  commit: string;
  description?: string | undefined;
}

const pkgSchema = z.object({ name: z.string(), version: z.string(), architecture: z.string() });
const changeSchema = z.object({ name: z.string(), architecture: z.string(), from: z.string(), to: z.string() });

/** `atomic db diff --json`: from/to are commit checksums; names are arch-qualified where a name has several architectures. */
export const DbDiffSchema = z.object({
  from: z.string(),
  to: z.string(),
  added: z.array(pkgSchema),
  removed: z.array(pkgSchema),
  upgraded: z.array(changeSchema),
  downgraded: z.array(changeSchema),
});
export type DbDiffJson = z.infer<typeof DbDiffSchema>;

/** `atomic db list --json`. */
export const DbListSchema = z.object({ commit: z.string(), packages: z.array(pkgSchema) });
export type DbListJson = z.infer<typeof DbListSchema>;

export function packageDiffJson(diff: PackageDiff, from: CommitLabel, to: CommitLabel): DbDiffJson {
  return { from: from.commit, to: to.commit, ...diff };
}

export function packageListJson(packages: readonly Pkg[], of: CommitLabel): DbListJson {
  return { commit: of.commit, packages: [...packages] };
}

const labelText = (l: CommitLabel) => (l.description ? `${l.description} (${l.commit})` : l.commit);

/**
 * The human text of `atomic db diff`, as rpm-ostree prints it:
 *
 *     ostree diff commit from: booted deployment (8a3f…)
 *     ostree diff commit to:   staged deployment (c012…)
 *     Upgraded:
 *       base-files 13.8 -> 13.8+deb13u1
 *     Added:
 *       tree 2.2.1-1
 *
 * "name version" rather than rpm's name-version: Debian names and versions both have '-'.
 */
export function formatPackageDiff(diff: PackageDiff, from: CommitLabel, to: CommitLabel): string {
  const lines = [`ostree diff commit from: ${labelText(from)}`, `ostree diff commit to:   ${labelText(to)}`];
  const section = (title: string, rows: string[]) => {
    if (rows.length) lines.push(`${title}:`, ...rows.map((r) => `  ${r}`));
  };
  section(
    'Upgraded',
    diff.upgraded.map((c) => `${c.name} ${c.from} -> ${c.to}`),
  );
  section(
    'Downgraded',
    diff.downgraded.map((c) => `${c.name} ${c.from} -> ${c.to}`),
  );
  section(
    'Removed',
    diff.removed.map((p) => `${p.name} ${p.version}`),
  );
  section(
    'Added',
    diff.added.map((p) => `${p.name} ${p.version}`),
  );
  if (!diff.upgraded.length && !diff.downgraded.length && !diff.removed.length && !diff.added.length)
    lines.push('No package changes.');
  return lines.join('\n') + '\n';
}

/** The human text of `atomic db list`: a header, then name, version and architecture in aligned columns (as dpkg -l). */
export function formatPackageList(packages: readonly Pkg[], of: CommitLabel): string {
  const lines = [`ostree commit: ${labelText(of)}`];
  const nameWidth = Math.max(0, ...packages.map((p) => p.name.length));
  const versionWidth = Math.max(0, ...packages.map((p) => p.version.length));
  for (const p of packages)
    lines.push(`  ${p.name.padEnd(nameWidth)}  ${p.version.padEnd(versionWidth)}  ${p.architecture}`);
  return lines.join('\n') + '\n';
}
