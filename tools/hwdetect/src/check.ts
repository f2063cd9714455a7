/**
 * The boot-time check (hwdetect.service): probe the booted machine, plan for it,
 * keep both under /run/hwdetect, and report kernel arguments that differ from
 * the plan with the command that would apply them. It never changes anything.
 */
import { join } from 'node:path';
import { atomicWriteFile, canonicalJson } from '@debian-atomic/lib';
import { diffKargs, kargsCommands, type KargsDiff } from './kargs.js';
import { makePlan, type Plan } from './plan.js';
import type { LoadedPolicy } from './policy.js';
import { probe, type ProbeOptions } from './probe.js';

export interface CheckReport {
  policy: string;
  /** The kernel arguments the plan wants, all of them. */
  wanted: string[];
  missing: KargsDiff['missing'];
  conflicting: KargsDiff['conflicting'];
  /** Run these (as root) to apply the difference; nothing is run for you. */
  commands: string[];
}

export interface CheckResult {
  report: CheckReport;
  plan: Plan;
  warnings: string[];
  /** Human lines for the journal. */
  messages: string[];
}

export function checkKargs(plan: Plan, cmdline: readonly string[]): CheckReport {
  const wanted = plan.kernelArgs.map((e) => e.name);
  const diff = diffKargs(wanted, cmdline);
  return { policy: plan.policy.name, wanted, ...diff, commands: kargsCommands(diff) };
}

export async function bootCheck(
  loaded: LoadedPolicy,
  stateDir: string | undefined,
  opts: ProbeOptions = {},
): Promise<CheckResult> {
  const { facts, warnings } = probe(opts);
  const plan = makePlan(loaded, facts);
  const report = checkKargs(plan, facts.kernel.cmdline);
  if (stateDir !== undefined) {
    await atomicWriteFile(join(stateDir, 'facts.json'), canonicalJson(facts));
    await atomicWriteFile(join(stateDir, 'plan.json'), canonicalJson(plan));
    await atomicWriteFile(join(stateDir, 'report.json'), canonicalJson(report));
  }
  const messages: string[] = [];
  if (report.missing.length)
    messages.push(`kernel arguments missing (policy ${report.policy}): ${report.missing.join(' ')}`);
  for (const c of report.conflicting)
    messages.push(`kernel argument ${c.want} wanted (policy ${report.policy}), booted with ${c.have.join(' ')}`);
  if (report.commands.length) messages.push(`to apply, run: ${report.commands.join(' && ')}`);
  return { report, plan, warnings, messages };
}
