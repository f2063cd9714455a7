/**
 * hwdetect in an image (for policies with `enabled: true`): the boot-time unit,
 * enabled statically, with the policy and build-time plan under
 * usr/share/hwdetect. The tool itself comes from its Debian package
 * (debian-atomic-hwdetect, installed into the root before `apply`), or, with
 * --install-self, is copied with its runtime dependencies to usr/lib/hwdetect
 * (run by Debian's nodejs).
 */
import { chmod, cp, lstat, mkdir, readFile, realpath, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atomicReplaceDir, atomicWriteFile, canonicalJson, ToolError } from '@debian-atomic/lib';
import type { ApplyResult } from './apply.js';
import type { Plan } from './plan.js';

export const INSTALL_DIR = 'usr/lib/hwdetect';
export const UNIT_FILE = 'usr/lib/systemd/system/hwdetect.service';
export const UNIT_WANTS = 'usr/lib/systemd/system/multi-user.target.wants/hwdetect.service';
export const BIN_LINK = 'usr/bin/hwdetect';
export const SHARE_DIR = 'usr/share/hwdetect';
export const POLICY_FILE = `${SHARE_DIR}/policy.json`;
export const PLAN_FILE = `${SHARE_DIR}/plan.json`;

export interface InstallOptions {
  /** Copy hwdetect into the root instead of expecting its Debian package there. */
  installSelf?: boolean;
  /** With installSelf: the hwdetect package to copy (default: this one). */
  packageDir?: string;
}

export function thisPackageDir(): string {
  // src/install.ts or dist/install.js → the package directory.
  return fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
}

