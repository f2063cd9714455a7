/**
 * The treefile contract: the treefile as written (treefile-lint reads it), the resolved treefile
 * (treefile-lint --resolve writes it, rootfs reads it), the tasks file (treefile-lint and
 * comps-sync read it) and the treefile recorded in the image (image-treefile.ts). One zod schema
 * gives validation, the TypeScript types and the JSON Schema (treefile-lint --schema).
 * Key names follow rpm-ostree where the meaning is the same.
 */
import { z } from 'zod';
import { controlCharName, kernelArg, sourcesUrl, zodObjectKeys } from '../index.js';

export const DEBIAN_ARCHES = [
  'amd64',
  'arm64',
  'armel',
  'armhf',
  'i386',
  'mips64el',
  'ppc64el',
  'riscv64',
  's390x',
  'loong64',
] as const;
export type DebianArch = (typeof DEBIAN_ARCHES)[number];

export const MMDEBSTRAP_VARIANTS = [
  'extract',
  'custom',
  'essential',
  'apt',
  'required',
  'minbase',
  'buildd',
  'important',
  'standard',
] as const;

/** Values a resolved treefile gets when no file sets them. */
export const DEFAULTS = { architecture: 'amd64', 'mmdebstrap-variant': 'apt', osname: 'debian' } as const;

/** rpm-ostree's include depth limit. */
export const INCLUDE_MAX_DEPTH = 50;

/**
 * Bounds on what a treefile may hold: far above any real one (the largest variant is 3 KB, a
 * full tasksel tasks file some tens of KB), low enough that a hostile file is refused before
 * it costs seconds or gigabytes. Every string that lands in a file line is bounded too.
 */
export const LIMITS = {
  /** Bytes of one treefile or tasks file (yaml parses about 0.3 MB/s at worst on a slow machine). */
  fileBytes: 1 << 20,
  /** Bytes of a treefile and everything it includes, together. */
  resolutionBytes: 2 << 20,
  /** Files one resolution reads (the treefile and its includes). */
  files: 256,
  /** Entries of `include`. */
  includes: 64,
  /** Entries of any list (packages, units, ...). */
  list: 10000,
  /** Characters of a name (package, unit, suite, ref...). */
  name: 256,
  /** Characters of a path. */
  path: 4096,
  /** Characters of an inline postprocess script. */
  script: 1 << 20,
  /** Characters of any other string. */
  text: 4096,
  /** Kernel and initramfs arguments: usr-unify and disk-image read at most this many from the image. */
  args: 256,
  /** Characters of an OSTree stateroot name (a directory of the sysroot). */
  osname: 64,
  /** Characters of automatic-version-prefix. */
  versionPrefix: 64,
  /** Keys of add-commit-metadata, and characters of one value as JSON. */
  metadataKeys: 256,
  metadataValue: 65536,
} as const;

// Debian policy §5.6.1: lowercase letters, digits, + - . ; at least two characters, starting alphanumeric.
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
// ostree's OSTREE_REF_REGEXP without the optional "remote:" prefix.
export const OSTREE_REF = /^[-._A-Za-z0-9]+(\/[-._A-Za-z0-9]+)*$/;
const UNIT_CHARS = '[A-Za-z0-9:_.\\\\-]';
const UNIT_TYPES = 'service|socket|device|mount|automount|swap|target|path|timer|slice|scope';
export const UNIT_NAME = new RegExp(`^${UNIT_CHARS}+(@${UNIT_CHARS}*)?\\.(${UNIT_TYPES})$`);
export const TARGET_NAME = new RegExp(`^${UNIT_CHARS}+\\.target$`);
export const TASK_NAME = /^[a-z0-9][a-z0-9-]*$/;
// A tasks.yaml entry: one package, or alternatives "a | b" (the first is installed).
export const TASK_ENTRY = /^[a-z0-9][a-z0-9+.-]+( *\| *[a-z0-9][a-z0-9+.-]+)*$/;
// Where ostree keeps content: /usr (not /usr/local, which is /var/usrlocal) and /etc, as rpm-ostree's add-files check;
// /bin, /sbin, /lib, /lib64 are the merged-/usr symlinks.
const IMAGE_PATH = /^\/(?!usr\/local\/)(usr|etc|bin|sbin|lib|lib64)\/(?!(.*\/)?\.\.(\/|$)).+$/;
/** A key of add-commit-metadata: ostree's --add-metadata-string=KEY=VALUE splits at the first "=". */
export const METADATA_KEY = /^[^\s=\u0000-\u001f\u007f-\u009f]{1,256}$/;
/** The automatic version lands in os-release (OSTREE_VERSION='...'): no quotes, white space or shell characters; at most LIMITS.versionPrefix. */
export const VERSION_PREFIX = /^[A-Za-z0-9][A-Za-z0-9._~+-]*$/;
const RELATIVE_PATH = /^(?!\/)(?!(.*\/)?\.\.(\/|$)).+$/;

