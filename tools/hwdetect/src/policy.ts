/**
 * A variant's hardware policy (variants/hardware/hwdetect-<variant>.yaml): what to apply
 * always and on which hardware. One zod schema validates it (unknown keys are
 * errors with "did you mean"), types it, and is its JSON Schema.
 */
import { basename } from 'node:path';
import { controlCharName, inputError, kernelArgProblem } from '@debian-atomic/lib';
import { z } from 'zod';
import { CPU_FLAGS_OF_INTEREST, CPU_VENDORS, STORAGE_KINDS, VIRTUALIZATION_TYPES } from './facts.js';
import { DOCUMENT_LIMITS, loadDocument } from './input.js';
import { globProblems } from './modalias.js';
import { GPU_VENDOR_IDS } from './pci.js';

export const COMPONENTS = ['main', 'contrib', 'non-free', 'non-free-firmware'] as const;
export type Component = (typeof COMPONENTS)[number];

/** A value or a non-empty list of them; a list means "any of". */
function oneOrMany(item: z.ZodString, expected: string) {
  return z.union([item, z.array(item).min(1, 'an empty list matches nothing')], {
    error: `expected ${expected}, or a list of them`,
  });
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

const KERNEL_ARG_SHAPE = /^[^\s="]+(=("[^"]*"|[^\s"]*))?$/;
/**
 * One kernel argument: it lands in kargs.d and on the kernel command line, so first the
 * lib's grammar (not empty, at most 4096 characters, no newline or other control
 * character: it stops there), then the name[=value] shape.
 */
export const KernelArgSchema = z
  .string()
  .superRefine((s, ctx) => {
    const problem = kernelArgProblem(s);
    if (problem !== null && (s.length === 0 || s.length > 4096 || controlCharName(s) !== null))
      ctx.addIssue({ code: 'custom', message: problem, continue: false });
  })
  .regex(KERNEL_ARG_SHAPE, 'expected one kernel argument: name or name=value, no spaces outside quotes');
/** MODULE_NAME_LEN is 56; names land in modules-load.d lines and dracut's add_drivers. */
export const ModuleNameSchema = z
  .string()
  .max(64, 'a kernel module name is at most 64 characters')
  .regex(/^[A-Za-z0-9_-]+$/, 'expected a kernel module name (letters, digits, _ and -)');
export const PackageNameSchema = z
  .string()
  .max(128, 'a Debian package name is at most 128 characters')
  .regex(/^[a-z0-9][a-z0-9+.-]+$/, 'expected a Debian package name');
const MODALIAS_EXAMPLE = 'a modalias glob like pci:v000010DEd*sv*sd*bc03sc*i*';
/** A glob, checked when the policy is read: bounded, and every bracket expression valid. */
export const ModaliasPatternSchema = z
  .string()
  .regex(/^[a-z0-9]+:\S*$/i, `expected ${MODALIAS_EXAMPLE}`)
  .superRefine((s, ctx) => {
    const control = controlCharName(s);
    if (control) ctx.addIssue({ code: 'custom', message: `a modalias glob must not contain ${control}` });
    for (const p of globProblems(s))
      ctx.addIssue({
        code: 'custom',
        message: `invalid modalias glob ${JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s)}: ${p.message}`,
      });
  });
/** A policy's name: it is in plans, and in the comment lines of the files apply writes. */
export const PolicyNameSchema = z
  .string()
  .max(128, 'a policy name is at most 128 characters')
  .regex(/^[A-Za-z0-9._-]+$/, 'expected a name of letters, digits, ., _ and -');
const VENDOR_REF = `a PCI vendor id like 0x10de or one of ${oneOf(Object.keys(GPU_VENDOR_IDS))}`;
const VendorRefSchema = z
  .string()
  .regex(new RegExp(`^(0x[0-9a-fA-F]{4}|${Object.keys(GPU_VENDOR_IDS).join('|')})$`), `expected ${VENDOR_REF}`);

const VIRTUALIZATION_MATCH = [...VIRTUALIZATION_TYPES, 'vm'] as const;

export const MatchSchema = z
  .strictObject({
    modalias: oneOrMany(ModaliasPatternSchema, MODALIAS_EXAMPLE).optional(),
    'gpu-vendor': oneOrMany(VendorRefSchema, VENDOR_REF).optional(),
    'cpu-vendor': oneOrMany(choice(CPU_VENDORS), `one of ${oneOf(CPU_VENDORS)}`).optional(),
    'cpu-flag': oneOrMany(choice(CPU_FLAGS_OF_INTEREST), `one of ${oneOf(CPU_FLAGS_OF_INTEREST)}`).optional(),
    virtualization: oneOrMany(
      choice(VIRTUALIZATION_MATCH, `one of ${oneOf(VIRTUALIZATION_MATCH)} ("vm": any hypervisor)`),
      `one of ${oneOf(VIRTUALIZATION_MATCH)}`,
    ).optional(),
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
      when: z
        .array(z.strictObject({ match: MatchSchema, add: z.array(item).min(1, 'add at least one item') }))
        .default([]),
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

/** Names (kernel arguments, modules, drivers, packages) a policy may list in all: a plan has one entry for each. */
export const MAX_POLICY_NAMES = 2048;

export const PolicySchema = z
  .strictObject({
    /** The policy's name in plans and reports (default: the file name without extension). */
    name: PolicyNameSchema.optional(),
    description: z.string().max(4096, 'a description is at most 4096 characters').optional(),
    /** Install hwdetect itself (and Debian's nodejs) into the image, with its boot-time check. */
    enabled: z.boolean().default(false),
    'allow-components': z.array(z.enum(COMPONENTS)).min(1, 'allow at least one component').default(['main']),
    'kernel-args': section(KernelArgSchema),
    modules: section(ModuleNameSchema),
    'initramfs-drivers': section(ModuleNameSchema),
    packages: z.array(PackageRuleSchema).default([]),
  })
  .superRefine((p, ctx) => {
    const sections = [p['kernel-args'], p.modules, p['initramfs-drivers']];
    const names =
      sections.reduce((n, s) => n + s.always.length + s.when.reduce((m, w) => m + w.add.length, 0), 0) +
      p.packages.reduce((n, r) => n + r.packages.length, 0);
    if (names > MAX_POLICY_NAMES)
      ctx.addIssue({
        code: 'custom',
        message: `a policy lists at most ${MAX_POLICY_NAMES} names in all (kernel arguments, modules, drivers, packages); this one has ${names}`,
      });
  });
export type Policy = z.infer<typeof PolicySchema>;

export interface LoadedPolicy {
  /** Its `name`, else the file's name without directory and extension: hwdetect-server. */
  name: string;
  policy: Policy;
}

export async function loadPolicy(file: string, stdin?: NodeJS.ReadableStream): Promise<LoadedPolicy> {
  const policy = await loadDocument(file, PolicySchema, 'policy', stdin, DOCUMENT_LIMITS.policy);
  const name = policy.name ?? (file === '-' ? 'stdin' : basename(file).replace(/\.(ya?ml|json)$/, ''));
  if (!PolicyNameSchema.safeParse(name).success) {
    throw inputError(
      `${file}: the policy has no 'name' and its file name ${JSON.stringify(name)} is not one (letters, digits, ., _ and -, at most 128)`,
      {
        hint: "add a 'name:' key to the policy",
      },
    );
  }
  return { name, policy };
}

export function policyJsonSchema(): unknown {
  return z.toJSONSchema(PolicySchema, { io: 'input', unrepresentable: 'any' });
}
