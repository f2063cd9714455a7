/**
 * Updates from container images, as ostree-ext does them on top of Debian's skopeo and ostree:
 *
 *   inspectImage  skopeo inspect: the manifest digest and the labels (version, ostree.commit);
 *                 for an image whose labels name its last ostree layer (ostree.final-diffid),
 *                 its config too: how many derived layers (a Containerfile's) follow the
 *                 base commit's. No layer is downloaded (`atomic upgrade --check`).
 *   pullImage     skopeo copy, pinned to the inspected digest, into the layer cache (one OCI
 *                 layout: blobs already there are not downloaded); the ostree objects of the
 *                 layers imported with oci-wrap's importer into a temporary archive repository
 *                 inside the system repository's tmp/, leaving out the objects the system
 *                 repository has; `ostree pull-local --untrusted` (every object checked against
 *                 its checksum) into the system repository; a ref atomic/image/<escaped reference>.
 *                 A derived image's commit is the one the importer merges from its base commit
 *                 and its derived layers; it records the manifest digest (ostree.manifest-digest),
 *                 so that pulling the same image again imports nothing.
 *   gcImageCache  drop what the images to keep do not use.
 *
 * Where ostree-ext keeps each layer as an ostree commit (refs ostree/container/blob/…), the
 * layer cache here is the OCI layout itself, and the repository holds only the image's own
 * commit: the same objects, one commit, and a cache that skopeo's own reuse keeps incremental.
 * Signature policy is skopeo's: /etc/containers/policy.json (and registries.d, registries.conf
 * for insecure registries) apply to every copy; nothing here bypasses or re-implements them.
 */