const tooLong = (max: number) => ({ error: `longer than ${max} characters`, abort: true });
const name = (re: RegExp, what: string, max: number = LIMITS.name) =>
  z
    .string()
    .max(max, tooLong(max))
    .regex(re, { error: `not a valid ${what}` });
/** A list of at most LIMITS.list entries (checked before the entries, so a huge list is one problem). */
const list = <T extends z.ZodType>(item: T) =>
  z.array(item).max(LIMITS.list, { error: `more than ${LIMITS.list} entries` });
/** One line of text: no control character (a newline would start a second line wherever it is written). */
const noControl = (what: string) => (s: string, ctx: z.core.$RefinementCtx<string>) => {
  const c = controlCharName(s);
  if (c) ctx.addIssue({ code: 'custom', message: `${what} must be one line: it contains ${c}`, input: s });
};

export const packageName = name(
  PACKAGE_NAME,
  'Debian package name (lowercase letters, digits, "+", "-", "."; at least 2 characters, starting with a letter or digit)',
);
const packageList = list(packageName);
const nonEmptyString = z.string().min(1, { error: 'must not be empty' });
/** A single-line string of at most `max` characters, not empty. */
const lineString = (what: string, max: number = LIMITS.text) =>
  nonEmptyString.max(max, tooLong(max)).superRefine(noControl(what));
const path = lineString('a path', LIMITS.path);
/** A keyring path goes into a sources line as `[signed-by=PATH]`: no white space, no "]". */
const keyringPath = path.regex(/^[^\s\]]+$/, {
  error: 'a keyring path must not contain white space or "]" (it is written as [signed-by=PATH])',
});
const unitName = name(UNIT_NAME, 'systemd unit name (like "foo.service", "getty@tty1.service")');

export const repoSchema = z
  .strictObject({
    mirror: sourcesUrl(/^(https?|file)$/, 'not a valid mirror URL (http://, https:// or file://)').describe(
      'Archive root, e.g. http://deb.debian.org/debian',
    ),
    suite: name(/^[a-z0-9][a-z0-9.+/-]*$/, 'suite name (like "trixie" or "trixie-updates")')
      .optional()
      .describe("Suite; default: the treefile's `suite`"),
    components: list(name(/^[a-z0-9][a-z0-9-]*$/, 'component name (like "main")'))
      .min(1, { error: 'list at least one component' })
      .describe('Archive components, e.g. [main]'),
    keyring: keyringPath
      .optional()
      .describe('OpenPGP keyring that signs this archive (relative paths are relative to the declaring file)'),
    name: name(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'repository name (letters, digits, ".", "_", "-")')
      .optional()
      .describe('Name of the sources file in the image'),
  })
  .describe('An APT repository');

const archKeyDescription = (a: DebianArch) => `Packages installed only on ${a} (set union with includes)`;

/** `packages-<arch>` for every Debian architecture, each an optional list of package names. */
function archPackageKeys(
  prefix: string,
  describe: (a: DebianArch) => string,
): { [A in DebianArch as `packages-${A}`]: z.ZodOptional<typeof packageList> } {
  return Object.fromEntries(
    DEBIAN_ARCHES.map((a) => [`${prefix}-${a}`, packageList.optional().describe(describe(a))]),
  ) as never;
}

