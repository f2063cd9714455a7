/**
 * Derived layers: the filesystem layers a Containerfile adds (`FROM` one of our images, `RUN
 * apt-get install …`) after the image's ostree layers. They become a new commit whose parent is
 * the base commit, as ostree-ext makes it (bootc crates/ostree-ext container/store.rs,
 * write_merge_commit_impl): the base is checked out, each layer is committed on its own from a
 * filtered tar and checked out over it with its whiteouts processed (`ostree checkout --union
 * --whiteouts`: `.wh.NAME` deletes NAME, `.wh..wh..opq` empties its directory), and the merged
 * tree is committed.
 *
 * Each layer's entries are filtered first, as ostree-ext's tar/write.rs normalize_validate_path
 * does in its strict mode: /etc → /usr/etc (hardlink targets too, remap_etc_path); /run, /tmp,
 * /proc, /sys and /dev keep their directory but lose their children; any other top-level name but
 * /usr, /etc and /var (/boot, /opt, /srv, a new one) is dropped and counted (`filtered`).
 *
 * Where ostree-ext copies /var into /usr/share/factory/var (or keeps it for ostree ≥ 2024.3 to
 * copy on the first deployment only), the merged /var is made into what usr-unify makes of a built
 * tree's /var, so a derived commit looks like a built one: directories and symlinks become
 * tmpfiles.d lines, files move to /usr/share/factory/var with a `C` line, regenerable content
 * (logs, caches, apt lists) is dropped. The dpkg database lives in /usr/lib/sysimage/dpkg with
 * /var/lib/dpkg a tmpfiles.d link: a RUN that wrote through the link left it at its /usr path; a
 * layer holding /var/lib/dpkg/… as real paths has them moved there, and its /var/lib/dpkg symlink
 * is dropped (tmpfiles makes it at boot). Accounts: /usr/etc/passwd's homes move to /var/home and
 * the sysusers.d entries are made anew from the merged passwd and group, as usr-unify does, so a
 * system user the Containerfile added is created on a machine whose own /etc/passwd the 3-way
 * /etc merge keeps.
 */
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import {
  DPKG_DB,
  parseGroup,
  parsePasswd,
  rehome,
  SYSUSERS_CONF,
  sysusersConf,
  ToolError,
  VAR_DROP,
} from '@debian-atomic/lib';
import { presentedPath } from './layer.js';
import { ostree } from './tree.js';
import { encodeEntry, END_OF_ARCHIVE, padding, type TarHeader, type TarStreamEntry } from './tar.js';

/** The tmpfiles.d lines of a derived image's /var (beside usr-unify's for the base's). */
export const DERIVED_TMPFILES = 'usr/lib/tmpfiles.d/debian-atomic-derived.conf';
/** ostree-ext's EXCLUDED_TOPLEVEL_PATHS: API file systems, mounted over at boot. */
const API_DIRS = ['run', 'tmp', 'proc', 'sys', 'dev'];
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const VAR_DPKG = 'var/lib/dpkg';

/** Where a layer's (clean, relative) name goes in the commit, or the top-level name it is dropped under. */
export function derivedPath(name: string): { path: string } | { filtered: string } {
  const slash = name.indexOf('/');
  const top = slash === -1 ? name : name.slice(0, slash);
  const rest = slash === -1 ? '' : name.slice(slash);
  if (top === '' || top === 'usr') return { path: name };
  if (top === 'etc') return { path: `usr/etc${rest}` };
  if (name === VAR_DPKG || name.startsWith(`${VAR_DPKG}/`)) return { path: `${DPKG_DB}${name.slice(VAR_DPKG.length)}` };
  if (top === 'var') return { path: name };
  if (API_DIRS.includes(top)) return rest ? { filtered: top } : { path: name };
  return { filtered: top };
}

/** What the filter needs of the image's entry checker (import.ts's EntryChecker). */
export interface PathGuard {
  check(e: { header: TarHeader }): string;
  forget(name: string, below?: boolean): void;
}

