/**
 * policy + facts → plan: the kernel arguments, modules, initramfs drivers and
 * packages for one machine; or, with no facts, for an image meant to boot on
 * any hardware the policy covers (what the image build uses).
 *
 * For any hardware, conditional kernel arguments and modules cannot be decided
 * (they are "deferred": the boot-time check reports them on matching machines),
 * while conditional initramfs drivers and packages are all included: a driver
 * or firmware for absent hardware costs space, not behaviour.
 */
import { controlCharName, inputError } from '@debian-atomic/lib';
import { z } from 'zod';
import { allPciDevices, type Facts } from './facts.js';
import { GlobBudget, matchModalias } from './modalias.js';
import { GPU_VENDOR_IDS } from './pci.js';
import {
  COMPONENTS,
  KernelArgSchema,
  ModuleNameSchema,
  PackageNameSchema,
  PolicyNameSchema,
  PolicySchema,
  type Component,
  type LoadedPolicy,
  type Match,
  type MatchKey,
} from './policy.js';

export const PLAN_VERSION = 1;
export const TARGETS = ['machine', 'any-hardware'] as const;
const SECTIONS = ['kernel-args', 'modules', 'initramfs-drivers'] as const;
type Section = (typeof SECTIONS)[number];

/**
 * Why an entry is there: `apply` writes it as a comment line (modules-load.d), so one
 * line. Its length is bounded by the plan's (a policy's patterns and a machine's devices).
 */
const Because = z.string().superRefine((s, ctx) => {
  const c = controlCharName(s);
  if (c) ctx.addIssue({ code: 'custom', message: `a reason must be one line: it contains ${c}` });
});
/** Each entry's name has the grammar of the file apply writes it into, as in the policy. */
const entry = (name: z.ZodString) => z.strictObject({ name, because: Because });
const EntrySchema = entry(z.string());
const PackageEntrySchema = z.strictObject({ name: PackageNameSchema, component: z.enum(COMPONENTS), because: Because });

export const PlanSchema = z.strictObject({
  version: z.literal(PLAN_VERSION),
  /** The policy, embedded: the image carries it for the boot-time check. */
  policy: z.strictObject({ name: PolicyNameSchema, spec: PolicySchema }),
  target: z.enum(TARGETS),
  /** hwdetect itself goes into the image (policy `enabled`). */
  enabled: z.boolean(),
  kernelArgs: z.array(entry(KernelArgSchema)),
  modules: z.array(entry(ModuleNameSchema)),
  initramfsDrivers: z.array(entry(ModuleNameSchema)),
  packages: z.array(PackageEntrySchema),
  /** Archive components the packages come from. */
  components: z.array(z.enum(COMPONENTS)),
  /** Packages whose rule holds but whose component the policy does not allow. */
  skipped: z.array(
    z.strictObject({ packages: z.array(z.string()), component: z.enum(COMPONENTS), because: z.string() }),
  ),
  /** Conditional entries an any-hardware plan cannot decide. */
  deferred: z.array(z.strictObject({ section: z.enum(SECTIONS), items: z.array(z.string()), when: z.string() })),
});
export type Plan = z.infer<typeof PlanSchema>;
type Entry = z.infer<typeof EntrySchema>;

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const sameDriver = (a: string, b: string) => a.replaceAll('-', '_') === b.replaceAll('-', '_');

/**
 * Glob steps one plan may take, all matches together: about a second at worst. A real
 * policy (a few dozen globs) on a large server (a thousand PCI functions) takes under 1%.
 */
export const GLOB_STEPS = 50_000_000;

function tooMuchMatching(facts: Facts) {
  return inputError(
    `matching the policy's modalias globs against the ${allPciDevices(facts).length} PCI devices of the facts takes more than ${GLOB_STEPS} steps, stopped`,
    {
      hint: 'a policy needs a few dozen globs; are these the policy and facts you meant?',
    },
  );
}

/** A plan's reasons are comments, not reports: long ones (many globs, many devices) are cut. */
export const MAX_BECAUSE = 256;
const brief = (s: string) => (s.length <= MAX_BECAUSE ? s : `${s.slice(0, MAX_BECAUSE - 3)}...`);

