/**
 * Everything rootfs reads from the user, checked before any build work: the treefile (a bounded
 * regular file, or bounded stdin), the files it names (add-files sources, the postprocess script,
 * the repos' keyrings: regular files of a sane size, so none can hang the build on a FIFO or feed
 * it /dev/zero), and the --output and --cache directories. Problems are input errors (exit 2)
 * naming the file, found in seconds instead of after mmdebstrap's minutes.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileKind, inputError, READ_LIMITS, readBoundedFile, readBoundedText, usageError } from '@debian-atomic/lib';
import { LIMITS, parseResolvedTreefile, type ResolvedTreefile } from '@debian-atomic/treefile-lint';

/** A resolved treefile is a few KB; the same bound as every config file. */
export const TREEFILE_MAX_BYTES = READ_LIMITS.config;
/** An add-files source is copied into the image: a binary or a data file, not a disk image. */
export const ADD_FILE_MAX_BYTES = READ_LIMITS.large;
/** An OpenPGP keyring (debian-archive-keyring.gpg is some 100 KB). */
export const KEYRING_MAX_BYTES = READ_LIMITS.config;

/** Standard input, at most maxBytes (a pipe that never ends is refused once past the bound). */
export async function readBoundedStdin(
  maxBytes: number,
  input: AsyncIterable<Buffer | string> = process.stdin,
): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += buf.length;
    if (total > maxBytes)
      throw inputError(`-: standard input larger than ${maxBytes} bytes, refusing to read it`, {
        hint: 'give the output of treefile-lint --resolve',
      });
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/** The resolved treefile from a file or '-' (stdin), parsed and validated. */
export async function readTreefileInput(
  file: string,
  stdin?: AsyncIterable<Buffer | string>,
): Promise<ResolvedTreefile> {
  const text =
    file === '-'
      ? await readBoundedStdin(TREEFILE_MAX_BYTES, stdin)
      : await readBoundedText(file, { maxBytes: TREEFILE_MAX_BYTES, what: 'treefile' });
  return parseResolvedTreefile(text, file);
}

/** A regular file of at most maxBytes, without reading it (the copy reads it, bounded, later). */
async function checkRegularFile(file: string, maxBytes: number, what: string): Promise<string | null> {
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error)
    return `${file}: cannot read ${what}: ${st.code === 'ENOENT' ? 'no such file' : String(st.code ?? st.message)}`;
  if (!st.isFile()) return `${file}: cannot read ${what}: ${fileKind(st)}, expected a regular file`;
  if (st.size > maxBytes) return `${file}: ${what} larger than ${maxBytes} bytes, refusing to read it`;
  return null;
}

/** Read what the bounded readers can read now; collect the message of each failure. */
async function problemOf(read: Promise<unknown>): Promise<string | null> {
  try {
    await read;
    return null;
  } catch (err) {
    return (err as { summary?: string }).summary ?? String(err);
  }
}

/** Every file the treefile names, checked before the build: all problems in one error. */
export async function checkTreefileInputs(tf: ResolvedTreefile): Promise<void> {
  const checks: Promise<string | null>[] = [];
  for (const [src] of tf['add-files'] ?? []) checks.push(checkRegularFile(src, ADD_FILE_MAX_BYTES, 'add-files source'));
  if (tf['postprocess-script'])
    checks.push(
      problemOf(readBoundedText(tf['postprocess-script'], { maxBytes: LIMITS.script, what: 'postprocess-script' })),
    );
  for (const repo of tf.repos)
    if (repo.keyring)
      checks.push(
        problemOf(readBoundedFile(repo.keyring, { maxBytes: KEYRING_MAX_BYTES, what: `keyring of ${repo.mirror}` })),
      );
  const problems = [...new Set((await Promise.all(checks)).filter((p): p is string => p !== null))];
  if (problems.length) throw inputError(problems[0]!, { detail: problems.slice(1).join('\n') || undefined });
}

/** --output is a directory to replace (never /, never a file); --cache and --trees directories, not in --output. */
export async function checkOutputs(output: string, cache: string, trees?: string): Promise<void> {
  const out = resolve(output);
  if (out === dirname(out)) throw usageError(`--output ${output}: refusing to replace the root directory`);
  const st = await stat(out).catch(() => null);
  if (st && !st.isDirectory()) throw usageError(`--output ${output}: exists and is not a directory`);
  const cst = await stat(cache).catch(() => null);
  if (cst && !cst.isDirectory()) throw usageError(`--cache ${cache}: exists and is not a directory`);
  if (trees !== undefined) {
    const tst = await stat(trees).catch(() => null);
    if (tst && !tst.isDirectory()) throw usageError(`--trees ${trees}: exists and is not a directory`);
    const t = resolve(trees);
    if (t === out || t.startsWith(`${out}/`))
      throw usageError(`--trees ${trees}: inside --output ${output}, which each build replaces`);
  }
}
