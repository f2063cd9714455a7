/**
 * `hwdetect plan --treefile resolved.json --output-treefile treefile.json -o plan.json`: the
 * image build's hwdetect step. A treefile without hwdetect-policy plans nothing: its treefile is
 * the resolved one, byte for byte, and a stale plan is removed. Outputs are rewritten only when
 * their bytes change, so make rebuilds only what changed; a changed plan (kernel arguments,
 * modules...) also dates the treefile, on which make keys the tree.
 */
import { rm, utimes } from 'node:fs/promises';
import {
  canonicalJson,
  inputError,
  READ_LIMITS,
  readBoundedText,
  usageError,
  warn,
  writeFileIfChanged,
} from '@debian-atomic/lib';
import { parseResolvedTreefile } from '@debian-atomic/treefile-lint';
import type { Io } from '@debian-atomic/lib';
import { DOCUMENT_LIMITS } from './input.js';
import { TOOL } from './main.js';
import { writeFailure } from './output.js';
import { makePlan } from './plan.js';
import { loadPolicy } from './policy.js';
import { mergePlanIntoTreefile } from './treefile.js';

export interface PlanTreefileArgs {
  quiet: boolean;
  treefile: string;
  outputTreefile?: string;
  output?: string;
}

async function write(file: string, text: string): Promise<boolean> {
  try {
    return await writeFileIfChanged(file, text);
  } catch (err) {
    throw writeFailure(file, err);
  }
}

export async function planTreefileCommand(a: PlanTreefileArgs, io: Io): Promise<number> {
  if (a.outputTreefile === undefined || a.output === undefined)
    throw usageError('--treefile needs --output-treefile FILE and -o FILE (the plan)', `see '${TOOL} plan --help'`);
  if (a.treefile === '-') throw usageError('--treefile -: give a file (its bytes are copied when there is no policy)');
  const text = await readBoundedText(a.treefile, { maxBytes: READ_LIMITS.config, what: 'resolved treefile' });
  const tf = parseResolvedTreefile(text, a.treefile);
  const policy = tf['hwdetect-policy'];
  if (policy === undefined) {
    await rm(a.output, { force: true });
    await write(a.outputTreefile, text);
    return 0;
  }
  const plan = makePlan(await loadPolicy(policy, io.stdin), null);
  for (const s of plan.skipped) warn(TOOL, `not installing ${s.packages.join(' ')}: ${s.because}`, a.quiet);
  const planText = canonicalJson(plan);
  if (Buffer.byteLength(planText) > DOCUMENT_LIMITS.plan)
    throw inputError(
      `${policy}: the plan would be larger than ${DOCUMENT_LIMITS.plan} bytes, more than 'hwdetect apply --plan' reads`,
    );
  const planChanged = await write(a.output, planText);
  const treefileChanged = await write(a.outputTreefile, canonicalJson(mergePlanIntoTreefile(tf, plan)));
  if (planChanged && !treefileChanged) {
    const now = new Date();
    await utimes(a.outputTreefile, now, now);
  }
  return 0;
}
