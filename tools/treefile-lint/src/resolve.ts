/**
 * Resolve a treefile: follow `include`s, merge them with rpm-ostree's rules, expand
 * `tasks`, make paths absolute, fill defaults. Every problem of every file read is
 * collected as a positioned diagnostic; only unreadable top-level input throws.
 */
import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve as resolvePath } from 'node:path';
import {
  documentValue,
  positionOf,
  schemaDiagnostics,
  suggest,
  syntaxDiagnostics,
  ToolError,
  type Diagnostic,
  type LoadedYaml,
} from '@debian-atomic/lib';
import {
  DEFAULTS,
  INCLUDE_MAX_DEPTH,
  LIMITS,
  MERGE_RULES,
  PACKAGE_KEYS,
  resolvedTreefileSchema,
  treefileKeys,
  treefileSchema,
  type ResolvedTreefile,
  type Task,
  type Treefile,
} from './schema.js';
import { expandTasks, TasksFiles } from './tasks.js';
import { loadYaml } from './yaml.js';

export interface ResolveOptions {
  /**
   * When to require the keys a buildable treefile needs (ref, suite, repos, packages):
   * 'always' (--resolve), or 'if-ref' (default: a file without a ref is a fragment like common.yaml).
   */
  require?: 'always' | 'if-ref';
  /** Shared between the files of one run so each tasks file is read and reported once. */
  tasksFiles?: TasksFiles;
}

export interface ResolveResult {
  file: string;
  /** The merged treefile, with defaults; partial when there are diagnostics. */
  treefile: Treefile;
  /** Whether the required keys were checked (not a fragment). */
  complete: boolean;
  /** The resolved treefile: only when complete and without diagnostics. */
  resolved: ResolvedTreefile | undefined;
  diagnostics: Diagnostic[];
  /** Every file read (treefiles, then tasks files), as displayed in diagnostics. */
  files: string[];
  /**
   * Some included or tasks file could not be read (missing, a FIFO, a device, too large): the
   * input is unreadable, not merely wrong (exit 2). Its diagnostic names the include line.
   */
  unreadable: boolean;
}

type Loose = Record<string, unknown>;
type Path = (string | number)[];

interface Frame {
  file: string;
  real: string;
}

const union = (...lists: (readonly string[] | undefined)[]): string[] =>
  [...new Set(lists.flatMap((l) => l ?? []))].sort();

/** A displayed path for `p` written in `file`: relative paths stay relative to the same base as `file`. */
function besides(file: string, p: string): string {
  return isAbsolute(p) ? normalize(p) : normalize(join(dirname(file), p));
}

function chainText(files: readonly string[]): string {
  if (files.length <= 12) return files.join(' -> ');
  return [...files.slice(0, 4), `... (${files.length - 8} more)`, ...files.slice(-4)].join(' -> ');
}

/**
 * The keys of a partly invalid file that are valid on their own (the rest of the checks
 * still run on them), and the known keys that are not (already reported).
 */
function salvage(value: unknown): { valid: Treefile; invalid: string[] } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { valid: {}, invalid: [] };
  const shape = treefileSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean; data?: unknown } }>;
  const valid: Loose = {};
  const invalid: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const parsed = shape[key]?.safeParse(v);
    if (parsed?.success) valid[key] = parsed.data;
    else if (parsed) invalid.push(key);
  }
  return { valid: valid as Treefile, invalid };
}

/**
 * Merge an included file's layer `src` into the includer's `dest` (in place), as rpm-ostree's
 * treefile_merge: scalars — dest wins; lists — src's items first; maps — dest wins.
 * Packages are sets; dest's exclude-packages removes src's packages and dest's packages
 * cancel src's exclusions, so the includer always has the last word.
 */
