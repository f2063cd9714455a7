/** The subcommands: read inputs, call the library, write JSON on stdout, warnings on stderr. */
import { stat } from 'node:fs/promises';
import { canonicalJson, inputError, installDebs, type Io, usageError, warn, writeJson } from '@debian-atomic/lib';
import { z } from 'zod';
import { applyPlan, type ApplyResult } from './apply.js';
import { bootCheck } from './check.js';
import { FactsSchema, type Facts } from './facts.js';
import { DOCUMENT_LIMITS, loadDocument } from './input.js';
import { LIST_CHOICES, TOOL } from './main.js';
import { makePlan, PlanSchema, type Plan } from './plan.js';
import { checkOutputFile, checkStateDir, writeFailure, writeOutputFile } from './output.js';
import { loadPolicy, policyJsonSchema } from './policy.js';
import { probe } from './probe.js';

interface Common {
  quiet: boolean;
}
interface Roots {
  sysfs: string;
  proc: string;
}

/** Write facts or a plan, never one that hwdetect would refuse to read back. */
export async function emit(value: unknown, what: 'facts' | 'plan', output: string | undefined, io: Io): Promise<void> {
  const text = canonicalJson(value);
  if (Buffer.byteLength(text) > DOCUMENT_LIMITS[what]) {
    throw inputError(
      `the ${what} would be larger than ${DOCUMENT_LIMITS[what]} bytes, more than 'hwdetect ${what === 'facts' ? 'plan --facts' : 'apply --plan'}' reads`,
      {
        hint:
          what === 'facts'
            ? 'is --sysfs a real sysfs, or a capture of one?'
            : 'a policy needs a few dozen rules; is this the policy you meant?',
      },
    );
  }
  if (output) await writeOutputFile(output, text);
  else io.stdout.write(text);
}

function probeWithWarnings(a: Common & Roots): Facts {
  const { facts, warnings } = probe({ sysfs: a.sysfs, proc: a.proc });
  for (const w of warnings) warn(TOOL, w, a.quiet);
  return facts;
}

export async function probeCommand(a: Common & Roots & { output?: string }, io: Io): Promise<number> {
  await checkOutputFile(a.output);
  await emit(probeWithWarnings(a), 'facts', a.output, io);
  return 0;
}

export function listPlan(plan: Plan, what: (typeof LIST_CHOICES)[number]): string[] {
  switch (what) {
    case 'kernel-args':
      return plan.kernelArgs.map((e) => e.name);
    case 'modules':
      return plan.modules.map((e) => e.name);
    case 'initramfs-drivers':
      return plan.initramfsDrivers.map((e) => e.name);
    case 'packages':
      return plan.packages.map((e) => e.name);
    case 'components':
      return plan.components;
  }
}

export async function planCommand(
  a: Common &
    Roots & {
      policy?: string;
      facts?: string;
      anyHardware?: boolean;
      list?: (typeof LIST_CHOICES)[number];
      output?: string;
      treefile?: string;
      outputTreefile?: string;
    },
  io: Io,
): Promise<number> {
  if (a.treefile !== undefined)
    return (await import('./build-step.js')).planTreefileCommand({ ...a, treefile: a.treefile }, io);
  if (a.policy === undefined)
    throw usageError('Missing required argument: policy (or --treefile)', `see '${TOOL} plan --help'`);
  if (a.policy === '-' && a.facts === '-') throw usageError('--policy and --facts cannot both be read from stdin');
  await checkOutputFile(a.output);
  const loaded = await loadPolicy(a.policy, io.stdin);
  const facts = a.anyHardware
    ? null
    : a.facts !== undefined
      ? await loadDocument(a.facts, FactsSchema, 'facts', io.stdin, DOCUMENT_LIMITS.facts)
      : probeWithWarnings(a);
  const plan = makePlan(loaded, facts);
  for (const s of plan.skipped) warn(TOOL, `not installing ${s.packages.join(' ')}: ${s.because}`, a.quiet);
  if (a.list) {
    const lines = listPlan(plan, a.list)
      .map((l) => `${l}\n`)
      .join('');
    if (a.output) await writeOutputFile(a.output, lines);
    else io.stdout.write(lines);
  } else await emit(plan, 'plan', a.output, io);
  return 0;
}

export async function applyCommand(
  a: Common & { plan: string; root: string; installSelf?: boolean; installDeb?: string; ifPlanned?: boolean },
  io: Io,
): Promise<number> {
  const isDir = await stat(a.root).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (a.ifPlanned && a.plan !== '-' && !(await stat(a.plan).catch(() => null))) {
    if (!isDir) throw inputError(`--root ${a.root}: not a directory`);
    writeJson({ written: [], unchanged: [], removed: [] } satisfies ApplyResult, io.stdout);
    return 0;
  }
  const plan = await loadDocument(a.plan, PlanSchema, 'plan', io.stdin, DOCUMENT_LIMITS.plan);
  if (!isDir) throw inputError(`--root ${a.root}: not a directory`);
  // The package's files and its dpkg record, before applyPlan checks that they are there.
  const installed =
    a.installDeb !== undefined && plan.enabled ? (await installDebs(a.root, [a.installDeb])).installed : undefined;
  let result;
  try {
    result = await applyPlan(plan, a.root, { installSelf: a.installSelf ?? false });
  } catch (err) {
    throw writeFailure(`--root ${a.root}`, err, 1);
  }
  writeJson(installed ? { ...result, installed } : result, io.stdout);
  return 0;
}

export async function checkCommand(a: Common & Roots & { policy: string; stateDir: string }, io: Io): Promise<number> {
  await checkStateDir(a.stateDir);
  const loaded = await loadPolicy(a.policy, io.stdin);
  let result;
  try {
    result = await bootCheck(loaded, a.stateDir, { sysfs: a.sysfs, proc: a.proc });
  } catch (err) {
    throw writeFailure(`--state-dir ${a.stateDir}`, err);
  }
  const { report, warnings, messages } = result;
  for (const w of warnings) warn(TOOL, w, a.quiet);
  // The difference is the point of the check: always said, --quiet or not.
  for (const m of messages) process.stderr.write(`${TOOL}: ${m}\n`);
  writeJson(report, io.stdout);
  return report.missing.length + report.conflicting.length > 0 ? 1 : 0;
}

export async function schemaCommand(a: { document: 'policy' | 'facts' | 'plan' }, io: Io): Promise<number> {
  const schema =
    a.document === 'policy'
      ? policyJsonSchema()
      : z.toJSONSchema(a.document === 'facts' ? FactsSchema : PlanSchema, { io: 'output', unrepresentable: 'any' });
  writeJson(schema, io.stdout);
  return 0;
}
