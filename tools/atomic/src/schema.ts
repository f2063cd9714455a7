/**
 * `atomic status --json`: a Host document, as bootc's org.containers.bootc/v1 Host —
 * apiVersion, kind, status {booted, staged, pending, rollback, otherDeployments}.
 * One zod schema gives the type, the check tests run on real output, and the published JSON Schema.
 */
import { BOOT_COMPONENTS, BootloaderStateSchema } from '@debian-atomic/lib';
import { z } from 'zod';

export const API_VERSION = 'org.debian-atomic/v1';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const OriginSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('ostree'),
    refspec: z.string().min(1).describe('REMOTE:REF or REF, as `ostree pull` takes it'),
  }),
  z.strictObject({
    type: z.literal('image'),
    image: z.string().min(1).describe('docker://…, oci:/DIR[:TAG] or oci-archive:/FILE[:TAG]'),
    digest: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/)
      .nullable()
      .describe('Manifest digest of the image this deployment was made from'),
  }),
]);

export const LayeringSchema = z
  .strictObject({
    baseCommit: sha256.describe('The base commit the packages are layered on (what upgrades replace)'),
    requested: z.array(z.string()).describe("Packages asked for (atomic install NAME), from the system's apt sources"),
    requestedLocal: z.array(z.string()).describe('Local .debs asked for (atomic install ./FILE.deb): SHA256:NAME'),
    removed: z.array(z.string()).describe('Base packages taken out (atomic override remove)'),
    layeredPackages: z
      .array(z.string())
      .describe('"NAME VERSION" of every package the commit adds: the requested ones and their dependencies'),
    removedPackages: z.array(z.string()).describe('"NAME VERSION" of every base package the commit does not have'),
  })
  .describe('Client-side layering: the requests (kept in the origin file) and what they resolved to');

export const DeploymentSchema = z
  .strictObject({
    osname: z.string().min(1).describe('The stateroot'),
    checksum: sha256.describe('The OSTree commit'),
    serial: z.int().min(0).describe('Deployment serial (several deployments of one commit)'),
    index: z.int().min(0).describe("Position in 'ostree admin status': 0 boots next"),
    version: z.string().nullable().describe("The commit's version metadata"),
    timestamp: z.iso.datetime().nullable().describe('Commit time, RFC 3339 UTC'),
    base: sha256
      .nullable()
      .optional()
      .describe(
        "A commit merged from a derived image (a Containerfile FROM one of ours): the base image's commit; null: not derived",
      ),
    origin: OriginSchema.nullable().describe('Where updates come from; null: no origin atomic can follow'),
    pinned: z.boolean().describe('Kept by ostree cleanup (ostree admin pin)'),
    layering: LayeringSchema.nullable()
      .optional()
      .describe('Packages layered on the base image (atomic install); null: none'),
    kernelArgs: z.array(z.string()).describe('Kernel command line of the deployment, without ostree='),
  })
  .describe('One deployment');

/** Where one program of the boot chain on the ESP stands against the image. */
export const BOOTLOADER_VERDICTS = ['up-to-date', 'update-available', 'esp-newer'] as const;

export const BootComponentSchema = z
  .strictObject({
    name: z.enum(BOOT_COMPONENTS),
    package: z.string().min(1).describe('The Debian package the files come from'),
    espVersion: z.string().nullable().describe('Its version on the ESP (the state file); null: not recorded'),
    imageVersion: z
      .string()
      .nullable()
      .describe("Its version in the image (the deployment's dpkg database); null: not installed"),
    status: z
      .enum(BOOTLOADER_VERDICTS)
      .describe(
        "up-to-date: the ESP's files are the image's (by digest); update-available: they differ; esp-newer: they differ and the ESP's version is the newer one",
      ),
  })
  .describe('One program of the boot chain: shim, GRUB or MokManager');

