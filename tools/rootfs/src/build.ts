/**
 * buildRootfs: mmdebstrap into a temp sibling of --output, apply the treefile,
 * then swap it in. A failure or interrupt leaves --output exactly as it was.
 */
import { mkdir, rm, writeFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { atomicReplaceDir, onInterrupt, run, ToolError, type Progress } from '@debian-atomic/lib';
import type { ResolvedTreefile } from '@debian-atomic/treefile-lint';
import { applyTreefile } from './apply.js';
import { explainMmdebstrapFailure } from './errors.js';
import { excludePreferences, mmdebstrapArgs } from './mmdebstrap.js';

export interface BuildResult {
  output: string;
  ref: string;
  suite: string;
  architecture: string;
  packages: number;
  requested: number;
  installedSizeKiB: number;
  kernel: string | null;
  seconds: number;
}

export async function buildRootfs(
  tf: ResolvedTreefile,
  output: string,
  cache: string,
  progress?: Progress,
  allowExpired = false,
): Promise<BuildResult> {
  const started = Date.now();
  const out = resolve(output);
  await mkdir(cache, { recursive: true });
  let result: Omit<BuildResult, 'seconds'> | undefined;
  await atomicReplaceDir(out, async (tmp) => {
    const cleanup = onInterrupt(() => rm(tmp, { recursive: true, force: true }));
    // mmdebstrap wants to create the target itself (or find it empty).
    await rm(tmp, { recursive: true, force: true });
    const prefs = excludePreferences(tf);
    const prefsFile = prefs ? `${tmp}.prefs` : null;
    if (prefsFile) await writeFile(prefsFile, prefs);
    try {
      const { args, packages } = mmdebstrapArgs(tf, tmp, resolve(cache), prefsFile, allowExpired);
      progress?.step(`mmdebstrap ${tf.suite} (${packages.length} packages requested)`);
      try {
        await run('mmdebstrap', args, {
          providedBy: 'mmdebstrap',
          what: `build ${tf.ref}`,
          env: { ...process.env, SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH },
        });
      } catch (err) {
        throw err instanceof ToolError ? explainMmdebstrapFailure(err.output ?? err.detail ?? '', tf, err) : err;
      }
      progress?.step('applying the treefile');
      const manifest = await applyTreefile(tmp, tf, progress);
      const kernels = await readdir(join(tmp, 'usr/lib/modules')).catch(() => [] as string[]);
      result = {
        output: out,
        ref: tf.ref,
        suite: tf.suite,
        architecture: tf.architecture,
        packages: manifest.length,
        requested: packages.length,
        installedSizeKiB: manifest.reduce((n, p) => n + p.installedSizeKiB, 0),
        kernel: kernels[0] ?? null,
      };
    } finally {
      if (prefsFile) await rm(prefsFile, { force: true });
      cleanup();
    }
  });
  return { ...result!, seconds: Math.round((Date.now() - started) / 100) / 10 };
}
