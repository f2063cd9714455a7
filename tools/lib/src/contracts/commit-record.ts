/**
 * The record ostree-commit prints (build/<variant>/commit.json): the stages after it take the
 * commit from it (`--commit FILE`) instead of a ref copied out of it in shell.
 */
import { z } from 'zod';
import { inputError, usageError } from '../errors.js';
import { readBoundedText } from '../read.js';

/** What later stages read; ostree-commit's other fields (version, parent, delta...) pass through. */
export const CommitRecordSchema = z.looseObject({
  ref: z.string().min(1),
  commit: z.string().regex(/^[0-9a-f]{64}$/, { error: 'not an ostree commit checksum (64 hex digits)' }),
});
export type CommitRecord = z.infer<typeof CommitRecordSchema>;

export async function readCommitRecord(file: string): Promise<CommitRecord> {
  const text = await readBoundedText(file, { what: 'commit record' });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw inputError(`${file}: not JSON: ${(err as Error).message}`, { hint: "give the output of 'ostree-commit'" });
  }
  const res = CommitRecordSchema.safeParse(value);
  if (!res.success) {
    const issue = res.error.issues[0]!;
    throw inputError(`${file}: invalid commit record: ${issue.path.join('.') || '(top)'}: ${issue.message}`, {
      hint: "give the output of 'ostree-commit'",
    });
  }
  return res.data;
}

/**
 * The ref a stage works on: `--REF_OPTION REF`, or the ref of `--COMMIT_OPTION FILE`; never both.
 * Undefined when neither is given (the caller says which is required).
 */
export async function refOrCommitRecord(
  ref: string | undefined,
  commitFile: string | undefined,
  names = { ref: '--ref', commit: '--commit' },
): Promise<string | undefined> {
  if (ref !== undefined && commitFile !== undefined) throw usageError(`give ${names.ref} or ${names.commit}, not both`);
  return commitFile === undefined ? ref : (await readCommitRecord(commitFile)).ref;
}
