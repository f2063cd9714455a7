/**
 * The image's /var, as a container sees it. An OSTree commit's /var is empty: what the packages put
 * there is recreated at boot by systemd-tmpfiles (usr-unify writes the lines, with files kept in
 * /usr/share/factory/var). A container run from the image never boots, so a Containerfile's
 * `RUN apt-get install` would find no /var/lib/dpkg (the link to the database under /usr), no
 * /var/lib/apt/lists/partial and no /var/tmp. The image therefore presents, beside the commit's own
 * paths, the /var that the first boot makes: the directories and links of the tmpfiles.d lines,
 * and each factory file as a hardlink to its object (tmpfiles' `C`).
 *
 * These entries are presentation only, like /etc for /usr/etc: importing the image reads the
 * objects, so the commit is unchanged; a derived layer's changes to /var are what oci-wrap's
 * derived import turns back into tmpfiles.d lines.
 */
import type { TarHeader } from './tar.js';
import type { TreeFile } from './tree.js';

export const FACTORY_VAR = 'usr/share/factory/var/';
export const TMPFILES_DIR = 'usr/lib/tmpfiles.d/';

/** A directory or symlink the first boot makes under /var. */
export type VarEntry = Pick<TarHeader, 'name' | 'type' | 'mode' | 'uid' | 'gid'> & { linkname?: string };

export interface VarPresentation {
  /** Directories and symlinks, parents first (they go in the first layer). */
  entries: VarEntry[];
  /** `var/X` → the factory file it is copied from. */
  copies: Map<string, TreeFile>;
}

/** tmpfiles.d's unescaping of a path field (`\x20`), and refusal of specifiers (`%h`): those are left out. */
function field(s: string): string | undefined {
  if (s.includes('%')) return undefined;
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function id(name: string | undefined, table: Map<string, number>): number {
  if (name === undefined || name === '-' || name === '') return 0;
  if (/^\d+$/.test(name)) return Number(name);
  return table.get(name) ?? 0;
}

/** A clean relative name under var/, or undefined for anything else (.., //, outside /var). */
function varName(path: string): string | undefined {
  if (!path.startsWith('/var/')) return undefined;
  const rel = path.slice(1).replace(/\/+$/, '');
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return rel;
}

/**
 * The /var a first boot makes, from the commit's tmpfiles.d files (`files`: name → text, as in
 * usr/lib/tmpfiles.d, read in name order, the first line for a path wins as in systemd-tmpfiles),
 * the accounts that own them, and the factory files of the tree.
 */
export function presentVar(
  files: Map<string, string>,
  accounts: { users: Map<string, number>; groups: Map<string, number> },
  tree: TreeFile[],
): VarPresentation {
  const factory = new Map(
    tree.filter((f) => f.path.startsWith(FACTORY_VAR)).map((f) => [f.path.slice(FACTORY_VAR.length), f]),
  );
  const seen = new Set<string>();
  const dirs = new Map<string, VarEntry>();
  const links = new Map<string, VarEntry>();
  const copies = new Map<string, TreeFile>();
  for (const name of [...files.keys()].sort()) {
    for (const raw of files.get(name)!.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const [type, p, mode, user, group, , ...rest] = line.split(/\s+/);
      const path = p === undefined ? undefined : field(p);
      const rel = path === undefined ? undefined : varName(path);
      if (!type || rel === undefined || seen.has(rel)) continue;
      const base = type.replace(/[!+\-=^~]+$/, '');
      if (['d', 'D', 'v', 'q', 'Q'].includes(base)) {
        seen.add(rel);
        const m = mode && /^[0-7]{3,4}$/.test(mode) ? parseInt(mode, 8) : 0o755;
        dirs.set(rel, {
          name: rel,
          type: 'directory',
          mode: m,
          uid: id(user, accounts.users),
          gid: id(group, accounts.groups),
        });
      } else if (base === 'L') {
        const target = rest.length ? field(rest.join(' ')) : undefined;
        if (!target || target === '-') continue;
        seen.add(rel);
        links.set(rel, { name: rel, type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname: target });
      } else if (base === 'C') {
        const source = rest.length ? rest.join(' ') : '-';
        const file = source === '-' ? factory.get(rel.slice('var/'.length)) : undefined;
        if (!file) continue;
        seen.add(rel);
        copies.set(rel, file);
      }
    }
  }
  // A line below a symlink (a /var/run/… after L /var/run): tmpfiles follows the link; the image does not.
  const below = (rel: string) => [...links.keys()].some((l) => rel.startsWith(`${l}/`));
  for (const m of [dirs, links, copies] as Map<string, unknown>[])
    for (const k of [...m.keys()]) if (below(k)) m.delete(k);
  // Every parent of an entry is a directory: 0755 root unless a line says otherwise.
  for (const rel of [...dirs.keys(), ...links.keys(), ...copies.keys()]) {
    const parts = rel.split('/');
    for (let i = 2; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!dirs.has(p) && !links.has(p)) dirs.set(p, { name: p, type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    }
  }
  dirs.delete('var');
  const entries = [...dirs.values(), ...links.values()].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  return { entries, copies };
}
