/** Carry out a conflict-free plan, in order. dracut runs inside the tree (bubblewrap, no network). */
import { chmod, mkdir, rename, rm, rmdir, symlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { atomicWriteFile, sandboxRun, ToolError, type Progress } from '@debian-atomic/lib';
import type { Action, Plan } from './plan.js';

export async function applyPlan(root: string, plan: Plan, progress?: Progress): Promise<void> {
  if (plan.conflicts.length) throw new ToolError('conflict', 'refusing to apply a plan with conflicts');
  const abs = (rel: string) => posix.join(root, rel);
  for (const a of plan.actions) await applyAction(root, abs, a, progress);
}

async function applyAction(root: string, abs: (rel: string) => string, a: Action, progress?: Progress): Promise<void> {
  switch (a.op) {
    case 'move':
      await mkdir(posix.dirname(abs(a.to)), { recursive: true });
      await rename(abs(a.from), abs(a.to));
      return;
    case 'remove':
      await rm(abs(a.path), { recursive: true, force: true });
      return;
    case 'symlink':
      // An emptied directory may still stand where the link goes.
      await rmdir(abs(a.path)).catch(() => undefined);
      await symlink(a.target, abs(a.path));
      return;
    case 'mkdir':
      await mkdir(abs(a.path), { recursive: true });
      await chmod(abs(a.path), a.mode);
      return;
    case 'write':
      await atomicWriteFile(abs(a.path), a.content, a.mode);
      return;
    case 'dracut': {
      progress?.step(`dracut for kernel ${a.kver}`);
      const env: Record<string, string> = {};
      if (process.env.SOURCE_DATE_EPOCH) env.SOURCE_DATE_EPOCH = process.env.SOURCE_DATE_EPOCH;
      await sandboxRun({ root, roBinds: ['/sys'], env }, 'dracut', [...a.args, `/${a.output}`], {
        what: `build the initramfs for ${a.kver} inside ${root}`,
      });
      // dracut writes it 0600; it is no secret, and ostree copies it to /boot.
      await chmod(abs(a.output), 0o644);
      return;
    }
  }
}