export const treefileSchema = z
  .strictObject({
    // rpm-ostree keys
    ref: name(OSTREE_REF, 'OSTree ref (like "debian/13/x86_64/base")')
      .optional()
      .describe('OSTree branch of the commit, e.g. debian/13/x86_64/base'),
    include: z
      .union([path, z.array(path)], { error: 'expected a path or a list of paths' })
      .refine((v) => typeof v === 'string' || v.length <= LIMITS.includes, {
        error: `more than ${LIMITS.includes} includes`,
      })
      .optional()
      .describe('Treefiles to merge in (paths relative to this file); removed on resolve'),
    packages: packageList.optional().describe('Packages to install (set union with includes)'),
    ...archPackageKeys('packages', archKeyDescription),
    'exclude-packages': packageList.optional().describe('Packages never installed; an includer listing one again wins'),
    recommends: z.boolean().optional().describe('Install Recommends'),
    repos: list(repoSchema).optional().describe('APT repositories (concatenated with includes)'),
    units: list(unitName).optional().describe('systemd units to enable'),
    'default-target': name(TARGET_NAME, 'systemd target (like "multi-user.target")')
      .optional()
      .describe('systemd default target'),
    'postprocess-script': path
      .optional()
      .describe('Script run in the tree after installation (relative to the declaring file; absolute on resolve)'),
    postprocess: z
      .array(
        z
          .string()
          .max(LIMITS.script, {
            error: `an inline postprocess script is longer than ${LIMITS.script} characters (use postprocess-script)`,
            abort: true,
          })
          .regex(/^#!/, { error: "an inline postprocess script must start with '#!' (its interpreter)" }),
      )
      .max(LIMITS.list, { error: `more than ${LIMITS.list} entries` })
      .optional()
      .describe('Inline scripts run in the tree after installation'),
    'add-files': z
      .array(
        z.tuple(
          [
            path,
            path.regex(IMAGE_PATH, {
              error: 'destination must be an absolute path under /usr (not /usr/local) or /etc, without ".."',
            }),
          ],
          {
            error: 'expected a [source, destination] pair',
          },
        ),
      )
      .max(LIMITS.list, { error: `more than ${LIMITS.list} entries` })
      .optional()
      .describe(
        '[source, destination] pairs: source relative to the declaring file (absolute on resolve), destination absolute in the image',
      ),
    'remove-files': list(
      z
        .string()
        .max(LIMITS.path, tooLong(LIMITS.path))
        .regex(RELATIVE_PATH, { error: 'must be a relative path (from the root of the tree) without ".."' })
        .refine((p) => p.split('/').some((s) => s !== '' && s !== '.'), {
          error: 'must name something below the root of the tree, not the root itself',
        })
        .superRefine(noControl('a path')),
    )
      .optional()
      .describe('Paths to delete from the tree, relative to its root (as rpm-ostree)'),
    'etc-group-members': list(name(/^[a-z_][a-z0-9_-]*$/, 'group name', 32))
      .optional()
      .describe('Groups kept in /etc/group (for groups humans join)'),
    'initramfs-args': z
      .array(lineString('an initramfs argument'))
      .max(LIMITS.args, { error: `more than ${LIMITS.args} entries` })
      .optional()
      .describe('Extra arguments for the initramfs generator (dracut)'),
    'kernel-args': z
      .array(nonEmptyString.pipe(kernelArg))
      .max(LIMITS.args, { error: `more than ${LIMITS.args} kernel arguments` })
      .optional()
      .describe('Kernel command line arguments'),
    'tmp-is-dir': z.boolean().optional().describe('Make /tmp a directory instead of a tmpfs mount point'),
    'machineid-compat': z.boolean().optional().describe('Keep an empty /etc/machine-id'),
    'mutate-os-release': lineString('the string to replace', LIMITS.name)
      .optional()
      .describe('String in os-release to replace with the composed version'),
    'add-commit-metadata': z
      .record(
        z.string(),
        z.json().refine((v) => JSON.stringify(v).length <= LIMITS.metadataValue, {
          error: `a metadata value is larger than ${LIMITS.metadataValue} characters as JSON`,
        }),
      )
      .superRefine((m, ctx) => {
        const keys = Object.keys(m);
        if (keys.length > LIMITS.metadataKeys)
          ctx.addIssue({ code: 'custom', message: `more than ${LIMITS.metadataKeys} metadata keys`, input: m });
        // ostree takes metadata as KEY=VALUE arguments: a key has no "=", white space or control character.
        else
          for (const k of keys)
            if (!METADATA_KEY.test(k))
              ctx.addIssue({
                code: 'custom',
                path: [k],
                message: 'not a valid commit metadata key (no "=", white space or control characters; at most 256)',
                input: k,
              });
      })
      .optional()
      .describe('Extra metadata of the commit (merged with includes; the includer wins)'),
    'automatic-version-prefix': name(
      VERSION_PREFIX,
      'version prefix (letters, digits, ".", "_", "~", "+", "-")',
      LIMITS.versionPrefix,
    )
      .optional()
      .describe('Prefix of the automatic commit version, e.g. "13"'),
    'container-cmd': z
      .array(nonEmptyString.max(LIMITS.text, tooLong(LIMITS.text)))
      .max(256, { error: 'more than 256 entries' })
      .min(1, { error: 'list at least the command' })
      .optional()
      .describe('CMD of the OCI image'),
    // Debian additions
    suite: name(/^[a-z0-9][a-z0-9.+-]*$/, 'suite name (like "trixie")')
      .optional()
      .describe('Debian suite: trixie, forky, sid...'),
    release: name(/^[A-Za-z0-9][A-Za-z0-9.~+-]*$/, 'release (like "13")')
      .optional()
      .describe('Debian release number, e.g. "13"'),
    architecture: z.enum(DEBIAN_ARCHES).optional().describe('Debian architecture; default amd64'),
    'mmdebstrap-variant': z.enum(MMDEBSTRAP_VARIANTS).optional().describe('mmdebstrap --variant; default apt'),
    osname: name(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'OSTree stateroot name', LIMITS.osname)
      .optional()
      .describe('OSTree stateroot (os name); default debian'),
    tasks: list(name(TASK_NAME, 'task name'))
      .optional()
      .describe('Tasks of the tasks file to install (expanded into packages on resolve)'),
    'tasks-file': path
      .optional()
      .describe('Tasks file for the tasks of this file (relative to it); default tasks.yaml beside it'),
    'hwdetect-policy': path
      .optional()
      .describe('Hardware detection policy (relative to the declaring file; absolute on resolve)'),
    'secure-boot': z
      .boolean()
      .optional()
      .describe(
        "Default true: disk-image refuses a kernel without Debian's Secure Boot signature; false: the same shim and GRUB boot any kernel, with Secure Boot off",
      ),
  })
  .meta({
    title: 'Debian Atomic treefile',
    description: 'A treefile or a fragment of one; see tools/treefile-lint/README.md',
  });

export type Treefile = z.infer<typeof treefileSchema>;
export type TreefileKey = keyof Treefile;
export type PackageKey = 'packages' | `packages-${DebianArch}`;
export const PACKAGE_KEYS: readonly PackageKey[] = ['packages', ...DEBIAN_ARCHES.map((a) => `packages-${a}` as const)];

/** A resolved treefile (`--resolve` output): what later stages read. */
export const resolvedTreefileSchema = treefileSchema
  .omit({ include: true, 'tasks-file': true })
  .extend({
    ref: treefileSchema.shape.ref.unwrap(),
    suite: treefileSchema.shape.suite.unwrap(),
    repos: list(repoSchema.required({ suite: true })).min(1),
    packages: packageList.min(1),
    architecture: z.enum(DEBIAN_ARCHES),
    'mmdebstrap-variant': z.enum(MMDEBSTRAP_VARIANTS),
    osname: treefileSchema.shape.osname.unwrap(),
  })
  .meta({ title: 'Debian Atomic resolved treefile' });
export type ResolvedTreefile = z.infer<typeof resolvedTreefileSchema>;

const taskPackageList = list(name(TASK_ENTRY, 'task entry (a package name, or alternatives "a | b")', 1024));
function archTaskKeys<P extends string>(
  prefix: P,
): { [A in DebianArch as `${P}-${A}`]: z.ZodOptional<typeof taskPackageList> } {
  return Object.fromEntries(DEBIAN_ARCHES.map((a) => [`${prefix}-${a}`, taskPackageList.optional()])) as never;
}

export const taskSchema = z.strictObject({
  description: lineString('a task description').describe('One line shown to people'),
  packages: taskPackageList.optional().describe('Mandatory packages (the task-* Depends) on every architecture'),
  ...archTaskKeys('packages'),
  recommends: taskPackageList.optional().describe('Default packages (the task-* Recommends)'),
  ...archTaskKeys('recommends'),
});
export type Task = z.infer<typeof taskSchema>;

/** variants/tasks/tasks.yaml: package groups maintained by comps-sync from Debian's tasksel data. */
export const tasksFileSchema = z.strictObject({
  tasks: z
    .record(name(TASK_NAME, 'task name'), taskSchema)
    .refine((m) => Object.keys(m).length <= 1000, { error: 'more than 1000 tasks' }),
});
export type TasksFileData = z.infer<typeof tasksFileSchema>;

export const treefileKeys = (p: readonly PropertyKey[]): string[] => zodObjectKeys(treefileSchema, p);
export const tasksFileKeys = (p: readonly PropertyKey[]): string[] => zodObjectKeys(tasksFileSchema, p);