export function mergeLayer(dest: Treefile, src: Treefile): void {
  const d = dest as Loose;
  const s = src as Loose;
  for (const [key, rule] of Object.entries(MERGE_RULES)) {
    const sv = s[key];
    if (sv === undefined) continue;
    const dv = d[key];
    if (rule === 'scalar') d[key] = dv ?? sv;
    else if (rule === 'append') d[key] = [...(sv as unknown[]), ...((dv as unknown[] | undefined) ?? [])];
    else if (rule === 'set') d[key] = union(sv as string[], dv as string[] | undefined);
    else if (rule === 'map') d[key] = { ...(sv as Loose), ...(dv as Loose | undefined) };
  }
  const destExcluded = new Set(dest['exclude-packages']);
  const destPackages = new Set(PACKAGE_KEYS.flatMap((k) => dest[k] ?? []));
  for (const key of PACKAGE_KEYS) {
    const merged = union(
      src[key]?.filter((p) => !destExcluded.has(p)),
      dest[key],
    );
    if (merged.length) dest[key] = merged;
  }
  const excluded = union(
    src['exclude-packages']?.filter((p) => !destPackages.has(p)),
    dest['exclude-packages'],
  );
  if (excluded.length) dest['exclude-packages'] = excluded;
}

class Resolver {
  readonly diagnostics: Diagnostic[] = [];
  readonly files: string[] = [];
  /** Real path → the include chain that first read it: a file is read once per resolution. */
  readonly seen = new Map<string, string[]>();
  /** Keys that some file has with an invalid value: not also reported as missing. */
  readonly invalidKeys = new Set<string>();
  /** Some file could not be read as a mapping at all: what it held is unknown. */
  opaque = false;
  /** Some included or tasks file could not be read at all. */
  unreadable = false;
  /** Bytes of the files read so far, against LIMITS.resolutionBytes. */
  bytes = 0;

  constructor(private readonly tasksFiles: TasksFiles) {}

  private report(y: LoadedYaml, path: Path, message: string, preferKey = false): void {
    this.diagnostics.push({ file: y.file, ...positionOf(y, path, preferKey), message });
  }

  private add(diagnostics: readonly Diagnostic[]): void {
    // Not push(...diagnostics): a spread of some 100,000 elements overflows the stack.
    for (const d of diagnostics) this.diagnostics.push(d);
  }

  /** One file and, recursively, what it includes: its layer merged with theirs. */
  async layer(y: LoadedYaml, chain: readonly Frame[]): Promise<Treefile> {
    this.files.push(y.file);
    this.bytes += y.text.length;
    this.add(syntaxDiagnostics(y));
    if (y.doc.errors.length) {
      this.opaque = true;
      return {};
    }
    const { value, diagnostics: valueDiagnostics } = documentValue(y);
    if (valueDiagnostics.length) {
      this.add(valueDiagnostics);
      this.opaque = true;
      return {};
    }
    // Not a mapping (an empty file, a list): the schema reports it; what it meant is unknown.
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.opaque = true;
    const { data, diagnostics } = schemaDiagnostics(y, treefileSchema, treefileKeys);
    this.add(diagnostics);
    let own = data;
    if (!own) {
      const { valid, invalid } = salvage(value);
      own = valid;
      for (const key of invalid) this.invalidKeys.add(key);
      // Includes that could not be followed: what they would have merged in is unknown.
      if (invalid.includes('include')) this.opaque = true;
    }
    await this.checkReferencedFiles(y, own);
    const layer = await this.ownLayer(y, own);
    for (const [include, path] of includeEntries(own)) {
      const sub = await this.include(y, chain, include, path);
      if (sub) mergeLayer(layer, sub);
    }
    return layer;
  }

