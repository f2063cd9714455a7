/** The real ostree CLI (trixie's, from the toolbox on older hosts), with the paths it touches bound in. */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { toolboxRun, type RunResult } from '@debian-atomic/lib';

export class Ostree {
  constructor(
    readonly repo: string,
    private readonly binds: string[] = [],
  ) {}

  async run(args: string[], what?: string, extraBinds: string[] = []): Promise<RunResult> {
    return toolboxRun('ostree', [`--repo=${this.repo}`, ...args], {
      binds: [this.repo, ...this.binds, ...extraBinds],
      providedBy: 'ostree',
      what,
    });
  }

  /**
   * Create the repository unless it exists. A new archive repository gets zlibLevel as its
   * archive.zlib-level: at ostree's default 6 most of a commit's time is zlib (base: 35 s against
   * 17 s at 1, for 4 % larger objects). An existing repository's setting is its owner's.
   */
  async ensureRepo(mode: string, zlibLevel?: number): Promise<boolean> {
    await mkdir(this.repo, { recursive: true });
    const exists = await this.run(['config', 'get', 'core.mode']).then(
      (r) => r.stdout.trim(),
      () => null,
    );
    if (exists !== null) return false;
    await this.run(['init', `--mode=${mode}`], 'create the repository');
    if (zlibLevel !== undefined && mode === 'archive')
      // A repository left at another level would keep it: this run made it, this run takes it back.
      await this.run(['config', 'set', 'archive.zlib-level', String(zlibLevel)], 'set the compression level').catch(
        async (err: unknown) => {
          for (const name of ['config', 'objects', 'refs', 'state', 'tmp', 'extensions'])
            await rm(join(this.repo, name), { recursive: true, force: true });
          throw err;
        },
      );
    return true;
  }

  /** The feature list `ostree --version` prints (sign-ed25519, gpgme, ...). */
  async features(): Promise<string[]> {
    const out = (await toolboxRun('ostree', ['--version'], { providedBy: 'ostree' })).stdout;
    return [...out.matchAll(/^\s+- (\S+)$/gm)].map((m) => m[1]!);
  }

  async mode(): Promise<string> {
    const mode = (await this.run(['config', 'get', 'core.mode'])).stdout.trim();
    return mode === 'archive-z2' ? 'archive' : mode;
  }

  /** The commit a ref points at, or null. */
  async revParse(ref: string): Promise<string | null> {
    return this.run(['rev-parse', ref]).then(
      (r) => r.stdout.trim(),
      () => null,
    );
  }

  /** A string metadata key of a commit (GVariant text form 'x' unquoted), or null. */
  async metadataString(commit: string, key: string): Promise<string | null> {
    const r = await this.run(['show', `--print-metadata-key=${key}`, commit]).catch(() => null);
    if (!r) return null;
    const m = /^'(.*)'$/.exec(r.stdout.trim());
    return m ? m[1]! : r.stdout.trim();
  }
}
