/**
 * --config: what the installed system needs beyond the commit, like
 * bootc-image-builder's config.toml: users, hostname, kernel arguments, disk
 * sizes, and the remote it updates from. YAML, validated with positions.
 *
 * Every string here lands in a line-oriented file of the image (passwd, group, shadow,
 * authorized_keys, hostname, the BLS `options` line, the ostree remote config), so each is
 * checked against that file's grammar (tools/lib grammar.ts): no value can start a second
 * record. Sizes, lists and the gpg-key file are bounded, and all of it is checked before any
 * build work starts.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import {
  cryptHash,
  formatDiagnostic,
  groupName,
  hostname,
  imageReference,
  inputError,
  kernelArg,
  lineText,
  passwdPath,
  positionOf,
  readBoundedText,
  readYamlFile,
  schemaDiagnostics,
  SIZE,
  sourcesUrl,
  sshPublicKey,
  syntaxDiagnostics,
  ToolError,
  userName,
  zodObjectKeys,
  type Diagnostic,
  type LoadedYaml,
} from '@debian-atomic/lib';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

/** Bounds on what a config may ask for. */
export const LIMITS = {
  /** The whole disk: sparse files of this size are what the work directory must hold. */
  diskMax: 64 * TiB,
  diskMin: MiB,
  /** FAT32 needs 65525 clusters: with 512-byte clusters, a little more than 32 MiB (mkfs.vfat warns at 32). */
  espMin: 33 * MiB,
  espMax: 4 * GiB,
  freeMax: 64 * TiB,
  users: 256,
  sshKeys: 64,
  groups: 64,
  kernelArgs: 256,
  /** The config's kernel arguments joined with spaces (x86's COMMAND_LINE_SIZE is 2048 by default). */
  kernelArgsChars: 4096,
  /** The gpg-key file: an armored key of a few KiB, a keyring of a few keys. */
  gpgKeyBytes: 1 << 20,
} as const;

/**
 * Accounts and groups of Debian's base-passwd (and common system groups): a config user of that
 * name would take over a system account or collide with its group. root is the exception:
 * its password-hash, ssh-keys and groups may be set, as with bootc-image-builder.
 */
export const SYSTEM_NAMES = new Set([
  // base-passwd users
  'daemon',
  'bin',
  'sys',
  'sync',
  'games',
  'man',
  'lp',
  'mail',
  'news',
  'uucp',
  'proxy',
  'www-data',
  'backup',
  'list',
  'irc',
  'gnats',
  '_apt',
  'nobody',
  // base-passwd groups
  'adm',
  'tty',
  'disk',
  'kmem',
  'dialout',
  'fax',
  'voice',
  'cdrom',
  'floppy',
  'tape',
  'sudo',
  'audio',
  'dip',
  'operator',
  'src',
  'shadow',
  'utmp',
  'video',
  'sasl',
  'plugdev',
  'staff',
  'users',
  'nogroup',
  // systemd's and other usual system accounts of a Debian image
  'systemd-network',
  'systemd-timesync',
  'systemd-resolve',
  'systemd-journal',
  'messagebus',
  'sshd',
  '_ssh',
  'polkitd',
  'input',
  'render',
  'sgx',
  'kvm',
  'netdev',
]);