function refused(name: string, why: string): ToolError {
  return new ToolError('unsafe-entry', `refusing layer entry ${JSON.stringify(name)}: ${why}`, { exitCode: 2 });
}

/**
 * A derived layer's entries as the tar `ostree commit --tree=tar=` reads: names mapped (see
 * derivedPath), dropped ones counted in `filtered`, every kept name checked by `guard` under the
 * name it is written at (so nothing is written below a symlink), mtimes zeroed. Hardlinks must
 * name a file of the same layer (as container layers do).
 */
export async function* filterLayer(
  entries: AsyncIterable<TarStreamEntry>,
  guard: PathGuard,
  filtered: Map<string, number>,
  safeName: (n: string) => string,
): AsyncGenerator<Buffer> {
  const files = new Set<string>();
  for await (const e of entries) {
    const where = derivedPath(safeName(e.header.name));
    if ('filtered' in where) {
      filtered.set(where.filtered, (filtered.get(where.filtered) ?? 0) + 1);
      continue;
    }
    const path = where.path;
    // The layer's /var/lib/dpkg link to the database: tmpfiles.d makes it at boot.
    if (!path || (path === DPKG_DB && e.header.type !== 'directory')) continue;
    let linkname = e.header.linkname;
    if (e.header.type === 'link') {
      const target = derivedPath(safeName(linkname ?? ''));
      if ('filtered' in target)
        throw refused(
          e.header.name,
          `hardlink to ${JSON.stringify(linkname)}, which the import drops (/${target.filtered})`,
        );
      linkname = target.path;
    }
    guard.check({
      header: {
        ...e.header,
        name: presentedPath(path),
        ...(e.header.type === 'link' ? { linkname: presentedPath(linkname!) } : {}),
      },
    });
    if (e.header.type === 'link' && !files.has(linkname!))
      throw refused(
        e.header.name,
        `hardlink to ${JSON.stringify(e.header.linkname)}, which is not a file of the same layer`,
      );
    const base = posix.basename(path);
    const dir = posix.dirname(path);
    if (base === OPAQUE) guard.forget(presentedPath(dir), true);
    else if (base.startsWith(WHITEOUT)) {
      const gone = base.slice(WHITEOUT.length);
      if (gone === '' || gone === '.' || gone === '..' || gone.startsWith(WHITEOUT))
        throw refused(e.header.name, 'not a whiteout of a name');
      guard.forget(presentedPath(posix.join(dir, gone)));
    }
    if (e.header.type === 'file' || e.header.type === 'link') files.add(path);
    const size = e.header.type === 'file' ? e.header.size : 0;
    yield* encodeEntry({ ...e.header, name: path, mtime: 0, size, ...(linkname !== undefined ? { linkname } : {}) });
    if (size > 0) {
      for await (const b of e.body) yield b;
      yield padding(size);
    }
  }
  yield END_OF_ARCHIVE;
}

/** An absolute path in the merged tree, refused when any directory on the way is a symlink. */
async function inTree(root: string, rel: string): Promise<string> {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const st = await lstat(join(root, ...parts.slice(0, i))).catch(() => null);
    if (!st) break;
    if (!st.isDirectory()) throw refused(rel, `/${parts.slice(0, i).join('/')} is not a directory in the merged tree`);
  }
  return join(root, rel);
}

/** A small regular file of the merged tree, or null when it is absent (or not a regular file). */
async function readTreeFile(root: string, rel: string): Promise<string | null> {
  const path = await inTree(root, rel);
  const st = await lstat(path).catch(() => null);
  if (!st?.isFile()) return null;
  if (st.size > 16 << 20) throw refused(rel, `${st.size} bytes, more than a configuration file may have`);
  return readFile(path, 'utf8');
}

async function writeTreeFile(root: string, rel: string, content: string): Promise<void> {
  const path = await inTree(root, rel);
  await mkdir(posix.dirname(path), { recursive: true });
  const st = await lstat(path).catch(() => null);
  if (st && !st.isFile()) throw refused(rel, 'is not a regular file in the merged tree');
  // Beside, then renamed over: the tree may be a checkout of hardlinks into a bare repository,
  // whose objects must never be written in place.
  const tmp = `${path}.derived-tmp`;
  await writeFile(tmp, content, { mode: st ? st.mode & 0o7777 : 0o644 });
  await rename(tmp, path);
}

