/**
 * bootc-style kernel argument files, usr/lib/bootc/kargs.d/*.toml:
 *   kargs = ["iommu=pt"]
 *   match-architectures = ["x86_64"]
 * hwdetect writes them; disk-image merges them into the deployment's kernel
 * arguments. Their grammar (TOML, two keys) is the contract in contracts/kargs.ts.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { inputError, ToolError } from './errors.js';
import { toolboxRun } from './toolbox.js';
import { parseKargsToml, type KargsFile } from './contracts/kargs.js';
import { readBoundedText, READ_LIMITS } from './read.js';

export const KARGS_D = 'usr/lib/bootc/kargs.d';

export { parseKargsToml, type KargsFile } from './contracts/kargs.js';

/** bootc's name (Rust's std::env::consts::ARCH) for a Node process.arch. */
export function bootcArch(nodeArch: string = process.arch): string {
  const names: Record<string, string> = {
    x64: 'x86_64',
    arm64: 'aarch64',
    ia32: 'x86',
    ppc64: 'powerpc64',
    riscv64: 'riscv64',
    s390x: 's390x',
  };
  return names[nodeArch] ?? nodeArch;
}

export function formatKargsToml(file: KargsFile, comment?: string): string {
  const list = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  const lines = comment ? comment.split('\n').map((l) => `# ${l}`.trimEnd()) : [];
  lines.push(`kargs = ${list(file.kargs)}`);
  if (file.architectures) lines.push(`match-architectures = ${list(file.architectures)}`);
  return lines.join('\n') + '\n';
}

/**
 * The kernel arguments of a set of kargs.d files for one architecture, in the
 * order bootc applies them: files sorted by name, each file's list in order.
 * `files` maps a file name (only *.toml count) to its text; `where` names the
 * directory in error messages.
 */
export function kargsFromFiles(
  files: ReadonlyMap<string, string>,
  arch: string = bootcArch(),
  where: string = KARGS_D,
): string[] {
  const out: string[] = [];
  for (const name of [...files.keys()].filter((n) => n.endsWith('.toml')).sort()) {
    const f = parseKargsToml(files.get(name)!, join(where, name));
    if (!f.architectures || f.architectures.includes(arch)) out.push(...f.kargs);
  }
  return out;
}

/** The kernel arguments of a tree's kargs.d (see kargsFromFiles). */
export async function readKargsDir(root: string, arch: string = bootcArch()): Promise<string[]> {
  const dir = join(root, KARGS_D);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.toml'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files = new Map<string, string>();
  for (const name of names)
    files.set(name, await readBoundedText(join(dir, name), { maxBytes: READ_LIMITS.attribute, what: 'kargs.d file' }));
  return kargsFromFiles(files, arch, dir);
}

/**
 * The kernel arguments of an OSTree commit's kargs.d, read with `ostree ls`/`ostree cat` (the
 * toolbox's ostree on a build host, the system's on a target): what disk-image applies at install
 * and atomic diffs on upgrade. `binds` are the paths ostree needs to see (the repository).
 */
export async function commitKargs(
  repo: string,
  commit: string,
  o: { binds: readonly string[]; arch?: string; tool: string },
): Promise<string[]> {
  const dir = `/${KARGS_D}`;
  const ostree = (args: string[], what: string) =>
    toolboxRun('ostree', [`--repo=${repo}`, ...args], { binds: o.binds, providedBy: 'ostree', what });
  const listing = await ostree(['ls', '--nul-filenames-only', commit, dir], `list ${dir}`).catch((err: unknown) => {
    if (err instanceof ToolError && /No such file/.test(`${err.summary}\n${err.detail ?? ''}`)) return null;
    throw err;
  });
  if (!listing) return [];
  const files = new Map<string, string>();
  for (const path of listing.stdout.split('\0')) {
    if (!path.startsWith(`${dir}/`) || !path.endsWith('.toml') || path.slice(dir.length + 1).includes('/')) continue;
    files.set(path.slice(dir.length + 1), (await ostree(['cat', commit, path], `read ${path}`)).stdout);
  }
  try {
    return kargsFromFiles(files, o.arch ?? bootcArch(), `${commit.slice(0, 12)}:${dir}`);
  } catch (err) {
    throw new ToolError('bad-kargs', err instanceof ToolError ? err.summary : String(err), {
      hint: `the commit carries a kargs.d file ${o.tool} cannot read (expected kargs = ["..."], match-architectures = [...])`,
    });
  }
}
