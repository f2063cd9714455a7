/**
 * Checks of the command line before any work: --output, --live-ref and --live-repo as disk-image
 * checks its own, --label (the ISO's volume ID, which the kernel command line names), --oci.
 * Each failure is a usage error (exit 2).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ToolError, usageError } from '@debian-atomic/lib';

import { checkRef } from '@debian-atomic/disk-image';
export { checkOutput, checkRepo } from '@debian-atomic/disk-image';

/** disk-image's check of an ostree ref, its message naming this tool's option. */
export function checkLiveRef(ref: string): void {
  try {
    checkRef(ref);
  } catch (err) {
    if (err instanceof ToolError) throw usageError(err.summary.replace(/^--ref /, '--live-ref '), err.hint);
    throw err;
  }
}

/** ISO 9660 allows 32 characters; the label goes on the kernel command line (root=live:CDLABEL=…) and into /dev/disk/by-label. */
const LABEL = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;
export const DEFAULT_LABEL = 'DEBIAN_ATOMIC';

export function checkLabel(label: string): void {
  if (!LABEL.test(label))
    throw usageError(
      `--label ${JSON.stringify(label.length > 40 ? `${label.slice(0, 40)}…` : label)}: not a volume label (1 to 32 letters, digits, "_", "." or "-", not starting with "." or "-")`,
      'e.g. --label DEBIAN_ATOMIC',
    );
}

/** --oci: an OCI layout directory (its index.json there); the image itself is read by oci-wrap's readImage. */
export async function checkLayout(dir: string, given: string): Promise<void> {
  const index = await stat(join(dir, 'index.json')).catch(() => null);
  if (!index?.isFile())
    throw usageError(
      `--oci ${given}: ${dir} is not an OCI layout (no index.json)`,
      'make oci writes one: build/<variant>/oci',
    );
}
