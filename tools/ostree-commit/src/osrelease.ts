/**
 * rpm-ostree's mutate-os-release: the composed version replaces the given string
 * in os-release's VERSION and PRETTY_NAME, and OSTREE_VERSION is added. The tree
 * is not touched: the changed file is committed from an overlay directory.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export function mutateOsRelease(text: string, from: string, version: string): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (/^OSTREE_VERSION=/.test(line)) continue;
    out.push(/^(VERSION|PRETTY_NAME)=/.test(line) ? line.split(from).join(version) : line);
  }
  while (out.length && out[out.length - 1] === '') out.pop();
  out.push(`OSTREE_VERSION='${version}'`, '');
  return out.join('\n');
}

/**
 * A digest of a tree's content (paths, modes, owners, link targets, file bytes),
 * recorded in the commit so an unchanged tree is recognised before committing.
 */
export async function treeDigest(root: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(root, r));
      h.update(`${r}\0${st.mode}\0${st.uid}\0${st.gid}\0`);
      if (st.isSymbolicLink()) h.update(await readlink(join(root, r)));
      else if (st.isFile()) await hashFile(h, join(root, r));
      else if (st.isDirectory()) await walk(r);
      h.update('\0');
    }
  };
  await walk('');
  return h.digest('hex');
}

/** Feed a file to the hash a chunk at a time: a tree may hold files of gigabytes. */
async function hashFile(h: Hash, file: string): Promise<void> {
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
}
