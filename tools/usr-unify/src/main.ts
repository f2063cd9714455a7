/** The command line of usr-unify: plan, report, apply. Returns the exit code (1: conflicts, or --check found changes). */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { cli, type Io, Progress, usageError, warn, writeJson } from '@debian-atomic/lib';
import { applyPlan } from './apply.js';
import { planUsrUnify, type Check, type Plan } from './plan.js';
import { initramfsArgs } from './treefile.js';

export const TOOL = 'usr-unify';

function summarize(plan: Plan, examples: number) {
  const byCheck: Partial<Record<Check, { count: number; examples: string[] }>> = {};
  for (const a of plan.actions) {
    const entry = (byCheck[a.check] ??= { count: 0, examples: [] });
    entry.count++;
    const what =
      a.op === 'move'
        ? `move /${a.from} -> /${a.to}`
        : a.op === 'symlink'
          ? `link /${a.path} -> ${a.target}`
          : a.op === 'dracut'
            ? `dracut ${a.args.join(' ')} /${a.output}`
            : `${a.op} /${a.path}`;
    if (entry.examples.length < examples) entry.examples.push(what);
  }
  return byCheck;
}

export async function main(argv: string[], io: Io = process): Promise<number> {
  const args = await cli(
    TOOL,
    `$0 [--check] DIR\n\nMake a Debian root filesystem OSTree-ready: merged /usr, kernel and a dracut\ninitramfs (with the ostree module) in /usr/lib/modules/$KVER, /etc in /usr/etc,\n/var turned into tmpfiles.d entries, the dpkg database in /usr/lib/sysimage/dpkg,\nsysusers.d for system accounts, /home and friends as links into /var.\nEvery change is planned first; a plan with a conflict changes nothing.`,
    argv,
  )
    .option('check', {
      type: 'boolean',
      default: false,
      describe: 'Report what would change (JSON) without changing anything; exit 1 if anything would',
    })
    .option('rebuild-initramfs', {
      type: 'boolean',
      default: false,
      describe: 'Run dracut even if /usr/lib/modules/$KVER/initramfs.img exists',
    })
    .option('examples', { type: 'number', default: 5, describe: 'Example actions listed per check in the JSON' })
    .demandCommand(1, 1, 'DIR is required', 'exactly one DIR')
    .example('$0 build/base/rootfs', 'transform the tree in place')
    .example('$0 --check build/base/rootfs', 'lint a tree like `bootc container lint`')
    .parseAsync();
  const root = resolve(String(args._[0]));
  const st = await stat(root).catch(() => null);
  if (!st?.isDirectory()) throw usageError(`${root}: not a directory`);
  const progress = new Progress(TOOL, { quiet: args.quiet });
  progress.step('planning');
  const plan = await planUsrUnify(root, {
    initramfsArgs: await initramfsArgs(root),
    rebuildInitramfs: args['rebuild-initramfs'],
  });
  for (const w of plan.warnings) warn(TOOL, w, args.quiet);
  const report = {
    root,
    kernel: plan.kernel,
    conflicts: plan.conflicts,
    changes: summarize(plan, args.examples),
    actions: plan.actions.length,
    warnings: plan.warnings,
  };
  if (plan.conflicts.length) {
    for (const c of plan.conflicts) io.stderr.write(`${TOOL}: ${c.path}: ${c.message}\n`);
    writeJson({ ...report, ok: false, applied: false }, io.stdout);
    io.stderr.write(`${TOOL}: ${plan.conflicts.length} conflict(s): nothing was changed\n`);
    return 1;
  }
  if (args.check) {
    writeJson({ ...report, ok: plan.actions.length === 0, applied: false }, io.stdout);
    return plan.actions.length === 0 ? 0 : 1;
  }
  progress.step(`applying ${plan.actions.length} actions`);
  await applyPlan(root, plan, progress);
  writeJson({ ...report, ok: true, applied: true }, io.stdout);
  return 0;
}
