/**
 * A deployment's origin file (ostree's `<deploy>.origin`): a GKeyFile that says where updates come
 * from. OSTree: `[origin] refspec=REMOTE:REF`. Image: `[origin] container-image-reference=REF` and
 * `[atomic] image-digest=sha256:…`. Groups and keys atomic does not know (ostree's
 * `[libostree-transient] pinned=true`, comments) survive a rewrite.
 */
import { imageReferenceProblem, inputError } from '@debian-atomic/lib';

export type Origin =
  | { kind: 'ostree'; refspec: string } // "remote:ref" or "ref"
  | { kind: 'image'; image: string; digest?: string | undefined }; // docker://… | oci:DIR[:TAG] | oci-archive:FILE[:TAG]

/** One line of a key file, kept as it was read so that unknown content is written back unchanged. */
type Line =
  | { type: 'group'; name: string; raw: string }
  | { type: 'entry'; key: string; value: string; raw: string }
  | { type: 'other'; raw: string };

export interface KeyFile {
  lines: Line[];
}

const GROUP = /^\[([^\][\x00-\x1f]+)\]\s*$/;
const ENTRY = /^([A-Za-z0-9-]+(?:\[[^\]]+\])?)\s*=\s*(.*)$/;

/** GLib's string value escapes: \s \n \t \r \\ (g_key_file_set_string writes them). */
function unescapeValue(raw: string, where: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = raw[++i];
    const map: Record<string, string> = { s: ' ', n: '\n', t: '\t', r: '\r', '\\': '\\' };
    if (e === undefined || !(e in map)) throw inputError(`${where}: invalid escape '\\${e ?? ''}' in a value`);
    out += map[e];
  }
  return out;
}

function escapeValue(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\t') out += '\\t';
    else if (c === '\r') out += '\\r';
    else if (c === ' ' && i === 0) out += '\\s';
    else out += c;
  }
  return out;
}

/** The GKeyFile subset ostree reads and writes: groups, key=value, comments and blank lines. */
export function parseKeyFile(text: string, file: string): KeyFile {
  const lines: Line[] = [];
  let group: string | null = null;
  const seen = new Set<string>();
  text.split('\n').forEach((raw, n) => {
    const where = `${file}:${n + 1}`;
    const line = raw.replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      lines.push({ type: 'other', raw: line });
      return;
    }
    const g = GROUP.exec(trimmed);
    if (g) {
      group = g[1]!;
      if (seen.has(`[${group}]`)) throw inputError(`${where}: group [${group}] appears twice`);
      seen.add(`[${group}]`);
      lines.push({ type: 'group', name: group, raw: line });
      return;
    }
    const e = ENTRY.exec(line.trimStart());
    if (!e) throw inputError(`${where}: expected '[group]', 'key=value' or a '#' comment`);
    if (group === null) throw inputError(`${where}: key '${e[1]}' before any [group]`);
    const id = `${group}\0${e[1]}`;
    if (seen.has(id)) throw inputError(`${where}: key '${e[1]}' appears twice in [${group}]`);
    seen.add(id);
    lines.push({ type: 'entry', key: e[1]!, value: unescapeValue(e[2]!.trimEnd(), where), raw: line });
  });
  while (lines.length && lines.at(-1)!.type === 'other' && lines.at(-1)!.raw === '') lines.pop();
  return { lines };
}

export function formatKeyFile(kf: KeyFile): string {
  return kf.lines.map((l) => l.raw).join('\n') + '\n';
}

export function getKey(kf: KeyFile, group: string, key: string): string | undefined {
  let g: string | null = null;
  for (const l of kf.lines) {
    if (l.type === 'group') g = l.name;
    else if (l.type === 'entry' && g === group && l.key === key) return l.value;
  }
  return undefined;
}