interface PackageJson {
  name?: string;
  files?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

async function readPackageJson(dir: string): Promise<PackageJson> {
  return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

/** Node's lookup: DIR/node_modules/NAME, then each parent's. */
async function resolvePackage(fromDir: string, name: string): Promise<{ path: string; own: boolean } | undefined> {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (await exists(join(candidate, 'package.json'))) return { path: candidate, own: dir === fromDir };
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The runtime dependency closure of a package, laid out for the image:
 * install-relative directory → real source directory. A package's own
 * node_modules stays nested; whatever was hoisted goes to the top node_modules.
 */
export async function runtimeClosure(packageDir: string): Promise<Map<string, string>> {
  const layout = new Map<string, string>([['', await realpath(packageDir)]]);
  const queue: [string, string][] = [['', layout.get('')!]];
  for (let item = queue.shift(); item; item = queue.shift()) {
    const [dest, real] = item;
    const pkg = await readPackageJson(real);
    const optional = new Set(Object.keys(pkg.optionalDependencies ?? {}));
    for (const name of [...Object.keys(pkg.dependencies ?? {}), ...optional]) {
      const found = await resolvePackage(real, name);
      if (!found) {
        if (optional.has(name)) continue;
        throw new ToolError('missing-dependency', `${pkg.name ?? real}: dependency ${name} is not installed`, {
          hint: "run 'npm ci' at the top of the checkout",
        });
      }
      const target = found.own ? join(dest, 'node_modules', name) : join('node_modules', name);
      const source = await realpath(found.path);
      const known = layout.get(target);
      if (known === undefined) {
        layout.set(target, source);
        queue.push([target, source]);
      } else if (known !== source) {
        throw new ToolError(
          'layout-conflict',
          `cannot install ${name}: two versions want ${target} (${known}, ${source})`,
        );
      }
    }
  }
  return layout;
}

/** Sources and type declarations are not needed to run. */
const runtimeFile = (path: string) => !/\.(d\.)?[mc]?ts$|\.map$|\.tsbuildinfo$/.test(path);

async function copyPackage(source: string, dest: string): Promise<void> {
  const pkg = await readPackageJson(source);
  // Workspace packages (not under node_modules) carry sources and tests: copy what they publish.
  const published = !source.split(sep).includes('node_modules') && pkg.files ? ['package.json', ...pkg.files] : [''];
  for (const entry of published) {
    const from = join(source, entry);
    if (!(await exists(from))) continue;
    await cp(from, join(dest, entry), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (src) => runtimeFile(src) && !relative(from, src).split(sep).includes('node_modules'),
    });
  }
}

async function writeLink(root: string, rel: string, target: string): Promise<void> {
  const path = join(root, rel);
  await mkdir(dirname(path), { recursive: true });
  await rm(path, { force: true });
  await symlink(target, path);
}

/**
 * The policy and build-time plan that the boot-time unit reads, and the unit's wants link.
 * The unit comes from the debian-atomic-hwdetect package (checkInstalled first) or installSelf.
 */
export async function enableUnit(root: string, plan: Plan, result: ApplyResult): Promise<void> {
  await writeLink(root, UNIT_WANTS, `../${basename(UNIT_FILE)}`);
  // Named: the boot-time check reports under the variant's policy name, not "policy".
  await atomicWriteFile(join(root, POLICY_FILE), canonicalJson({ ...plan.policy.spec, name: plan.policy.name }));
  await atomicWriteFile(join(root, PLAN_FILE), canonicalJson(plan));
  result.written.push(UNIT_WANTS, POLICY_FILE, PLAN_FILE);
}

/** Fails (before anything is written) unless the package's tool and unit are in the root. */
export async function checkInstalled(root: string, plan: Plan): Promise<void> {
  for (const rel of [BIN_LINK, UNIT_FILE]) {
    if (!(await exists(join(root, rel)))) {
      throw new ToolError(
        'not-installed',
        `${join(root, rel)}: hwdetect is not installed in the root, and policy ${plan.policy.name} enables it`,
        {
          hint: 'install the debian-atomic-hwdetect package into the root first (hwdetect apply --install-deb debs/debian-atomic-hwdetect_*.deb, or rootfs install-debs --root ROOT DEB), or pass --install-self',
        },
      );
    }
  }
}

/** An enabled policy, no package: copy this hwdetect (and its runtime dependencies) into the root. */
export async function installSelf(
  root: string,
  plan: Plan,
  result: ApplyResult,
  opts: InstallOptions = {},
): Promise<void> {
  const packageDir = opts.packageDir ?? thisPackageDir();
  if (!(await exists(join(packageDir, 'dist/bin.js')))) {
    throw new ToolError('not-built', `${packageDir}/dist/bin.js: hwdetect is not built`, { hint: "run 'make build'" });
  }
  const layout = await runtimeClosure(packageDir);
  await atomicReplaceDir(join(root, INSTALL_DIR), async (tmp) => {
    for (const [dest, source] of layout) await copyPackage(source, join(tmp, dest));
    await chmod(join(tmp, 'dist/bin.js'), 0o755);
  });
  result.written.push(`${INSTALL_DIR}/`);

  const unit = await readFile(join(packageDir, 'data/hwdetect.service'), 'utf8');
  await atomicWriteFile(join(root, UNIT_FILE), unit);
  await writeLink(root, BIN_LINK, relative(dirname(join('/', BIN_LINK)), join('/', INSTALL_DIR, 'dist/bin.js')));
  result.written.push(UNIT_FILE, BIN_LINK);
  await enableUnit(root, plan, result);
}

/**
 * A policy that is not (or no longer) enabled: disable the unit and take out
 * the policy and plan, and whatever installSelf put in. Files of the Debian
 * package are dpkg's: they stay (remove the package to remove them).
 */
export async function uninstallSelf(root: string, result: ApplyResult): Promise<void> {
  const selfInstalled = await exists(join(root, INSTALL_DIR));
  const ours = selfInstalled ? [INSTALL_DIR, UNIT_FILE, UNIT_WANTS, BIN_LINK, SHARE_DIR] : [UNIT_WANTS, SHARE_DIR];
  for (const rel of ours) {
    if (await exists(join(root, rel))) {
      await rm(join(root, rel), { recursive: true, force: true });
      result.removed.push(rel);
    }
  }
}
