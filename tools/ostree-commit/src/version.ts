/**
 * rpm-ostree's automatic-version-prefix: <prefix>.<YYYYMMDD>.<n>, n counting up
 * from 0 for commits of the same day after the same prefix.
 */
export function dateStamp(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
}

export function nextVersion(prefix: string, epochSeconds: number, previous: string | null): string {
  const base = `${prefix}.${dateStamp(epochSeconds)}`;
  if (previous?.startsWith(`${base}.`)) {
    const n = Number(previous.slice(base.length + 1));
    if (Number.isInteger(n) && n >= 0) return `${base}.${n + 1}`;
  }
  return `${base}.0`;
}