import { existsSync, lstatSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import {
  controlCharName,
  imageReferenceProblem,
  onInterrupt,
  readBoundedText,
  READ_LIMITS,
  run,
  tailLines,
  tempSibling,
  toolboxRun,
  ToolError,
  usageError,
  type Progress,
} from '@debian-atomic/lib';
import {
  importLayers,
  MANIFEST_DIGEST_KEY,
  readImage,
  type ObjectKind,
  type OstreeImage,
} from '@debian-atomic/oci-wrap';
import { imageConfigSchema } from '@debian-atomic/lib/contracts/oci';
import {
  blobSizes,
  cacheDir,
  cacheTag,
  DIGEST_ANNOTATION,
  gcCache,
  IMAGE_ANNOTATION,
  lockCache,
  moveTag,
  PULLING,
  removeCorruptBlobs,
  removeStaleTags,
  removeTags,
  repairCacheIndex,
  taggedManifest,
} from './layers.js';

// ---------------------------------------------------------------------------------------------
// References

export const IMAGE_TRANSPORTS = ['docker://', 'oci:', 'oci-archive:'] as const;
const FORMS = 'docker://HOST/NAME[:TAG|@sha256:DIGEST], oci:DIR[:TAG] or oci-archive:FILE[:TAG]';

export type ImageRef =
  | { transport: 'docker'; reference: string; name: string; tag?: string | undefined; digest?: string | undefined }
  | { transport: 'oci' | 'oci-archive'; reference: string; path: string; tag?: string | undefined };

/** Does a switch target name a container image (rather than an OSTree REMOTE:REF)? */
export function isImageReference(target: string): boolean {
  return IMAGE_TRANSPORTS.some((t) => target.startsWith(t));
}

const MAX_REFERENCE = 1024;

function badReference(summary: string): ToolError {
  return usageError(summary, `an image reference is ${FORMS}`);
}

/**
 * Parse and check an image reference with lib's grammar (the one origin files are read with);
 * relative oci: and oci-archive: paths are made absolute first (the reference is recorded in
 * the deployment's origin and read again from another directory). Everything skopeo is given
 * starts with its transport, so no value can pass for one of its options.
 */
export function parseImageRef(input: string, cwd = process.cwd()): ImageRef {
  const shown = JSON.stringify(input.length > 200 ? `${input.slice(0, 200)}…` : input);
  if (input.length > MAX_REFERENCE)
    throw badReference(`${shown}: an image reference is longer than ${MAX_REFERENCE} characters`);
  const control = controlCharName(input);
  if (control) throw badReference(`${shown}: an image reference must be one line: it contains ${control}`);
  let reference = input;
  const layout = /^(oci|oci-archive):([^:]+)(:.*)?$/.exec(input);
  if (layout && !isAbsolute(layout[2]!)) reference = `${layout[1]}:${resolve(cwd, layout[2]!)}${layout[3] ?? ''}`;
  const problem = imageReferenceProblem(reference);
  if (problem) throw badReference(problem);
  if (reference.startsWith('docker://')) {
    const m = /^docker:\/\/([^@]+?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(reference);
    const [, name, tag, digest] = m!;
    // containers/image's docker transport takes a tag or a digest, not both.
    if (tag && digest) throw badReference(`${shown}: a reference has a tag or a digest, not both`);
    return { transport: 'docker', reference, name: name!, tag, digest };
  }
  const [, transport, path, tag] = /^(oci|oci-archive):([^:]+)(?::(.*))?$/.exec(reference)!;
  return { transport: transport as 'oci' | 'oci-archive', reference, path: path!, tag };
}

/**
 * An arbitrary string as an ostree ref path, as ostree-ext's refescape does: letters and
 * digits kept, `/` kept between components, every other character `_XX_` (its code point in
 * hex), `_` itself `__`. A `-` is kept too, except at the start of a component (not a ref).
 */
export function escapeForRef(s: string): string {
  if (!s) throw new ToolError('bad-reference', 'cannot make a ref of an empty string');
  let out = '';
  let prevAlnum = false;
  const chars = [...s];
  for (const [i, c] of chars.entries()) {
    const alnum = /^[A-Za-z0-9]$/.test(c);
    const componentStart = out === '' || out.endsWith('/');
    if (alnum) out += c;
    else if (c === '/' && prevAlnum && i < chars.length - 1) out += c;
    else if (c === '-' && !componentStart) out += c;
    else if (c === '_') out += '__';
    else out += `_${c.codePointAt(0)!.toString(16).toUpperCase().padStart(2, '0')}_`;
    prevAlnum = alnum;
  }
  return out;
}

export function unescapeRef(s: string): string {
  return s.replace(/__|_([0-9A-F]+)_/g, (m, hex: string | undefined) =>
    m === '__' ? '_' : String.fromCodePoint(parseInt(hex!, 16)),
  );
}

export const IMAGE_REF_PREFIX = 'atomic/image';

/** The system repository's ref that holds an image's commit: atomic/image/<escaped reference>. */
export function imageRefName(reference: string): string {
  return `${IMAGE_REF_PREFIX}/${escapeForRef(reference)}`;
}

// ---------------------------------------------------------------------------------------------
// skopeo

/** Test and internal hooks; a real system uses the system's policy.json and registries.d. */
export interface SkopeoOptions {
  /** A signature policy file instead of the system's (skopeo --policy). */
  policy?: string | undefined;
  /** A registries.d directory instead of the system's (skopeo --registries.d): signature lookaside. */
  registriesD?: string | undefined;
  /**
   * false: plain HTTP to the registry (tests; skopeo 1.9 reads no registries.conf from the
   * environment). A system marks its insecure registries in /etc/containers/registries.conf.
   */
  tlsVerify?: boolean | undefined;
}

function globalArgs(o: SkopeoOptions): string[] {
  return [...(o.policy ? ['--policy', o.policy] : []), ...(o.registriesD ? ['--registries.d', o.registriesD] : [])];
}

/** The policy file skopeo reads (containers-policy.json(5): the user's, else the system's). */
export function policyFile(o: SkopeoOptions = {}): string {
  if (o.policy) return o.policy;
  const user = join(process.env.HOME ?? homedir(), '.config/containers/policy.json');
  return existsSync(user) ? user : '/etc/containers/policy.json';
}

/** skopeo's own message: the msg="..." of its fatal log line, else the last line of stderr. */
export function skopeoMessage(stderr: string): string {
  const m = /level=fatal msg="((?:[^"\\]|\\.)*)"/.exec(stderr);
  if (m) {
    try {
      return JSON.parse(`"${m[1]}"`) as string;
    } catch {
      return m[1]!;
    }
  }
  return tailLines(stderr, 1).trim();
}