/** "gpu-vendor nvidia and storage nvme|sata" */
export function describeMatch(match: Match): string {
  return (Object.entries(match) as [MatchKey, string | string[] | undefined][])
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${list(v).join('|')}`)
    .join(' and ');
}

/**
 * Whether a match holds on a machine: every condition must (a list is any-of).
 * Returns what made it hold, for the plan's `because`, or undefined.
 */
export function evaluateMatch(
  match: Match,
  facts: Facts,
  budget: GlobBudget = new GlobBudget(GLOB_STEPS),
): string[] | undefined {
  const reasons: string[] = [];
  const devices = (ds: { address: string }[]) => ds.map((d) => d.address).join(', ');
  for (const [key, value] of Object.entries(match) as [MatchKey, string | string[] | undefined][]) {
    if (value === undefined) continue;
    const want = list(value);
    let found: string | undefined;
    switch (key) {
      case 'modalias': {
        const ds = allPciDevices(facts).filter((d) => {
          const hit = want.some((p) => matchModalias(p, d.modalias, budget));
          if (budget.exhausted) throw tooMuchMatching(facts);
          return hit;
        });
        if (ds.length) found = `modalias ${want.join('|')} (${devices(ds)})`;
        break;
      }
      case 'gpu-vendor': {
        const ids = want.flatMap((v) => GPU_VENDOR_IDS[v] ?? [v.toLowerCase()]);
        const ds = facts.pci.gpu.filter((d) => ids.includes(d.vendor));
        if (ds.length) found = `gpu-vendor ${want.join('|')} (${devices(ds)})`;
        break;
      }
      case 'cpu-vendor':
        if (want.includes(facts.cpu.vendor)) found = `cpu-vendor ${facts.cpu.vendor}`;
        break;
      case 'cpu-flag': {
        const flags = want.filter((f) => (facts.cpu.flags as string[]).includes(f));
        if (flags.length) found = `cpu-flag ${flags.join(',')}`;
        break;
      }
      case 'virtualization': {
        const t = facts.virtualization.type;
        if (want.includes(t) || (want.includes('vm') && t !== 'none')) found = `virtualization ${t}`;
        break;
      }
      case 'firmware':
        if (want.includes(facts.firmware)) found = `firmware ${facts.firmware}`;
        break;
      case 'storage': {
        const kinds = want.filter((k) => (facts.storage.kinds as string[]).includes(k));
        if (kinds.length) found = `storage ${kinds.join(',')}`;
        break;
      }
      case 'driver': {
        const ds = allPciDevices(facts).filter((d) => d.driver !== null && want.some((w) => sameDriver(w, d.driver!)));
        if (ds.length) found = `driver ${want.join('|')} (${devices(ds)})`;
        break;
      }
    }
    if (found === undefined) return undefined;
    reasons.push(found);
  }
  return reasons;
}

/** Ordered, de-duplicated entries: the first reason for a name is kept. */
class Entries<E extends Entry> {
  private readonly byName = new Map<string, E>();
  add(entry: E): void {
    if (!this.byName.has(entry.name)) this.byName.set(entry.name, { ...entry, because: brief(entry.because) });
  }
  get values(): E[] {
    return [...this.byName.values()];
  }
}

export function makePlan(loaded: LoadedPolicy, facts: Facts | null): Plan {
  const { policy } = loaded;
  const anyHardware = facts === null;
  const deferred: Plan['deferred'] = [];
  // One budget for the whole plan: the globs × devices of every rule together.
  const budget = new GlobBudget(GLOB_STEPS);

  const planSection = (name: Section, deferIfUnknown: boolean): Entry[] => {
    const spec = policy[name];
    const entries = new Entries<Entry>();
    for (const item of spec.always) entries.add({ name: item, because: 'always' });
    for (const rule of spec.when) {
      if (anyHardware) {
        if (deferIfUnknown) deferred.push({ section: name, items: rule.add, when: brief(describeMatch(rule.match)) });
        else
          for (const item of rule.add)
            entries.add({ name: item, because: `any hardware: when ${describeMatch(rule.match)}` });
        continue;
      }
      const reasons = evaluateMatch(rule.match, facts, budget);
      if (reasons) for (const item of rule.add) entries.add({ name: item, because: reasons.join('; ') });
    }
    return entries.values;
  };

  const allowed = new Set<Component>(policy['allow-components']);
  const packages = new Entries<Plan['packages'][number]>();
  const skipped: Plan['skipped'] = [];
  const addPackages = (names: string[], component: Component, because: string) => {
    if (allowed.has(component)) for (const name of names) packages.add({ name, component, because });
    else
      skipped.push({
        packages: names,
        component,
        because: `${brief(because)} (component ${component} not in allow-components)`,
      });
  };
  if (policy.enabled) addPackages(['nodejs'], 'main', 'enabled: hwdetect runs at boot');
  for (const rule of policy.packages) {
    // The isenkram-style top-level modalias and the match must both hold.
    const conditions: Match[] = [
      ...(rule.modalias === undefined ? [] : [{ modalias: rule.modalias }]),
      ...(rule.match ? [rule.match] : []),
    ];
    if (conditions.length === 0) {
      addPackages(rule.packages, rule.component, 'always');
    } else if (anyHardware) {
      addPackages(rule.packages, rule.component, `any hardware: when ${conditions.map(describeMatch).join(' and ')}`);
    } else {
      const reasons = conditions.map((m) => evaluateMatch(m, facts, budget));
      if (reasons.every((r) => r !== undefined)) addPackages(rule.packages, rule.component, reasons.flat().join('; '));
    }
  }

  const pkgs = packages.values;
  return {
    version: PLAN_VERSION,
    policy: { name: loaded.name, spec: policy },
    target: anyHardware ? 'any-hardware' : 'machine',
    enabled: policy.enabled,
    kernelArgs: planSection('kernel-args', true),
    modules: planSection('modules', true),
    initramfsDrivers: planSection('initramfs-drivers', false),
    packages: pkgs,
    components: COMPONENTS.filter((c) => pkgs.some((p) => p.component === c)),
    skipped,
    deferred,
  };
}
