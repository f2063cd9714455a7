/** The package manifest of a tree, read from its dpkg status file. */
export interface PackageEntry {
  name: string;
  version: string;
  architecture: string;
  source: string;
  sourceVersion: string;
  installedSizeKiB: number;
}

/** Parse a dpkg status file (deb822 stanzas) into installed packages, sorted by name. */
export function parseDpkgStatus(text: string): PackageEntry[] {
  const out: PackageEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      else {
        const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
        if (m) fields.set((last = m[1]!.toLowerCase()), m[2]!);
      }
    }
    const name = fields.get('package');
    const status = fields.get('status') ?? '';
    if (!name || !/ installed$/.test(status)) continue;
    const version = fields.get('version') ?? '';
    // Source: name [(version)] when it differs from the binary's.
    const src = /^(\S+)(?:\s+\(([^)]+)\))?$/.exec(fields.get('source') ?? '');
    out.push({
      name,
      version,
      architecture: fields.get('architecture') ?? '',
      source: src?.[1] ?? name,
      sourceVersion: src?.[2] ?? version,
      installedSizeKiB: Number(fields.get('installed-size') ?? 0),
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
