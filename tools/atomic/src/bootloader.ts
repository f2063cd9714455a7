/**
 * The boot loader on the ESP against the image, bootupd's job (bootupd is not packaged in
 * Debian). The ESP holds copies of shim, GRUB and MokManager that Debian's packages install in
 * the commit; the state file on /boot (BOOTLOADER_STATE, written by disk-image and by `atomic
 * bootloader update`) records which copies. This module reads and compares; esp.ts writes.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  BOOT_COMPONENTS,
  BOOTLOADER_STATE,
  BootloaderStateSchema,
  ESP_FILES,
  formatDiagnostic,
  inputError,
  parseYamlText,
  readBoundedFile,
  readBoundedText,
  READ_LIMITS,
  schemaDiagnostics,
  syntaxDiagnostics,
  ToolError,
  zodObjectKeys,
  type BootloaderState,
  type EspFile,
} from '@debian-atomic/lib';
import { compareDebianVersions, DPKG_STATUS_PATHS, MAX_STATUS_BYTES, parseDpkgStatus } from './db.js';
import {
  API_VERSION,
  type BootComponentJson,
  type BootloaderStatus,
  type BootloaderSummary,
  type BootloaderUpdate,
} from './schema.js';
import { deployDir, type Deployment } from './sysroot.js';

export const statePath = (sysroot: string) => join(sysroot, BOOTLOADER_STATE);

/** GRUB is 2.6 MB, shim 1 MB: 64 MiB is far above any boot loader file. */
export const MAX_EFI_BYTES = READ_LIMITS.large;

export const sha256Of = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

const isMissing = (err: unknown) => err instanceof ToolError && / no such file$/.test(err.summary);