/** Paths the tree's tmpfiles.d files declare (a derived line for them would be a duplicate). */
async function declaredTmpfiles(root: string, own: string): Promise<Set<string>> {
  const declared = new Set<string>();
  for (const dir of ['usr/lib/tmpfiles.d', 'usr/etc/tmpfiles.d']) {
    const names = await readdir(await inTree(root, `${dir}/.`)).catch(() => [] as string[]);
    for (const f of names.sort()) {
      if (!f.endsWith('.conf') || `${dir}/${f}` === own) continue;
      for (const line of ((await readTreeFile(root, `${dir}/${f}`)) ?? '').split('\n')) {
        const path = line.trim().split(/\s+/)[1];
        if (path && !line.trim().startsWith('#')) declared.add(path);
      }
    }
  }
  return declared;
}

/** Where a finished tree's /var lines go, and who says they were generated. */
export interface FinishOptions {
  /** The tmpfiles.d file written (default DERIVED_TMPFILES); it must not be another generator's. */
  tmpfilesConf?: string;
  /** The file's first line (default: oci-wrap's). */
  header?: string;
}

/** The merged tree's /var as tmpfiles.d lines and /usr/share/factory/var files; /var ends empty. */
async function finishVar(root: string, o: Required<FinishOptions>): Promise<void> {
  const varSt = await lstat(join(root, 'var')).catch(() => null);
  if (!varSt?.isDirectory()) return;
  const users = new Map(parsePasswd((await readTreeFile(root, 'usr/etc/passwd')) ?? '').map((u) => [u.uid, u.name]));
  const groups = new Map(parseGroup((await readTreeFile(root, 'usr/etc/group')) ?? '').map((g) => [g.gid, g.name]));
  const declared = await declaredTmpfiles(root, o.tmpfilesConf);
  const lines: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const child = `${rel}/${name}`;
      if (child === VAR_DPKG) continue;
      const st = await lstat(join(root, child));
      if (st.isDirectory()) {
        const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
        if (!declared.has(`/${child}`))
          lines.push(`d /${child} ${mode} ${users.get(st.uid) ?? st.uid} ${groups.get(st.gid) ?? st.gid} -`);
        await visit(child);
      } else if (st.isSymbolicLink()) {
        if (!declared.has(`/${child}`)) lines.push(`L /${child} - - - - ${await readlink(join(root, child))}`);
      } else if (st.isFile() && !VAR_DROP.some((re) => re.test(child))) {
        const to = await inTree(root, `usr/share/factory/${child}`);
        await mkdir(posix.dirname(to), { recursive: true });
        await rename(join(root, child), to);
        lines.push(`C /${child} - - - -`);
      }
    }
  };
  await visit('var');
  for (const name of await readdir(join(root, 'var')))
    await rm(join(root, 'var', name), { recursive: true, force: true });
  if (lines.length) await writeTreeFile(root, o.tmpfilesConf, [o.header, ...lines].join('\n') + '\n');
}

/** Homes in /var/home and the sysusers.d entries, from the merged passwd and group. */
async function finishAccounts(root: string): Promise<void> {
  const passwd = await readTreeFile(root, 'usr/etc/passwd');
  const group = await readTreeFile(root, 'usr/etc/group');
  if (passwd === null || group === null) return;
  const rehomed = rehome(passwd);
  if (rehomed !== passwd) await writeTreeFile(root, 'usr/etc/passwd', rehomed);
  const conf = sysusersConf(parsePasswd(rehomed), parseGroup(group));
  if ((await readTreeFile(root, SYSUSERS_CONF)) !== conf) await writeTreeFile(root, SYSUSERS_CONF, conf);
}