  private async include(
    y: LoadedYaml,
    chain: readonly Frame[],
    include: string,
    path: Path,
  ): Promise<Treefile | undefined> {
    const target = besides(y.file, include);
    const via = [...chain.map((f) => f.file), target];
    if (chain.length > INCLUDE_MAX_DEPTH) {
      this.report(y, path, `include depth limit (${INCLUDE_MAX_DEPTH}) exceeded: ${chainText(via)}`);
      return undefined;
    }
    if (this.files.length >= LIMITS.files) {
      this.report(y, path, `include ${target}: more than ${LIMITS.files} files in one treefile, not read`);
      this.opaque = true;
      return undefined;
    }
    // Cycles and repeats are found from the path alone, before the file is read again.
    const real = await realpath(target).catch(() => undefined);
    if (real !== undefined && chain.some((f) => f.real === real)) {
      this.report(y, path, `include cycle: ${chainText(via)}`);
      return undefined;
    }
    const first = real === undefined ? undefined : this.seen.get(real);
    if (first) {
      this.report(y, path, `${target} is included twice: ${chainText(first)} and ${chainText(via)}`);
      return undefined;
    }
    let loaded: LoadedYaml;
    try {
      loaded = await loadYaml(target, Math.min(LIMITS.fileBytes, Math.max(0, LIMITS.resolutionBytes - this.bytes)));
    } catch (err) {
      if (!(err instanceof ToolError)) throw err;
      const budget = this.bytes + LIMITS.fileBytes > LIMITS.resolutionBytes && /larger than/.test(err.summary);
      this.report(
        y,
        path,
        `include ${err.summary}${budget ? ` (a treefile and its includes may hold ${LIMITS.resolutionBytes} bytes in all)` : ''}`,
      );
      this.unreadable = true;
      this.opaque = true;
      return undefined;
    }
    const key = real ?? (await realpath(target));
    this.seen.set(key, via);
    return this.layer(loaded, [...chain, { file: target, real: key }]);
  }

  /** Files the treefile names beside itself must exist (rpm-ostree opens them while parsing). */
  private async checkReferencedFiles(y: LoadedYaml, own: Treefile): Promise<void> {
    const refs: [string, Path][] = [];
    if (own['postprocess-script']) refs.push([own['postprocess-script'], ['postprocess-script']]);
    if (own['hwdetect-policy']) refs.push([own['hwdetect-policy'], ['hwdetect-policy']]);
    own['add-files']?.forEach(([src], i) => refs.push([src, ['add-files', i, 0]]));
    for (const [p, path] of refs) {
      const shown = besides(y.file, p);
      const st = await stat(shown).catch(() => null);
      // rootfs reads these: a FIFO or a device would hang it or feed it without end.
      if (!st) this.report(y, path, `${path[0]}: no such file: ${shown}`);
      else if (!st.isFile()) this.report(y, path, `${path[0]}: not a regular file: ${shown}`);
    }
  }

  /** The file's own contribution: paths absolute, tasks expanded, package sets. */
  private async ownLayer(y: LoadedYaml, own: Treefile): Promise<Treefile> {
    const dir = dirname(resolvePath(y.file));
    const layer: Treefile = { ...own };
    delete layer.include;
    delete layer['tasks-file'];
    if (own['postprocess-script']) layer['postprocess-script'] = resolvePath(dir, own['postprocess-script']);
    if (own['hwdetect-policy']) layer['hwdetect-policy'] = resolvePath(dir, own['hwdetect-policy']);
    if (own['add-files']) layer['add-files'] = own['add-files'].map(([src, dest]) => [resolvePath(dir, src), dest]);
    if (own.repos) layer.repos = own.repos.map((r) => (r.keyring ? { ...r, keyring: resolvePath(dir, r.keyring) } : r));
    if (own.tasks) layer.tasks = union(own.tasks);

    const excluded = new Set(own['exclude-packages']);
    for (const key of PACKAGE_KEYS) {
      own[key]?.forEach((p, i) => {
        if (excluded.has(p))
          this.report(y, [key, i], `package '${p}' is both in ${key} and in exclude-packages of the same file`);
      });
    }
    const fromTasks = expandTasks(await this.tasks(y, own));
    for (const key of PACKAGE_KEYS) {
      const set = union(own[key], fromTasks[key]).filter((p) => !excluded.has(p));
      if (set.length) layer[key] = set;
      else delete layer[key];
    }
    if (excluded.size) layer['exclude-packages'] = union([...excluded]);
    else delete layer['exclude-packages'];
    return layer;
  }