/** A size in bytes, or why it is not one: a whole number of bytes or a number with a K/M/G/T suffix. */
export function sizeBytes(v: number | string): number | string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || !Number.isInteger(v))
      return `expected a whole number of bytes or a size like 512M, found ${v}`;
    return v;
  }
  if (!SIZE.test(v))
    return `expected a size like 512M, 4G or a number of bytes, found ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  const m = /^(\d+)(\.\d+)?\s*([KMGT])?/i.exec(v)!;
  const unit = m[3] ? { K: KiB, M: MiB, G: GiB, T: TiB }[m[3].toUpperCase() as 'K'] : 1;
  if (unit === 1 && m[2] && Number(m[2]) !== 0) return `${v} is not a whole number of bytes (give a unit, like 1.5G)`;
  return Math.round(Number(`${m[1]}${m[2] ?? ''}`) * unit);
}

function showBytes(n: number): string {
  for (const [unit, k] of [
    ['TiB', TiB],
    ['GiB', GiB],
    ['MiB', MiB],
    ['KiB', KiB],
  ] as const)
    if (n >= k && n % k === 0) return `${n / k} ${unit}`;
  return `${n} bytes`;
}

function size(what: string, min: number, max: number, why = '') {
  return z
    .union([z.number(), z.string()], { error: 'expected a whole number of bytes or a size like 512M, 4G' })
    .superRefine((v, ctx) => {
      const b = sizeBytes(v);
      if (typeof b === 'string') ctx.addIssue({ code: 'custom', message: b });
      else if (b < min)
        ctx.addIssue({
          code: 'custom',
          message: `${v} is too small: ${what} must be at least ${showBytes(min)}${why}`,
        });
      else if (b > max)
        ctx.addIssue({ code: 'custom', message: `${v} is too large: ${what} may be at most ${showBytes(max)}` });
    });
}

/**
 * A disk to install to: a path under /dev (/dev/vda, /dev/nvme0n1, /dev/disk/by-id/…), one token
 * of udev's name characters, no "..": it is opened as a block device, and checked so at install.
 */
export const blockDevice = z
  .string()
  .max(512, { error: 'a device path is longer than 512 characters' })
  .regex(/^\/dev\/[A-Za-z0-9._:+@=,\/-]+$/, {
    error: 'expected a disk under /dev, like /dev/vda, /dev/nvme0n1 or /dev/disk/by-id/…',
  })
  .refine((s) => !s.split('/').includes('..'), { error: 'a device path must not contain ".."' });

const list = <T extends z.ZodType>(item: T, max: number, what: string) =>
  z.array(item).max(max, { error: `more than ${max} ${what}` });

export const userSchema = z.strictObject({
  name: userName,
  'password-hash': cryptHash.optional(),
  'ssh-keys': list(sshPublicKey, LIMITS.sshKeys, 'keys (one key per entry)').optional(),
  groups: list(groupName, LIMITS.groups, 'groups').optional(),
  shell: passwdPath('a login shell').optional(),
  uid: z
    .number()
    .int()
    .min(1000, { error: 'a uid below 1000 belongs to the system: give 1000 to 59999' })
    .max(59999, { error: 'a uid above 59999 is not a regular user (Debian policy 9.2.2): give 1000 to 59999' })
    .optional(),
});
type UserConfig = z.infer<typeof userSchema>;

/** One entry per user and per uid; root only gets what it can take; no system account. */
function checkUsers(users: UserConfig[], ctx: z.core.$RefinementCtx<UserConfig[]>): void {
  const names = new Map<string, number>();
  const uids = new Map<number, number>();
  users.forEach((u, i) => {
    const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: [i, key], message });
    const first = names.get(u.name);
    if (first !== undefined) issue('name', `user ${u.name} is already given as users.${first}: give each user once`);
    else names.set(u.name, i);
    if (u.uid !== undefined) {
      const other = uids.get(u.uid);
      if (other !== undefined) issue('uid', `uid ${u.uid} is already users.${other}'s: give each user its own uid`);
      else uids.set(u.uid, i);
    }
    if (u.name === 'root') {
      for (const key of ['shell', 'uid'] as const)
        if (u[key] !== undefined)
          issue(key, `root exists in every image: only its password-hash, ssh-keys and groups can be set`);
    } else if (SYSTEM_NAMES.has(u.name))
      issue(
        'name',
        `${u.name} is a system account or group of Debian: choose another name (root is the one system account the config may customize)`,
      );
  });
}