/** What usr-unify makes of a built tree, made of the merged tree of a derived image (or of layered packages: atomic). */
export async function finishDerivedTree(root: string, o: FinishOptions = {}): Promise<void> {
  await finishVar(root, {
    tmpfilesConf: o.tmpfilesConf ?? DERIVED_TMPFILES,
    header:
      o.header ??
      '# Generated by oci-wrap: what the derived layers put in /var, recreated at boot by systemd-tmpfiles.',
  });
  await finishAccounts(root);
}

export interface DerivedCommit {
  /** The archive repository holding the base commit's objects; layer tars are under it. */
  repo: string;
  base: string;
  /** The filtered tars of the derived layers, in order, inside `repo`. */
  layers: string[];
  /** The derived layers' diff IDs (commit metadata). */
  diffIds: string[];
  /** Where to check out and merge, inside `repo` (must not exist). */
  work: string;
  timestamp: number;
  version: string | undefined;
  /** The image's manifest digest (ostree-ext's ostree.manifest-digest): what a puller compares to skip a second import. */
  manifestDigest?: string | undefined;
  /** The ref the commit is bound to (ostree.ref-binding): the base's, from the image's label, so that a pull by that ref accepts it. */
  bindRef?: string | undefined;
}

/** The new commit: base + layers, as ostree-ext's merge commit (parent: the base commit). */
export async function commitDerived(o: DerivedCommit): Promise<string> {
  if (process.getuid?.() !== 0)
    throw new ToolError(
      'needs-root',
      'importing a derived image needs root: the files keep their owners (ostree checkout and commit as root)',
    );
  const root = join(o.work, 'root');
  await mkdir(o.work, { recursive: true });
  await ostree(o.repo, ['checkout', o.base, root], 'check out the base commit');
  for (const [i, tar] of o.layers.entries()) {
    const layer = (
      await ostree(
        o.repo,
        ['commit', '--orphan', '--no-bindings', '--tar-autocreate-parents', `--tree=tar=${tar}`, '--timestamp=@0'],
        `commit derived layer ${i + 1}`,
      )
    ).trim();
    await ostree(o.repo, ['checkout', '--union', '--whiteouts', layer, root], `apply derived layer ${i + 1}`);
  }
  await finishDerivedTree(root);
  // ostree --bootable needs a kernel in /usr/lib/modules/$KVER/vmlinuz (as ostree-commit checks).
  let kernel = false;
  for (const k of await readdir(join(root, 'usr/lib/modules')).catch(() => [] as string[]))
    if ((await lstat(join(root, 'usr/lib/modules', k, 'vmlinuz')).catch(() => null))?.isFile()) kernel = true;
  const args = [
    'commit',
    '--orphan',
    `--tree=dir=${root}`,
    `--parent=${o.base}`,
    // The checkout is hardlinks when the repository is bare: their checksums are known.
    '--link-checkout-speedup',
    ...(o.bindRef ? [`--bind-ref=${o.bindRef}`] : []),
    `--timestamp=@${o.timestamp}`,
    // No --generate-sizes: an archive repository would record compressed sizes a bare one has not,
    // and the commit must be the same wherever it is made (disk-image on a host, atomic on a machine).
    ...(kernel ? ['--bootable'] : []),
    `--subject=derived from ${o.base}`,
    ...(o.version ? [`--add-metadata-string=version=${o.version}`] : []),
    `--add-metadata-string=${BASE_KEY}=${o.base}`,
    `--add-metadata-string=${LAYERS_KEY}=${o.diffIds.join(',')}`,
    ...(o.manifestDigest ? [`--add-metadata-string=${MANIFEST_DIGEST_KEY}=${o.manifestDigest}`] : []),
  ];
  return (await ostree(o.repo, args, 'commit the derived tree')).trim();
}

/** Commit metadata of a derived commit: its base commit, its layers' diff IDs. */
export const BASE_KEY = 'debian-atomic.derived.base';
export const LAYERS_KEY = 'debian-atomic.derived.layers';
/** The manifest digest of the image a derived commit was made from (ostree-ext's key). */
export const MANIFEST_DIGEST_KEY = 'ostree.manifest-digest';
/** A derived commit's subject names its base: `derived from <checksum>`. */
export const DERIVED_SUBJECT = /^derived from ([0-9a-f]{64})$/;