/** Set (value) or remove (undefined) a key; a missing group is added at the end. */
export function setKey(kf: KeyFile, group: string, key: string, value: string | undefined): void {
  let g: string | null = null;
  let lastOfGroup = -1;
  for (let i = 0; i < kf.lines.length; i++) {
    const l = kf.lines[i]!;
    if (l.type === 'group') g = l.name;
    if (g !== group) continue;
    if (l.type === 'entry' && l.key === key) {
      if (value === undefined) kf.lines.splice(i, 1);
      else kf.lines[i] = { type: 'entry', key, value, raw: `${key}=${escapeValue(value)}` };
      return;
    }
    if (l.type !== 'other' || l.raw.trim() !== '') lastOfGroup = i;
  }
  if (value === undefined) return;
  const entry: Line = { type: 'entry', key, value, raw: `${key}=${escapeValue(value)}` };
  if (lastOfGroup >= 0) kf.lines.splice(lastOfGroup + 1, 0, entry);
  else {
    if (kf.lines.length) kf.lines.push({ type: 'other', raw: '' });
    kf.lines.push({ type: 'group', name: group, raw: `[${group}]` }, entry);
  }
}

/** Remove a whole group (its lines up to the next group). */
export function removeGroup(kf: KeyFile, group: string): void {
  const out: Line[] = [];
  let inside = false;
  for (const l of kf.lines) {
    if (l.type === 'group') inside = l.name === group;
    if (!inside) out.push(l);
  }
  while (out.length && out.at(-1)!.type === 'other' && out.at(-1)!.raw === '') out.pop();
  kf.lines = out;
}

export const IMAGE_KEY = 'container-image-reference';
export const DIGEST_GROUP = 'atomic';
export const DIGEST_KEY = 'image-digest';

/** Image references atomic follows: the containers-transports skopeo reads (lib's grammar). */
export function isImageReference(s: string): boolean {
  return /^(docker:\/\/|oci:|oci-archive:)/.test(s);
}

/** An OSTree refspec: [REMOTE:]REF, ostree's grammar for both. */
export const REFSPEC = /^(?:[\w\d][-._\w\d]*:)?[\w\d][-._\w\d]*(?:\/[\w\d][-._\w\d]*)*$/;

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function originOf(kf: KeyFile, file: string): Origin {
  const image = getKey(kf, 'origin', IMAGE_KEY);
  // A layered deployment's origin names its base as rpm-ostree's does (baserefspec=): ostree would
  // otherwise take the local commit for the remote's and fail its GPG check (ostree admin status).
  const refspecKey = getKey(kf, 'origin', 'refspec') !== undefined ? 'refspec' : 'baserefspec';
  const refspec = getKey(kf, 'origin', refspecKey);
  const line = (key: string) => kf.lines.findIndex((l) => l.type === 'entry' && l.key === key) + 1;
  if (image !== undefined && refspec !== undefined)
    throw inputError(`${file}:${line(IMAGE_KEY)}: both refspec and ${IMAGE_KEY} in [origin]; which one is followed?`);
  if (image !== undefined) {
    const problem = imageReferenceProblem(image);
    if (problem) throw inputError(`${file}:${line(IMAGE_KEY)}: ${problem}`);
    const digest = getKey(kf, DIGEST_GROUP, DIGEST_KEY);
    if (digest !== undefined && !DIGEST.test(digest))
      throw inputError(`${file}:${line(DIGEST_KEY)}: '${digest}' is not a sha256 digest`);
    return { kind: 'image', image, digest };
  }
  if (refspec !== undefined) {
    if (!REFSPEC.test(refspec))
      throw inputError(`${file}:${line(refspecKey)}: '${refspec}' is not an OSTree refspec (REMOTE:REF or REF)`);
    return { kind: 'ostree', refspec };
  }
  throw inputError(
    `${file}: no [origin] refspec= or ${IMAGE_KEY}=: atomic does not know where this deployment's updates come from`,
  );
}

/** The origin a deployment follows; errors name file:line. */
export function parseOrigin(text: string, file: string): Origin {
  return originOf(parseKeyFile(text, file), file);
}

/** A fresh origin file. */
export function formatOrigin(o: Origin): string {
  return rewriteOrigin(null, o);
}

/**
 * The origin of a new deployment: the previous deployment's file (unknown groups and keys kept),
 * with the source replaced. Transient state (ostree's pinning) belongs to the old deployment only.
 */
