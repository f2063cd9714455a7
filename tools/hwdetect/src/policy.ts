/**
 * A variant's hardware policy (variants/hwdetect-<variant>.yaml): what to apply
 * always and on which hardware. One zod schema validates it (unknown keys are
 * errors with "did you mean"), types it, and is its JSON Schema.
 */
import { basename } from 'node:path';
import { z } from 'zod';
import { CPU_FLAGS_OF_INTEREST, CPU_VENDORS, STORAGE_KINDS, VIRTUALIZATION_TYPES } from './facts.js';
import { loadDocument } from './input.js';
import { GPU_VENDOR_IDS } from './pci.js';

export const COMPONENTS = ['main', 'contrib', 'non-free', 'non-free-firmware'] as const;
export type Component = (typeof COMPONENTS)[number];

/** A value or a non-empty list of them; a list means "any of". */
function oneOrMany(item: z.ZodString, expected: string) {
  return z.union([item, z.array(item).min(1, 'an empty list matches nothing')], { error: `expected ${expected}, or a list of them` });
}
const oneOf = (values: readonly string[]) => values.map((v) => JSON.stringify(v)).join(', ');
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * One of fixed names. A pattern rather than z.enum: a failed pattern does not
 * abort the union, so the error names the bad item (and its position in a list);
 * it is still a JSON Schema `pattern`.
 */
function choice(values: readonly string[], what = `one of ${oneOf(values)}`): z.ZodString {
  return z.string().regex(new RegExp(`^(${values.map(escapeRe).join('|')})$`), `expected ${what}`);
}

export const KernelArgSchema = z.string().regex(/^[^\s="]+(=("[^"]*"|[^\s"]*))?$/, 'expected one kernel argument: name or name=value, no spaces outside quotes');
export const ModuleNameSchema = z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected a kernel module name (letters, digits, _ and -)');
export const PackageNameSchema = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'expected a Debian package name');
const MODALIAS_EXAMPLE = 'a modalias glob like pci:v000010DEd*sv*sd*bc03sc*i*';
export const ModaliasPatternSchema = z.string().regex(/^[a-z0-9]+:\S*$/i, `expected ${MODALIAS_EXAMPLE}`);
const VENDOR_REF = `a PCI vendor id like 0x10de or one of ${oneOf(Object.keys(GPU_VENDOR_IDS))}`;
const VendorRefSchema = z.string().regex(new RegExp(`^(0x[0-9a-fA-F]{4}|${Object.keys(GPU_VENDOR_IDS).join('|')})$`), `expected ${VENDOR_REF}`);

const VIRTUALIZATION_MATCH = [...VIRTUALIZATION_TYPES, 'vm'] as const;

export const MatchSchema = z
  .strictObject({
    modalias: oneOrMany(ModaliasPatternSchema, MODALIAS_EXAMPLE).optional(),
    'gpu-vendor': oneOrMany(VendorRefSchema, VENDOR_REF).optional(),
    'cpu-vendor': oneOrMany(choice(CPU_VENDORS), `one of ${oneOf(CPU_VENDORS)}`).optional(),
    'cpu-flag': oneOrMany(choice(CPU_FLAGS_OF_INTEREST), `one of ${oneOf(CPU_FLAGS_OF_INTEREST)}`).optional(),
    virtualization: oneOrMany(choice(VIRTUALIZATION_MATCH, `one of ${oneOf(VIRTUALIZATION_MATCH)} ("vm": any hypervisor)`), `one of ${oneOf(VIRTUALIZATION_MATCH)}`).optional(),
    firmware: oneOrMany(choice(['uefi', 'bios']), 'one of "uefi", "bios"').optional(),
    storage: oneOrMany(choice(STORAGE_KINDS), `one of ${oneOf(STORAGE_KINDS)}`).optional(),
    driver: oneOrMany(ModuleNameSchema, 'a kernel driver name bound to a PCI device').optional(),
  })
  .refine((m) => Object.values(m).some((v) => v !== undefined), 'a match needs at least one condition');
export type Match = z.infer<typeof MatchSchema>;
export type MatchKey = keyof Match;

function section(item: z.ZodString) {
  return z
    .strictObject({
      /** Applied on every machine. */
      always: z.array(item).default([]),
      /** Applied where the match holds (every condition; a list in a condition means any of). */
      when: z.array(z.strictObject({ match: MatchSchema, add: z.array(item).min(1, 'add at least one item') })).default([]),
    })
    .prefault({});
}

export const PackageRuleSchema = z.strictObject({
  /** isenkram-style: the rule holds if any PCI device's modalias matches. */
  modalias: oneOrMany(ModaliasPatternSchema, MODALIAS_EXAMPLE).optional(),
  match: MatchSchema.optional(),
  packages: z.array(PackageNameSchema).min(1, 'list at least one package'),
  /** The archive component the packages are in; installed only if allow-components has it. */
  component: z.enum(COMPONENTS).default('main'),
});
export type PackageRule = z.infer<typeof PackageRuleSchema>;

export const PolicySchema = z.strictObject({
  /** The policy's name in plans and reports (default: the file name without extension). */
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a name of letters, digits, ., _ and -').optional(),
  description: z.string().optional(),
  /** Install hwdetect itself (and Debian's nodejs) into the image, with its boot-time check. */
  enabled: z.boolean().default(false),
  'allow-components': z.array(z.enum(COMPONENTS)).min(1, 'allow at least one component').default(['main']),
  'kernel-args': section(KernelArgSchema),
  modules: section(ModuleNameSchema),
  'initramfs-drivers': section(ModuleNameSchema),
  packages: z.array(PackageRuleSchema).default([]),
});
export type Policy = z.infer<typeof PolicySchema>;

export interface LoadedPolicy {
  /** Its `name`, else the file's name without directory and extension: hwdetect-server. */
  name: string;
  policy: Policy;
}

export async function loadPolicy(file: string, stdin?: NodeJS.ReadableStream): Promise<LoadedPolicy> {
  const policy = await loadDocument(file, PolicySchema, 'policy', stdin);
  return { name: policy.name ?? (file === '-' ? 'stdin' : basename(file).replace(/\.(ya?ml|json)$/, '')), policy };
}

export function policyJsonSchema(): unknown {
  return z.toJSONSchema(PolicySchema, { io: 'input', unrepresentable: 'any' });
}