/** The state file, validated; null when there is none (an ESP that disk-image or atomic did not install). */
export async function readBootloaderState(sysroot: string): Promise<BootloaderState | null> {
  const file = statePath(sysroot);
  let text: string;
  try {
    text = await readBoundedText(file, { maxBytes: READ_LIMITS.config, what: 'bootloader state' });
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  // JSON is YAML: one parser gives file:line:col for both a syntax error and a schema problem.
  const y = parseYamlText(file, text);
  const syntax = syntaxDiagnostics(y);
  const checked = syntax.length
    ? { data: undefined, diagnostics: syntax }
    : schemaDiagnostics(y, BootloaderStateSchema, (p) => zodObjectKeys(BootloaderStateSchema, p));
  if (checked.data === undefined) {
    const [first, ...rest] = checked.diagnostics.map(formatDiagnostic);
    throw inputError(`invalid bootloader state: ${first ?? `${file}: empty`}`, {
      detail: rest.length ? rest.join('\n') : undefined,
    });
  }
  return checked.data;
}

/** The error when there is no state file: nothing says which partition is the ESP or what it holds. */
export function noStateError(sysroot: string): ToolError {
  return new ToolError(
    'no-bootloader-state',
    `${statePath(sysroot)}: no bootloader state: the ESP was not installed by disk-image or atomic`,
    {
      hint: 'disk-image records what it puts on the ESP there; without it atomic does not know which partition is the ESP or what it holds',
    },
  );
}

export interface ImageFile extends EspFile {
  sha256: string;
  size: number;
}

/** What the image (a deployment) would put on the ESP. */
export interface ImageBootloader {
  /** The deployment's root directory. */
  root: string;
  commit: string;
  /** ESP_FILES, in their order, with the digests of their sources. */
  files: ImageFile[];
  /** The versions of the ESP_FILES packages installed in the image. */
  packages: Record<string, string>;
  /** The bytes of each source file, by source path. */
  data: Map<string, Buffer>;
}

/** The deployment compared with the ESP: the booted one; on a sysroot that is not booted, the default (index 0). */
export function bootloaderDeployment(deployments: readonly Deployment[]): Deployment | undefined {
  return deployments.find((d) => d.booted) ?? deployments[0];
}

async function readSource(root: string, e: EspFile): Promise<Buffer> {
  const file = join(root, e.source);
  try {
    return await readBoundedFile(file, { maxBytes: MAX_EFI_BYTES, what: `${e.package} file` });
  } catch (err) {
    if (!isMissing(err)) throw err;
    throw new ToolError(
      'no-bootloader-in-image',
      `${file}: missing: the deployment has no ${e.component} (${e.package})`,
      {
        hint: `an image that boots with Secure Boot installs ${[...new Set(ESP_FILES.map((f) => f.package))].join(', ')}`,
      },
    );
  }
}

/**
 * The versions of the ESP_FILES packages, from the deployment's dpkg database (the one `atomic db`
 * reads): what is installed, also in an image derived with apt on top of ours.
 */
async function imagePackages(root: string): Promise<Record<string, string>> {
  const wanted = new Set(ESP_FILES.map((e) => e.package));
  for (const p of DPKG_STATUS_PATHS) {
    const file = join(root, p);
    if (!existsSync(file)) continue;
    const installed = parseDpkgStatus(
      await readBoundedText(file, { maxBytes: MAX_STATUS_BYTES, what: 'dpkg database' }),
      file,
    );
    return Object.fromEntries(installed.filter((pkg) => wanted.has(pkg.name)).map((pkg) => [pkg.name, pkg.version]));
  }
  return {};
}

export async function readImageBootloader(sysroot: string, d: Deployment): Promise<ImageBootloader> {
  const root = deployDir(sysroot, d);
  const data = new Map<string, Buffer>();
  for (const e of ESP_FILES) if (!data.has(e.source)) data.set(e.source, await readSource(root, e));
  const files = ESP_FILES.map((e) => {
    const bytes = data.get(e.source)!;
    return { ...e, sha256: sha256Of(bytes), size: bytes.length };
  });
  return { root, commit: d.checksum, files, packages: await imagePackages(root), data };
}

/** Each program of the boot chain, its version on the ESP and in the image, and whether the digests differ. */
export function compareBootloader(state: BootloaderState, image: ImageBootloader): BootloaderSummary {
  const recorded = new Map(state.files.map((f) => [f.path, f.sha256]));
  const components: BootComponentJson[] = BOOT_COMPONENTS.map((name) => {
    const files = image.files.filter((f) => f.component === name);
    const pkg = files[0]!.package;
    const espVersion = state.packages[pkg] ?? null;
    const imageVersion = image.packages[pkg] ?? null;
    // The bytes decide: a rebuild at the same version is an update, a version bump with the same binary is not.
    const same = files.every((f) => recorded.get(f.esp) === f.sha256);
    const newerOnEsp =
      espVersion !== null && imageVersion !== null && compareDebianVersions(espVersion, imageVersion) > 0;
    return {
      name,
      package: pkg,
      espVersion,
      imageVersion,
      status: same ? 'up-to-date' : newerOnEsp ? 'esp-newer' : 'update-available',
    };
  });
  const has = (s: BootComponentJson['status']) => components.some((c) => c.status === s);
  return {
    status: has('esp-newer') ? 'esp-newer' : has('update-available') ? 'update-available' : 'up-to-date',
    commit: state.commit,
    components,
  };
}

/** What the files on the ESP itself look like against the state (esp.ts checks them). */
export interface EspCheck {
  mountpoint: string;
  files: { path: string; problem: 'differs' | 'missing' }[];
  leftovers: string[];
}

export function bootloaderStatus(
  state: BootloaderState,
  image: ImageBootloader,
  d: Deployment,
  esp: EspCheck | null,
): BootloaderStatus {
  const recorded = new Map(state.files.map((f) => [f.path, f.sha256]));
  return {
    apiVersion: API_VERSION,
    kind: 'BootloaderStatus',
    ...compareBootloader(state, image),
    deployment: { checksum: d.checksum, index: d.index, booted: d.booted },
    esp: {
      partuuid: state.esp.partuuid,
      mountpoint: esp?.mountpoint ?? null,
      files: esp?.files ?? null,
      leftovers: esp?.leftovers ?? null,
    },
    files: image.files.map((f) => ({
      path: f.esp,
      source: f.source,
      component: f.component,
      stateSha256: recorded.get(f.esp) ?? null,
      imageSha256: f.sha256,
    })),
  };
}

/** The summary of `atomic status`: null when there is no state file or no deployment. */
export async function bootloaderSummaryOf(
  sysroot: string,
  deployments: readonly Deployment[],
): Promise<BootloaderSummary | null> {
  const d = bootloaderDeployment(deployments);
  if (!d) return null;
  const state = await readBootloaderState(sysroot);
  if (!state) return null;
  return compareBootloader(state, await readImageBootloader(sysroot, d));
}

// --- Rendering ---

const v = (version: string | null) => version ?? '(unknown)';

function componentText(c: BootComponentJson): string {
  if (c.status === 'up-to-date') return `${v(c.espVersion)} (${c.package}): up to date`;
  if (c.status === 'esp-newer')
    return `${v(c.espVersion)} on the ESP, ${v(c.imageVersion)} in the image (${c.package}): the ESP's is newer`;
  return `${v(c.espVersion)} → ${v(c.imageVersion)} (${c.package}): update available`;
}

export const UPDATE_HINT = 'run `atomic bootloader update`';

/**
 * The human text of `atomic bootloader status`:
 *
 *     ESP PARTUUID 5b1d…: files from commit 80797aeb5c49; the image: deployment 0 (booted), 282191f9fe72
 *       shim: 1.51~1+deb13u1+16.1-2~deb13u1 (shim-signed): up to date
 *       grub: 1+2.12+9+deb13u3 → 1+2.12+9+deb13u4 (grub-efi-amd64-signed): update available
 *       mokmanager: 1+16.1+2~deb13u1 (shim-helpers-amd64-signed): up to date
 *     ESP at /boot/efi: every file as recorded.
 *     Update available: run `atomic bootloader update`.
 */
export function formatBootloaderStatus(s: BootloaderStatus): string {
  const d = s.deployment;
  const lines = [
    `ESP PARTUUID ${s.esp.partuuid}: files from commit ${s.commit.slice(0, 12)}; the image: deployment ${d.index}${d.booted ? ' (booted)' : ''}, ${d.checksum.slice(0, 12)}`,
  ];
  for (const c of s.components) lines.push(`  ${c.name}: ${componentText(c)}`);
  const problems = [
    ...(s.esp.files ?? []).map((f) => `  ${f.path}: ${f.problem === 'missing' ? 'missing' : 'not the recorded bytes'}`),
    ...(s.esp.leftovers ?? []).map((p) => `  ${p}: left by an interrupted update`),
  ];
  if (s.esp.mountpoint !== null)
    lines.push(
      problems.length
        ? `ESP at ${s.esp.mountpoint}: not as recorded:`
        : `ESP at ${s.esp.mountpoint}: every file as recorded.`,
      ...problems,
    );
  if (s.status === 'update-available') lines.push(`Update available: ${UPDATE_HINT}.`);
  else if (s.status === 'esp-newer')
    lines.push(
      "The ESP's boot loader is newer than the image's: `atomic bootloader update` keeps it (--allow-downgrade replaces it).",
    );
  else if (problems.length)
    lines.push(
      `Up to date by the state file, but the ESP is not as recorded: ${UPDATE_HINT} puts the image's files in place.`,
    );
  else lines.push('Up to date.');
  return `${lines.join('\n')}\n`;
}

/** The line `atomic status` adds when the ESP's boot loader is older than the image's; null otherwise. */
export function bootloaderStatusLine(b: BootloaderSummary | null): string | null {
  if (b?.status !== 'update-available') return null;
  const changes = b.components
    .filter((c) => c.status === 'update-available')
    .map((c) =>
      c.espVersion === c.imageVersion
        ? `${c.package} ${v(c.imageVersion)} rebuilt`
        : `${c.package} ${v(c.espVersion)} → ${v(c.imageVersion)}`,
    );
  return `Bootloader: update available (${changes.join(', ')}); run 'atomic bootloader update'`;
}

/** What `atomic bootloader update` did: its --json document without apiVersion and kind. */
export type UpdateOutcome = Omit<BootloaderUpdate, 'apiVersion' | 'kind'>;

const PACKAGE_OF = new Map(ESP_FILES.map((e) => [e.esp, e.package]));

/** The human text of `atomic bootloader update`: what changed, by package. */
export function formatBootloaderUpdate(
  out: UpdateOutcome,
  before: BootloaderState,
  summary: BootloaderSummary,
): string {
  if (out.result === 'esp-newer') {
    const newer = summary.components
      .filter((c) => c.status === 'esp-newer')
      .map((c) => `${c.package} ${v(c.espVersion)} on the ESP, ${v(c.imageVersion)} in the image`);
    return `The ESP's boot loader is newer than the image's (${newer.join('; ')}): kept; --allow-downgrade replaces it.\n`;
  }
  if (out.result === 'nothing-to-do') return "The boot loader on the ESP is the image's: nothing to do.\n";
  if (out.result === 'recorded')
    return "The ESP already holds the image's boot loader: recorded that in the state file.\n";
  const lines: string[] = [];
  const byPackage = new Map<string, string[]>();
  const others: string[] = [];
  for (const path of out.written) {
    const pkg = PACKAGE_OF.get(path);
    if (pkg === undefined) others.push(`  ${path}: written (there was none)`);
    else byPackage.set(pkg, [...(byPackage.get(pkg) ?? []), path]);
  }
  if (out.written.length) lines.push('Updated the boot loader on the ESP:', ...others);
  for (const [pkg, paths] of byPackage) {
    const [from, to] = [before.packages[pkg] ?? null, out.state.packages[pkg] ?? null];
    lines.push(`  ${pkg} ${from === to ? `${v(to)} rebuilt` : `${v(from)} → ${v(to)}`}: ${paths.join(' ')}`);
  }
  if (out.removed.length) lines.push(`Removed what an interrupted update left: ${out.removed.join(' ')}`);
  return `${lines.join('\n')}\n`;
}