export const configSchema = z
  .strictObject({
    users: list(userSchema, LIMITS.users, 'users').superRefine(checkUsers).optional(),
    hostname: hostname.optional(),
    'kernel-args': list(kernelArg, LIMITS.kernelArgs, 'kernel arguments')
      .refine((a) => a.join(' ').length <= LIMITS.kernelArgsChars, {
        error: `the kernel arguments are longer than ${LIMITS.kernelArgsChars} characters in all`,
      })
      .optional(),
    disk: z
      .strictObject({
        size: size('the disk', LIMITS.diskMin, LIMITS.diskMax)
          .optional()
          .describe('Whole disk; the root partition takes what the ESP leaves'),
        'esp-size': size('the ESP', LIMITS.espMin, LIMITS.espMax, ' (FAT32)').optional(),
        'free-space': size('the free space', 0, LIMITS.freeMax)
          .optional()
          .describe(
            'Free space in the root file system beyond the content (default: as much as the content, at least 1G, for a second deployment)',
          ),
      })
      .optional(),
    remote: z
      .strictObject({
        // ostree's remote name grammar; a leading "-" would be read as an option of `ostree remote add`.
        name: z
          .string()
          .max(128, { error: 'a remote name is longer than 128 characters' })
          .regex(/^[A-Za-z0-9_][-._A-Za-z0-9]*$/, {
            error: 'not a valid remote name (letters, digits, "_", "-", "."; not starting with "-" or ".")',
          })
          .optional(),
        url: sourcesUrl(/^(https?|file)$/, 'expected an http, https or file URL'),
        'gpg-verify': z.boolean().optional(),
        'gpg-key': lineText(4096, 'a gpg-key path')
          .pipe(z.string().min(1, { error: 'a gpg-key path must not be empty' }))
          .optional()
          .describe('ASCII-armored public key file (relative to the config file)'),
      })
      .optional(),
    install: z
      .strictObject({
        device: blockDevice
          .optional()
          .describe('The disk to install to (atomic install to-disk, the installer ISO): unattended when given'),
        wipe: z
          .boolean()
          .optional()
          .describe('Erase the disk even if it holds partitions or file systems (default: refuse and name them)'),
        finish: z
          .enum(['poweroff', 'reboot'], { error: 'expected poweroff or reboot' })
          .optional()
          .describe('What the installer ISO does once installed (default: poweroff)'),
      })
      .optional()
      .describe('Installs (atomic install to-disk, make iso): the target disk and whether it may be erased'),
    image: imageReference
      .optional()
      .describe(
        'The OCI image the installed system updates from (atomic upgrade): docker://HOST/NAME[:TAG], oci:/DIR[:TAG]; default with --oci docker://…: that reference',
      ),
  })
  .refine((c) => !(c.remote && c.image), {
    error: 'give remote (an OSTree remote) or image (an OCI image), not both: the system updates from one origin',
    path: ['image'],
  });
export type DiskConfig = z.infer<typeof configSchema>;

/** A validated size in bytes (the schema has checked it), or the fallback. */
export function parseSize(v: number | string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const b = sizeBytes(v);
  if (typeof b === 'string') throw inputError(b);
  return b;
}

const ARMOR_BEGIN = '-----BEGIN PGP PUBLIC KEY BLOCK-----';
const ARMOR_END = '-----END PGP PUBLIC KEY BLOCK-----';

/** Why a gpg-key file's text is not an ASCII-armored OpenPGP public key, or null. */
export function armoredKeyProblem(text: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (/[^\x20-\x7e\t\r\n]/.test(text))
    return 'not ASCII text: expected an ASCII-armored public key (gpg --armor --export), not a binary keyring';
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length);
  if (lines.some((l) => /^-----BEGIN PGP (PRIVATE|SECRET) KEY BLOCK-----$/.test(l)))
    return 'holds a private key: give the public key (gpg --armor --export)';
  if (lines[0] !== ARMOR_BEGIN || lines[lines.length - 1] !== ARMOR_END)
    return `not an ASCII-armored public key: expected ${ARMOR_BEGIN} … ${ARMOR_END}`;
  return null;
}

/** The gpg-key file: a regular, bounded, ASCII-armored public key; a diagnostic at the config's key if not. */
async function gpgKeyDiagnostic(y: LoadedYaml, key: string): Promise<Diagnostic | null> {
  const path = resolve(dirname(resolve(y.file)), key);
  const at = (message: string): Diagnostic => ({
    file: y.file,
    ...positionOf(y, ['remote', 'gpg-key']),
    message: `remote.gpg-key: ${message}`,
  });
  let text: string;
  try {
    text = await readBoundedText(path, { maxBytes: LIMITS.gpgKeyBytes, what: 'gpg key file' });
  } catch (err) {
    if (err instanceof ToolError) return at(err.summary);
    throw err;
  }
  const problem = armoredKeyProblem(text);
  return problem ? at(`${path}: ${problem}`) : null;
}

export async function loadConfig(file: string | undefined): Promise<DiskConfig> {
  if (!file) return {};
  const y = await readYamlFile(file);
  const syntax = syntaxDiagnostics(y);
  if (syntax.length) throw configError(syntax.map(formatDiagnostic));
  if (y.doc.contents === null) return {};
  const { data, diagnostics } = schemaDiagnostics(y, configSchema, (p) => zodObjectKeys(configSchema, p));
  if (diagnostics.length) throw configError(diagnostics.map(formatDiagnostic));
  if (!data) throw inputError(`${file}: not a disk-image config`);
  const gpgKey = data.remote?.['gpg-key'];
  const keyProblem = gpgKey === undefined ? null : await gpgKeyDiagnostic(y, gpgKey);
  if (keyProblem) throw configError([formatDiagnostic(keyProblem)]);
  return data;
}

function configError(lines: string[]): ToolError {
  return new ToolError('bad-config', lines[0]!, {
    detail: lines.length > 1 ? lines.slice(1).join('\n') : undefined,
    exitCode: 2,
  });
}