export function rewriteOrigin(previous: string | null, o: Origin, file = 'origin'): string {
  const kf = previous === null ? { lines: [] } : parseKeyFile(previous, file);
  removeGroup(kf, 'libostree-transient');
  if (o.kind === 'ostree') {
    setKey(kf, 'origin', IMAGE_KEY, undefined);
    removeGroup(kf, DIGEST_GROUP);
    setKey(kf, 'origin', 'baserefspec', undefined);
    setKey(kf, 'origin', 'refspec', o.refspec);
  } else {
    setKey(kf, 'origin', 'refspec', undefined);
    setKey(kf, 'origin', 'baserefspec', undefined);
    setKey(kf, 'origin', IMAGE_KEY, o.image);
    setKey(kf, DIGEST_GROUP, DIGEST_KEY, o.digest);
    if (o.digest === undefined) removeGroup(kf, DIGEST_GROUP);
  }
  return formatKeyFile(kf);
}

/** How origins read to people: "REMOTE:REF" or the image reference (with its digest). */
export function describeOrigin(o: Origin | null): string {
  if (o === null) return 'none';
  if (o.kind === 'ostree') return o.refspec;
  return o.digest ? `${o.image} (${o.digest})` : o.image;
}

/**
 * Client-side package layering (rpm-ostree's groups and keys): what the user asked for on top of
 * the base image — requests, not history, applied anew to every new base. `[packages]
 * requested=a;b;` (from the system's apt sources), `requested-local=SHA256:NAME;` (a .deb kept in
 * LOCAL_DEBS under its digest), `[overrides] remove=c;` (base packages taken out).
 */
export interface Requests {
  packages: string[];
  local: LocalDeb[];
  remove: string[];
}

export interface LocalDeb {
  sha256: string;
  name: string;
}

export const NO_REQUESTS: Requests = { packages: [], local: [], remove: [] };

/** A Debian package name (Policy 5.6.1), with an optional :ARCH. */
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?$/;
const LOCAL = /^([0-9a-f]{64}):([a-z0-9][a-z0-9+.-]+)$/;

export const hasRequests = (r: Requests): boolean => r.packages.length + r.local.length + r.remove.length > 0;

/** GKeyFile's string lists: `a;b;` (g_key_file_set_string_list). */
function getList(kf: KeyFile, group: string, key: string): string[] {
  return (getKey(kf, group, key) ?? '').split(';').filter((s) => s !== '');
}

function setList(kf: KeyFile, group: string, key: string, values: readonly string[]): void {
  setKey(kf, group, key, values.length ? `${[...values].sort().join(';')};` : undefined);
  if (!kf.lines.some((l, i) => l.type === 'group' && l.name === group && kf.lines[i + 1]?.type === 'entry'))
    removeGroup(kf, group);
}

/** The layering requests of an origin file; errors name file:line. */
export function parseRequests(text: string, file: string): Requests {
  const kf = parseKeyFile(text, file);
  const bad = (key: string, v: string, what: string) =>
    inputError(
      `${file}:${kf.lines.findIndex((l) => l.type === 'entry' && l.key === key) + 1}: '${v}' in ${key} is not ${what}`,
    );
  const names = (group: string, key: string) =>
    getList(kf, group, key).map((v) => {
      if (!PACKAGE_NAME.test(v)) throw bad(key, v, 'a Debian package name');
      return v;
    });
  const local = getList(kf, 'packages', 'requested-local').map((v) => {
    const m = LOCAL.exec(v);
    if (!m) throw bad('requested-local', v, 'SHA256:PACKAGE');
    return { sha256: m[1]!, name: m[2]! };
  });
  return { packages: names('packages', 'requested'), local, remove: names('overrides', 'remove') };
}

/** An origin file with these requests (empty lists drop their keys, empty groups go). */
export function withRequests(text: string, r: Requests, file = 'origin'): string {
  const kf = parseKeyFile(text, file);
  setList(kf, 'packages', 'requested', r.packages);
  setList(
    kf,
    'packages',
    'requested-local',
    r.local.map((l) => `${l.sha256}:${l.name}`),
  );
  setList(kf, 'overrides', 'remove', r.remove);
  // rpm-ostree's keys: a layered commit is not the remote's, so its refspec is the base's.
  const [from, to] = hasRequests(r) ? ['refspec', 'baserefspec'] : ['baserefspec', 'refspec'];
  const spec = getKey(kf, 'origin', from);
  if (spec !== undefined) {
    setKey(kf, 'origin', from, undefined);
    setKey(kf, 'origin', to, spec);
  }
  return formatKeyFile(kf);
}