export const BootloaderSummarySchema = z
  .strictObject({
    status: z
      .enum(BOOTLOADER_VERDICTS)
      .describe('esp-newer if any component is; else update-available if any is; else up-to-date'),
    commit: sha256.describe('The commit the files on the ESP were copied from'),
    components: z.array(BootComponentSchema),
  })
  .describe('The boot loader on the ESP against the booted (or default) deployment, from the state file');

export const HostSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Host'),
    status: z.strictObject({
      booted: DeploymentSchema.nullable().describe('The running deployment; null when the sysroot is not booted'),
      staged: DeploymentSchema.nullable().describe('Finalized into a boot entry at shutdown, then booted'),
      pending: DeploymentSchema.nullable().describe('Deployed (not staged) ahead of the booted one: boots next'),
      rollback: DeploymentSchema.nullable().describe('The deployment after the booted one: what rollback returns to'),
      otherDeployments: z
        .array(DeploymentSchema)
        .describe('The rest, in boot order (all of them on a sysroot that is not booted)'),
      bootloader: BootloaderSummarySchema.nullable().describe(
        'null: no bootloader state (an ESP not installed by disk-image or atomic)',
      ),
    }),
  })
  .describe('The deployments of a Debian Atomic system (atomic status --json)');

const EspFileCheckSchema = z.strictObject({
  path: z.string().describe('Path on the ESP'),
  problem: z.enum(['differs', 'missing']).describe('differs: not the bytes the state records; missing: not on the ESP'),
});

export const BootloaderStatusSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('BootloaderStatus'),
    ...BootloaderSummarySchema.shape,
    deployment: z
      .strictObject({ checksum: sha256, index: z.int().min(0), booted: z.boolean() })
      .describe('The deployment whose files the ESP is compared with: the booted one, else the default (index 0)'),
    esp: z.strictObject({
      partuuid: z.string().describe('From the state file'),
      mountpoint: z
        .string()
        .nullable()
        .describe('Where the files on the ESP were checked (--esp, or where it is mounted); null: not checked'),
      files: z
        .array(EspFileCheckSchema)
        .nullable()
        .describe('Files on the ESP that are not as the state records them; null: not checked'),
      leftovers: z.array(z.string()).nullable().describe('*.new files an interrupted update left; null: not checked'),
    }),
    files: z
      .array(
        z.strictObject({
          path: z.string().describe('Path on the ESP'),
          source: z.string().describe('Path in the deployment'),
          component: z.enum(BOOT_COMPONENTS),
          stateSha256: sha256.nullable().describe('What the state file records; null: not recorded'),
          imageSha256: sha256.describe('The deployment file'),
        }),
      )
      .describe('Every file of the boot chain, in the order an update renames them'),
  })
  .describe('atomic bootloader status --json');

export const BootloaderUpdateSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('BootloaderUpdate'),
    result: z
      .enum(['updated', 'recorded', 'nothing-to-do', 'esp-newer'])
      .describe(
        'updated: files written; recorded: the ESP already held them, the state file was brought up to date; esp-newer: kept (no --allow-downgrade)',
      ),
    written: z.array(z.string()).describe('ESP paths renamed into place, in that order'),
    removed: z.array(z.string()).describe('Leftover *.new files of an interrupted update that were removed'),
    state: BootloaderStateSchema.describe('The state file as it is now'),
  })
  .describe('atomic bootloader update --json');

export type Host = z.infer<typeof HostSchema>;
export type LayeringJson = z.infer<typeof LayeringSchema>;
export type DeploymentJson = z.infer<typeof DeploymentSchema>;
export type BootComponentJson = z.infer<typeof BootComponentSchema>;
export type BootloaderSummary = z.infer<typeof BootloaderSummarySchema>;
export type BootloaderStatus = z.infer<typeof BootloaderStatusSchema>;
export type BootloaderUpdate = z.infer<typeof BootloaderUpdateSchema>;

const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' });

export function hostJsonSchema(): unknown {
  return jsonSchema(HostSchema);
}

export function bootloaderStatusJsonSchema(): unknown {
  return jsonSchema(BootloaderStatusSchema);
}
