/**
 * buildRootfs: mmdebstrap into a temp sibling of --output (or, with --incremental, a copy of the
 * cached tree plus the added packages), apply the treefile, then swap it in. A failure or
 * interrupt leaves --output exactly as it was.
 */
import { mkdir, rm, writeFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { atomicReplaceDir, onInterrupt, run, ToolError, type Progress } from '@debian-atomic/lib';
import type { ResolvedTreefile } from '@debian-atomic/treefile-lint';
import { applyTreefile } from './apply.js';
import { explainMmdebstrapFailure } from './errors.js';
import { copyTree, findTree, hostInputs, reuseOf, saveTree, treeKey } from './incremental.js';
import { excludePreferences, mmdebstrapArgs, packageSet } from './mmdebstrap.js';
import { aptInstallInTree } from './tree-apt.js';

export interface BuildResult {
  output: string;
  ref: string;
  suite: string;
  architecture: string;
  packages: number;
  requested: number;
  installedSizeKiB: number;
  kernel: string | null;
  /** With --incremental: whether the cached tree was used, what was added to it, or why not. */
  incremental?: IncrementalResult;
  seconds: number;
}

export interface IncrementalOptions {
  /** Where the cached trees live (DEBIAN_ATOMIC_CACHE/trees). */
  trees: string;
  /** The one line that says why the cached tree is not used (stderr). */
  note: (message: string) => void;
}

export interface IncrementalResult {
  reused: boolean;
  key: string;
  added: string[];
  reason?: string;
}

/** mmdebstrap of the treefile's packages into tmp (which it creates). */
async function mmdebstrapTree(
  tf: ResolvedTreefile,
  tmp: string,
  cache: string,
  progress: Progress | undefined,
  allowExpired: boolean,
): Promise<void> {
  // mmdebstrap wants to create the target itself (or find it empty).
  await rm(tmp, { recursive: true, force: true });
  const prefs = excludePreferences(tf);
  const prefsFile = prefs ? `${tmp}.prefs` : null;
  if (prefsFile) await writeFile(prefsFile, prefs);
  try {
    const { args, packages } = mmdebstrapArgs(tf, tmp, resolve(cache), prefsFile, allowExpired);
    progress?.step(`mmdebstrap ${tf.suite} (${packages.length} packages requested)`);
    await run('mmdebstrap', args, {
      providedBy: 'mmdebstrap',
      what: `build ${tf.ref}`,
      env: { ...process.env, SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH },
    }).catch((err: unknown) => {
      throw err instanceof ToolError ? explainMmdebstrapFailure(err.output ?? err.detail ?? '', tf, err) : err;
    });
  } finally {
    if (prefsFile) await rm(prefsFile, { force: true });
  }
}

/**
 * The cached tree of these inputs plus the added packages, or, when it cannot be used, mmdebstrap's
 * tree (then kept as the cached tree). A failure on the cached path falls back to mmdebstrap:
 * its error is the one a cold build gives.
 */
async function incrementalTree(
  tf: ResolvedTreefile,
  tmp: string,
  cache: string,
  packages: string[],
  inc: IncrementalOptions,
  progress: Progress | undefined,
  allowExpired: boolean,
): Promise<IncrementalResult> {
  const key = treeKey(tf, { allowExpired, ...(await hostInputs(tf)) });
  const cached = await findTree(inc.trees, key);
  const reuse = reuseOf(cached, packages);
  let reason: string;
  if (reuse.reuse) {
    try {
      progress?.step(`copying the cached tree ${key.slice(0, 12)}`);
      await rm(tmp, { recursive: true, force: true });
      await copyTree(cached!.dir, tmp);
      if (reuse.added.length) {
        progress?.step(`apt-get install ${reuse.added.join(' ')}`);
        await aptInstallInTree(tmp, tf, reuse.added, { cache: resolve(cache), allowExpired });
      }
      return { reused: true, key, added: reuse.added };
    } catch (err) {
      // Ctrl-C is not a reason to build another way: the run ends.
      if (err instanceof ToolError && err.code === 'interrupted') throw err;
      reason = `the cached tree could not be used: ${(err as { summary?: string }).summary ?? String(err)}`;
    }
  } else reason = reuse.reason;
  inc.note(`incremental: ${reason}; building with mmdebstrap`);
  await mmdebstrapTree(tf, tmp, cache, progress, allowExpired);
  progress?.step('keeping the tree for --incremental');
  await saveTree(inc.trees, key, tmp, packages).catch((err: unknown) =>
    inc.note(`incremental: the tree was not kept: ${(err as { summary?: string }).summary ?? String(err)}`),
  );
  return { reused: false, key, added: [], reason };
}

export async function buildRootfs(
  tf: ResolvedTreefile,
  output: string,
  cache: string,
  progress?: Progress,
  allowExpired = false,
  incremental?: IncrementalOptions,
): Promise<BuildResult> {
  const started = Date.now();
  const out = resolve(output);
  await mkdir(cache, { recursive: true });
  let result: Omit<BuildResult, 'seconds' | 'incremental'> | undefined;
  let used: IncrementalResult | undefined;
  await atomicReplaceDir(out, async (tmp) => {
    const cleanup = onInterrupt(() => rm(tmp, { recursive: true, force: true }));
    try {
      const packages = packageSet(tf);
      if (incremental) used = await incrementalTree(tf, tmp, cache, packages, incremental, progress, allowExpired);
      else await mmdebstrapTree(tf, tmp, cache, progress, allowExpired);
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
      cleanup();
    }
  });
  return { ...result!, ...(used ? { incremental: used } : {}), seconds: Math.round((Date.now() - started) / 100) / 10 };
}
