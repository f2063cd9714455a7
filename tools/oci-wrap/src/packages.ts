/**
 * Which Debian package owns which path of the tree. The dpkg database of an
 * OSTree tree lives in usr/lib/sysimage/dpkg (usr-unify moved it); its *.list
 * files name paths as dpkg installed them, before the /usr merge and /etc move.
 */
export const DPKG_INFO = 'usr/lib/sysimage/dpkg/info/';

const MERGED = ['bin/', 'sbin/', 'lib/', 'lib32/', 'lib64/', 'libx32/'];

/** A dpkg path ("/bin/ls", "/etc/passwd") as the path in the committed tree. */
export function treePath(dpkgPath: string): string {
  const p = dpkgPath.replace(/^\/+/, '').replace(/^\.\//, '');
  if (MERGED.some((d) => p.startsWith(d))) return `usr/${p}`;
  if (p.startsWith('etc/')) return `usr/${p}`;
  return p;
}

/** The package name of an info list file name ("libc6:amd64.list" → "libc6"). */
export function listPackage(fileName: string): string | undefined {
  const m = /^([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\.list$/.exec(fileName);
  return m?.[1];
}

/**
 * Owners from the .list files' contents: path → package. A path listed by two
 * packages (directories, mostly) goes to the first package in name order, so
 * the answer does not depend on reading order.
 */
export function ownersFromLists(lists: ReadonlyMap<string, string>): Map<string, string> {
  const owners = new Map<string, string>();
  for (const pkg of [...lists.keys()].sort()) {
    for (const line of lists.get(pkg)!.split('\n')) {
      if (!line || line === '/.') continue;
      const p = treePath(line);
      if (!owners.has(p)) owners.set(p, pkg);
    }
  }
  return owners;
}