/** A failed skopeo run as the ToolError a user can act on. */
function skopeoFailure(
  err: unknown,
  image: string,
  what: string,
  o: SkopeoOptions & { cache?: string | undefined },
): unknown {
  if (!(err instanceof ToolError) || err.code !== 'command-failed') return err;
  const output = err.output ?? '';
  const msg = skopeoMessage(output);
  const rejected = /Source image rejected: (.*)$/s.exec(msg);
  if (rejected) {
    return new ToolError(
      'signature-policy',
      `${image} refused by the signature policy (${policyFile(o)}): ${rejected[1]!.trim()}`,
      {
        hint: 'nothing was downloaded or changed; see containers-policy.json(5) for the rules',
        cause: err,
      },
    );
  }
  if (/no space left on device/i.test(output)) {
    return new ToolError(
      'disk-full',
      `${o.cache ?? 'the image cache'}: no space left on the device while downloading ${image}`,
      {
        detail: msg,
        hint: 'free some space (atomic status shows the deployments; old ones can be removed), then run the command again',
        cause: err,
      },
    );
  }
  if (/Digest did not match|digest.*mismatch/i.test(msg)) {
    return new ToolError('digest-mismatch', `${image}: a blob does not match its digest: ${msg}`, {
      hint: 'the image at the source is corrupt (or was changed while it was read)',
      cause: err,
    });
  }
  return new ToolError('image-unavailable', `${image}: cannot ${what}: ${msg}`, {
    detail: tailLines(output, 5),
    cause: err,
  });
}

async function skopeo(
  args: string[],
  image: string,
  what: string,
  o: SkopeoOptions & { cache?: string | undefined },
): Promise<string> {
  try {
    return (await run('skopeo', [...globalArgs(o), ...args], { providedBy: 'skopeo', what })).stdout;
  } catch (err) {
    throw skopeoFailure(err, image, what, o);
  }
}

// ---------------------------------------------------------------------------------------------
// inspect