  /** The tasks a file names, from its tasks file; unknown names are reported with a suggestion. */
  private async tasks(y: LoadedYaml, own: Treefile): Promise<Task[]> {
    if (!own.tasks?.length) return [];
    const tasksFile = besides(y.file, own['tasks-file'] ?? 'tasks.yaml');
    const loaded = await this.tasksFiles.get(tasksFile);
    if (loaded instanceof ToolError) {
      if (own['tasks-file']) this.report(y, ['tasks-file'], `tasks-file ${loaded.summary}`);
      else
        this.report(
          y,
          ['tasks'],
          `tasks file ${loaded.summary} (set tasks-file, or put tasks.yaml beside ${y.file})`,
          true,
        );
      this.unreadable = true;
      return [];
    }
    if (!this.files.includes(loaded.file)) {
      this.files.push(loaded.file);
      this.add(loaded.diagnostics);
    }
    const out: Task[] = [];
    own.tasks.forEach((name, i) => {
      const task = loaded.tasks.get(name);
      if (task) out.push(task);
      else if (!loaded.names.includes(name)) {
        const s = suggest(name, loaded.names);
        this.report(
          y,
          ['tasks', i],
          `unknown task '${name}' (not in ${loaded.file})${s ? ` (did you mean '${s}'?)` : ''}`,
        );
      }
    });
    return out;
  }
}

function includeEntries(own: Treefile): [string, Path][] {
  if (own.include === undefined) return [];
  if (typeof own.include === 'string') return [[own.include, ['include']]];
  return own.include.map((p, i) => [p, ['include', i]]);
}

/** Defaults, and each repo's suite from the treefile's. */
function withDefaults(t: Treefile): Treefile {
  const out: Treefile = { ...DEFAULTS, ...t };
  if (out.repos && out.suite) out.repos = out.repos.map((r) => ({ ...r, suite: r.suite ?? out.suite }));
  return out;
}

/** Problems of a treefile that must be buildable; keys with an invalid value somewhere are already reported. */
function missingRequired(t: Treefile, invalidKeys: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const missing = (key: string) => !invalidKeys.has(key);
  for (const key of ['ref', 'suite'] as const)
    if (t[key] === undefined && missing(key)) problems.push(`missing required key '${key}' (after merging includes)`);
  if (!t.repos?.length && missing('repos'))
    problems.push(`missing required key 'repos': list at least one repository (after merging includes)`);
  if (!t.packages?.length && missing('packages') && missing('tasks'))
    problems.push(`missing required key 'packages': no packages after merging includes and expanding tasks`);
  return problems;
}

/** Diagnostics grouped by file in the order files were read, then by position. */
function sortDiagnostics(diagnostics: Diagnostic[], files: readonly string[]): Diagnostic[] {
  const rank = (f: string) => {
    const i = files.indexOf(f);
    return i < 0 ? files.length : i;
  };
  return diagnostics
    .map((d, i) => ({ d, i }))
    .sort((a, b) => rank(a.d.file) - rank(b.d.file) || a.d.line - b.d.line || a.d.col - b.d.col || a.i - b.i)
    .map(({ d }) => d);
}

/**
 * Resolve a treefile. Throws the lib's input error (exit 2) only when `file` itself cannot be read.
 */
export async function resolveTreefile(file: string, opts: ResolveOptions = {}): Promise<ResolveResult> {
  const y = await loadYaml(file, LIMITS.fileBytes);
  const resolver = new Resolver(opts.tasksFiles ?? new TasksFiles());
  const real = await realpath(file);
  resolver.seen.set(real, [file]);
  const merged = await resolver.layer(y, [{ file, real }]);
  const treefile = withDefaults(merged);
  const complete = opts.require === 'always' || merged.ref !== undefined;
  if (complete && !resolver.opaque)
    for (const message of missingRequired(treefile, resolver.invalidKeys))
      resolver.diagnostics.push({ file, line: 1, col: 1, message });
  const diagnostics = sortDiagnostics(resolver.diagnostics, resolver.files);
  // Without diagnostics the merge must produce a valid resolved treefile: parse() throwing here is a bug.
  const resolved = complete && diagnostics.length === 0 ? resolvedTreefileSchema.parse(treefile) : undefined;
  return { file, treefile, complete, resolved, diagnostics, files: resolver.files, unreadable: resolver.unreadable };
}
