/**
 * `atomic status --json`: a Host document, as bootc's org.containers.bootc/v1 Host —
 * apiVersion, kind, status {booted, staged, pending, rollback, otherDeployments}.
 * One zod schema gives the type, the check tests run on real output, and the published JSON Schema.
 */
import { z } from 'zod';

export const API_VERSION = 'org.debian-atomic/v1';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const OriginSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ostree'), refspec: z.string().min(1).describe('REMOTE:REF or REF, as `ostree pull` takes it') }),
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

export const DeploymentSchema = z
  .strictObject({
    osname: z.string().min(1).describe('The stateroot'),
    checksum: sha256.describe('The OSTree commit'),
    serial: z.int().min(0).describe('Deployment serial (several deployments of one commit)'),
    index: z.int().min(0).describe("Position in 'ostree admin status': 0 boots next"),
    version: z.string().nullable().describe("The commit's version metadata"),
    timestamp: z.iso.datetime().nullable().describe('Commit time, RFC 3339 UTC'),
    origin: OriginSchema.nullable().describe('Where updates come from; null: no origin atomic can follow'),
    pinned: z.boolean().describe('Kept by ostree cleanup (ostree admin pin)'),
    kernelArgs: z.array(z.string()).describe('Kernel command line of the deployment, without ostree='),
  })
  .describe('One deployment');

export const HostSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Host'),
    status: z.strictObject({
      booted: DeploymentSchema.nullable().describe('The running deployment; null when the sysroot is not booted'),
      staged: DeploymentSchema.nullable().describe('Finalized into a boot entry at shutdown, then booted'),
      pending: DeploymentSchema.nullable().describe('Deployed (not staged) ahead of the booted one: boots next'),
      rollback: DeploymentSchema.nullable().describe('The deployment after the booted one: what rollback returns to'),
      otherDeployments: z.array(DeploymentSchema).describe('The rest, in boot order (all of them on a sysroot that is not booted)'),
    }),
  })
  .describe('The deployments of a Debian Atomic system (atomic status --json)');

export type Host = z.infer<typeof HostSchema>;
export type DeploymentJson = z.infer<typeof DeploymentSchema>;

export function hostJsonSchema(): unknown {
  return z.toJSONSchema(HostSchema, { io: 'output', unrepresentable: 'any' });
}