export interface ImageCheck {
  image: string;
  digest: string;
  version?: string;
  /** The commit the image deploys, when its label names it (not a derived image). */
  commit?: string;
  /** A derived image: the base commit its ostree layers carry (the label's), and how many layers follow them. */
  base?: string;
  derived?: number;
  created?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const inspectSchema = z.looseObject({
  Digest: z.string().regex(DIGEST),
  Created: z.string().nullish(),
  Labels: z.record(z.string(), z.string()).nullish(),
});
/** The part of the image config (the OCI contract) a derived image's layers are counted from. */
const configSchema = imageConfigSchema.pick({ rootfs: true });
const FINAL_DIFFID = 'ostree.final-diffid';

const VERSION_LABELS = ['org.opencontainers.image.version', 'version'];
const CHECKSUM = /^[0-9a-f]{64}$/;

function checkLabels(image: string, labels: Record<string, string>): { version?: string; commit?: string } {
  const out: { version?: string; commit?: string } = {};
  const version = VERSION_LABELS.map((l) => labels[l]).find((v) => v !== undefined);
  if (version !== undefined) {
    if (version.length > 256 || controlCharName(version))
      throw new ToolError('bad-image', `${image}: its version label is not one line of at most 256 characters`, {
        exitCode: 2,
      });
    out.version = version;
  }
  const commit = labels['ostree.commit'];
  if (commit !== undefined) {
    if (!CHECKSUM.test(commit))
      throw new ToolError(
        'bad-image',
        `${image}: label ostree.commit ${JSON.stringify(commit.slice(0, 80))} is not a commit checksum`,
        { exitCode: 2 },
      );
    out.commit = commit;
  }
  return out;
}

/**
 * The image's manifest digest and labels, from the source; no layer is downloaded. `layers:
 * false` leaves out the derived layers' count (a second read of the config): a pull counts them
 * in the copied image, and `commit` is then the label's even for a derived image.
 */
export async function inspectImage(
  image: string,
  o: { sysroot: string; layers?: boolean } & SkopeoOptions,
): Promise<ImageCheck> {
  const ref = parseImageRef(image);
  const out = await skopeo(
    [
      'inspect',
      '--no-tags',
      ...(ref.transport === 'docker'
        ? ['--retry-times', '3', ...(o.tlsVerify === false ? ['--tls-verify=false'] : [])]
        : []),
      ref.reference,
    ],
    ref.reference,
    'inspect the image',
    o,
  );
  let parsed;
  try {
    parsed = inspectSchema.parse(JSON.parse(out));
  } catch (err) {
    throw new ToolError('bad-inspect', `${ref.reference}: skopeo inspect gave an answer without a manifest digest`, {
      detail: out.slice(0, 400),
      cause: err,
    });
  }
  const labels = parsed.Labels ?? {};
  const { commit, ...rest } = checkLabels(ref.reference, labels);
  const derived =
    labels[FINAL_DIFFID] === undefined || o.layers === false
      ? 0
      : await derivedLayers(ref, parsed.Digest, labels[FINAL_DIFFID], o);
  return {
    image: ref.reference,
    digest: parsed.Digest,
    ...rest,
    ...(commit === undefined ? {} : derived > 0 ? { base: commit, derived } : { commit }),
    ...(parsed.Created ? { created: parsed.Created } : {}),
  };
}

/** How many layers of the image's config follow the one ostree.final-diffid names (as ostree-ext counts them). */
async function derivedLayers(ref: ImageRef, digest: string, final: string, o: SkopeoOptions): Promise<number> {
  // The manifest just inspected, not whatever the tag names a moment later.
  const pinned = ref.transport === 'docker' && !ref.digest ? `docker://${ref.name}@${digest}` : ref.reference;
  const out = await skopeo(
    [
      'inspect',
      '--config',
      ...(ref.transport === 'docker'
        ? ['--retry-times', '3', ...(o.tlsVerify === false ? ['--tls-verify=false'] : [])]
        : []),
      pinned,
    ],
    ref.reference,
    'read the image configuration',
    o,
  );
  let diffIds: string[];
  try {
    diffIds = configSchema.parse(JSON.parse(out)).rootfs.diff_ids;
  } catch (err) {
    throw new ToolError('bad-inspect', `${ref.reference}: skopeo inspect --config gave no rootfs.diff_ids`, {
      detail: out.slice(0, 400),
      cause: err,
    });
  }
  const last = diffIds.indexOf(final);
  if (last === -1)
    throw new ToolError('bad-image', `${ref.reference}: label ${FINAL_DIFFID} names none of the image's layers`, {
      exitCode: 2,
    });
  return diffIds.length - 1 - last;
}

// ---------------------------------------------------------------------------------------------
// pull

export interface PulledImage extends ImageCheck {
  /** The commit to deploy: the label's, or for a derived image the one merged from it. */
  commit: string;
  /** Layers after the base commit's (0: not a derived image). */
  derived: number;
  /** The system repository's ref now on the commit. */
  ref: string;
  layers: number;
  /** Layers that were not in the cache and were downloaded. */
  layersFetched: number;
  /** Bytes of the blob files the download added to the cache (layers, config, manifest). */
  bytesFetched: number;
  /** Objects written into the system repository (those it had are never fetched twice). */
  objects: number;
}

export interface PullOptions extends SkopeoOptions {
  sysroot: string;
  /** The system repository (mode bare on a real system): <sysroot>/ostree/repo. */
  repo: string;
  progress?: Progress | undefined;
}

async function ostree(repo: string, args: string[], what: string): Promise<string> {
  try {
    return (await toolboxRun('ostree', [`--repo=${repo}`, ...args], { binds: [repo], what, providedBy: 'ostree' }))
      .stdout;
  } catch (err) {
    if (err instanceof ToolError && /No space left on device/i.test(err.output ?? '')) {
      throw new ToolError('disk-full', `${repo}: no space left on the device (${what})`, {
        detail: err.detail,
        hint: 'free some space, then run the command again',
        cause: err,
      });
    }
    throw err;
  }
}

/** A repository's mode, from its config (bare when it says nothing, as ostree reads it). */
async function repoMode(repo: string): Promise<string> {
  const config = await readBoundedText(join(repo, 'config'), {
    maxBytes: READ_LIMITS.attribute,
    what: 'OSTree repository config',
  }).catch((err: unknown) => {
    throw new ToolError('not-a-repo', `${repo}: not an OSTree repository`, {
      detail: err instanceof ToolError ? err.summary : String(err),
      cause: err,
    });
  });
  return /^mode=(.*)$/m.exec(config)?.[1]?.trim() ?? 'bare';
}

/** Whether the repository has an object: objects/xx/yyy.<ext>, content objects .filez in archive repos. */
function objectTest(repo: string, mode: string): (checksum: string, kind: ObjectKind) => boolean {
  const fileExt = mode === 'archive' || mode === 'archive-z2' ? 'filez' : 'file';
  // Synchronous: thousands of small stats cost more as thread-pool round trips.
  return (checksum, kind) =>
    lstatSync(join(repo, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.${kind === 'file' ? fileExt : kind}`), {
      throwIfNoEntry: false,
    }) !== undefined;
}

const IMPORT_NAME = 'atomic-import';

/** Import repositories an interrupted pull left in <repo>/tmp (ostree would drop them after a day). */
async function removeStaleImports(repo: string): Promise<void> {
  const tmp = join(repo, 'tmp');
  for (const name of await readdir(tmp).catch(() => [] as string[])) {
    if (name.startsWith(`.${IMPORT_NAME}.`)) await rm(join(tmp, name), { recursive: true, force: true });
  }
}

/** The commit and all it names are in the repository (not a partial pull). */
function hasCompleteCommit(repo: string, commit: string): boolean {
  return objectTest(repo, 'bare')(commit, 'commit') && !existsSync(join(repo, 'state', `${commit}.commitpartial`));
}

/**
 * A derived image's commit the repository already has: the one the image's ref is on, when it
 * records this manifest digest and is complete. Anything else (no ref, another image, an
 * unreadable commit) means importing, which makes the same commit again.
 */
async function importedDerived(repo: string, refName: string, digest: string): Promise<string | null> {
  const current = (
    await readBoundedText(join(repo, 'refs/heads', refName), { maxBytes: 100, what: 'ref' }).catch(() => '')
  ).trim();
  if (!CHECKSUM.test(current) || !hasCompleteCommit(repo, current)) return null;
  const recorded = await ostree(
    repo,
    ['show', `--print-metadata-key=${MANIFEST_DIGEST_KEY}`, current],
    "read the commit's manifest digest",
  ).catch(() => '');
  return recorded.trim() === `'${digest}'` ? current : null;
}

/**
 * Pull an image into the system repository: only the layers not in the cache are downloaded,
 * only the objects the repository lacks are written. The repository's refs change only at the
 * end (one ref, atomic/image/<escaped reference>); a failure or SIGINT leaves them as they were
 * and removes the temporary repository and the layout's temporary tag.
 */
export async function pullImage(image: string, o: PullOptions): Promise<PulledImage> {
  const ref = parseImageRef(image);
  const repo = resolve(o.repo);
  const cache = cacheDir(resolve(o.sysroot));
  if (cache.includes(':'))
    throw usageError(`${cache}: the image cache's path cannot contain ":" (skopeo's oci: reference splits there)`);
  const mode = await repoMode(repo);
  const have = objectTest(repo, mode);

  o.progress?.step(`inspecting ${ref.reference}`);
  const check = await inspectImage(ref.reference, { ...o, layers: false });
  // Copy exactly what was inspected: a tag moved in between cannot slip another image in.
  const source = ref.transport === 'docker' && !ref.digest ? `docker://${ref.name}@${check.digest}` : ref.reference;

  const tag = cacheTag(ref.reference);
  const pullingTag = `${tag}${PULLING}${process.pid}`;
  const importRepo = tempSibling(join(repo, 'tmp', IMPORT_NAME), 'import');
  let release: (() => Promise<void>) | undefined;
  const cleanup = async () => {
    await rm(importRepo, { recursive: true, force: true });
    await removeTags(cache, [pullingTag]).catch(() => undefined);
    await release?.();
  };
  const unregister = onInterrupt(cleanup);
  try {
    release = await lockCache(cache);
    // What a power cut left of an earlier pull (the lock says none is running now).
    await repairCacheIndex(cache);
    await removeStaleTags(cache);
    await removeStaleImports(repo);
    let layersFetched = 0;
    let bytesFetched = 0;
    const copy = async (): Promise<OstreeImage> => {
      const before = await blobSizes(cache);
      o.progress?.step(`downloading the layers not in ${cache}`);
      await skopeo(
        [
          'copy',
          '--quiet',
          '--remove-signatures',
          ...(ref.transport === 'docker'
            ? ['--retry-times', '3', ...(o.tlsVerify === false ? ['--src-tls-verify=false'] : [])]
            : []),
          source,
          `oci:${cache}:${pullingTag}`,
        ],
        ref.reference,
        'download the image',
        { ...o, cache },
      );
      const after = await blobSizes(cache);
      const image = await readImage(cache, pullingTag);
      for (const [digest, size] of after) if (!before.has(digest)) bytesFetched += size;
      layersFetched += image.manifest.layers.filter((l) => !before.has(l.digest)).length;
      return image;
    };
    const refName = imageRefName(ref.reference);
    const importInto = async (image: OstreeImage): Promise<{ commit: string; objects: number }> => {
      if (!image.derived && hasCompleteCommit(repo, image.commit)) return { commit: image.commit, objects: 0 };
      const done = image.derived ? await importedDerived(repo, refName, image.digest) : null;
      if (done) return { commit: done, objects: 0 };
      await rm(importRepo, { recursive: true, force: true });
      await mkdir(importRepo, { recursive: true });
      await ostree(importRepo, ['init', '--mode=archive'], 'create the import repository');
      // Derived layers are merged in the system repository, as ostree-ext does: the base is checked
      // out there as hardlinks (no copy of the tree, no second import of objects it has).
      const merge = {
        repo,
        bringBase: async (base: string) => {
          if (hasCompleteCommit(repo, base)) return;
          o.progress?.step(`pulling the base commit ${base.slice(0, 12)} into ${repo}`);
          await ostree(
            repo,
            ['pull-local', '--untrusted', importRepo, base],
            'pull the base commit into the system repository',
          );
        },
      };
      const r = await importLayers(image, pullingTag, importRepo, {}, { have, progress: o.progress, merge }).catch(
        (err: unknown) => {
          if (err instanceof ToolError && err.code === 'write-failed' && /ENOSPC/.test(err.summary)) {
            throw new ToolError('disk-full', `${repo}: no space left on the device while importing ${ref.reference}`, {
              hint: 'free some space, then run the command again',
              cause: err,
            });
          }
          throw err;
        },
      );
      if (!r.derived) {
        o.progress?.step(`pulling ${r.objects} new objects into ${repo} (${r.skipped} already there)`);
        await ostree(
          repo,
          ['pull-local', '--untrusted', importRepo, r.commit],
          'pull the imported commit into the system repository',
        );
      }
      return { commit: r.commit, objects: r.objects };
    };

    let pulled: OstreeImage;
    let imported: { commit: string; objects: number };
    for (let attempt = 1; ; attempt++) {
      try {
        pulled = await copy();
        if (check.commit && check.commit !== pulled.commit) {
          throw new ToolError(
            'bad-image',
            `${ref.reference}: the copied image carries commit ${pulled.commit}, the inspected one ${check.commit}`,
            { exitCode: 2 },
          );
        }
        imported = await importInto(pulled);
        break;
      } catch (err) {
        // containers/image reuses a blob file without reading it: one corrupted in the cache (a
        // power cut, a bad disk) shows up here as bad input. Remove the blobs that fail their
        // digest and fetch them again, once; an image that is itself bad fails again.
        if (attempt > 1 || !(err instanceof ToolError) || err.exitCode !== 2) throw err;
        const d = await taggedManifest(cache, pullingTag);
        const removed = d ? await removeCorruptBlobs(cache, d) : [];
        if (removed.length === 0) throw err;
        o.progress?.step(`${removed.length} corrupt blob(s) removed from the cache; downloading again`);
        await removeTags(cache, [pullingTag]);
      }
    }
    await ostree(repo, ['refs', '--force', `--create=${refName}`, imported.commit], 'set the image ref');
    await moveTag(cache, pullingTag, tag, { [IMAGE_ANNOTATION]: ref.reference, [DIGEST_ANNOTATION]: check.digest });
    await rm(importRepo, { recursive: true, force: true });
    const labels = checkLabels(ref.reference, pulled.labels);
    return {
      image: ref.reference,
      digest: check.digest,
      ...labels,
      ...(check.created ? { created: check.created } : {}),
      commit: imported.commit,
      derived: pulled.derived,
      ...(pulled.derived ? { base: pulled.commit } : {}),
      ref: refName,
      layers: pulled.manifest.layers.length,
      layersFetched,
      bytesFetched,
      objects: imported.objects,
    };
  } catch (err) {
    await rm(importRepo, { recursive: true, force: true });
    await removeTags(cache, [pullingTag]).catch(() => undefined);
    throw err;
  } finally {
    await release?.();
    release = undefined;
    unregister();
  }
}

// ---------------------------------------------------------------------------------------------
// gc

/** Drop the cache's tags and blobs that the images to keep (by manifest digest) do not use. */
export async function gcImageCache(o: { sysroot: string; keep: string[] }): Promise<{ removedBytes: number }> {
  const cache = cacheDir(resolve(o.sysroot));
  if (!existsSync(cache)) return { removedBytes: 0 };
  const release = await lockCache(cache);
  try {
    await repairCacheIndex(cache);
    const { removedBytes } = await gcCache(cache, o.keep);
    return { removedBytes };
  } finally {
    await release();
  }
}
