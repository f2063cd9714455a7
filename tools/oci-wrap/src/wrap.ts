/**
 * wrapCommit: an OSTree commit → an OCI image in the ostree container format
 * (ostree-ext's "tar export" v1, chunked): each layer carries ostree objects
 * under sysroot/ostree/repo/objects/ (content objects as plain files with their
 * ownership and mode, `.file-xattrs` + `.file-xattrs-link` beside them) and the
 * real paths as hardlinks to them, /usr/etc presented as /etc. Importing the
 * objects reproduces the commit bit for bit.
 */
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { parseGroup, parsePasswd, ToolError, type Progress } from '@debian-atomic/lib';
import { COMMIT_LAYER, componentOf, KERNEL_LAYER, planLayers, type Component } from './chunk.js';
import { presentedPath, type LayerContent, type LayerJob, type LayerResult } from './layer.js';
import {
  checkOutputLayout,
  MEDIA,
  readConfig,
  readManifest,
  sha256,
  tagManifest,
  writeBlob,
  type ImageConfig,
  type Manifest,
} from './oci.js';
import { presentVar, TMPFILES_DIR, type VarPresentation } from './var.js';
import { DPKG_INFO, listPackage, ownersFromLists } from './packages.js';
import {
  commitDetails,
  readCommitTree,
  readContentObject,
  requireArchiveRepo,
  resolveRef,
  type CommitTree,
  type TreeFile,
} from './tree.js';

export const COMPONENTS = 'ostree.components';
export const REF_LABEL = 'org.debian-atomic.ref';

export interface WrapOptions {
  repo: string;
  ref: string;
  dir: string;
  tag: string;
  maxLayers: number;
  previous?: { dir: string; tag: string } | undefined;
  gzipLevel?: number;
  progress?: Progress | undefined;
}

export interface WrapResult {
  commit: string;
  image: string;
  manifest: string;
  layers: { digest: string; size: number; components: string[] }[];
  changedLayers?: number;
  bytes: number;
  seconds: number;
}

/** Owners of the tree's paths, from the dpkg .list files in the commit. */
async function treeOwners(repo: string, tree: CommitTree): Promise<Map<string, string>> {
  const lists = new Map<string, string>();
  const files = tree.files.filter(
    (f) => f.path.startsWith(DPKG_INFO) && !f.symlink && listPackage(f.path.slice(DPKG_INFO.length)),
  );
  const contents = await Promise.all(files.map((f) => readContentObject(repo, f.checksum)));
  files.forEach((f, i) => {
    const pkg = listPackage(f.path.slice(DPKG_INFO.length))!;
    lists.set(pkg, (lists.get(pkg) ?? '') + contents[i]!.content.toString('utf8'));
  });
  return ownersFromLists(lists);
}

/** The tmpfiles.d files of the commit (an /etc one overrides /usr/lib's of its name) and its accounts → var.ts. */
async function imageVar(repo: string, tree: CommitTree): Promise<VarPresentation> {
  const text = async (f: TreeFile) => (await readContentObject(repo, f.checksum)).content.toString('utf8');
  const confs = new Map<string, TreeFile>();
  for (const dir of [TMPFILES_DIR, 'usr/etc/tmpfiles.d/']) {
    for (const f of tree.files) {
      const name = f.path.slice(dir.length);
      if (f.path.startsWith(dir) && !name.includes('/') && name.endsWith('.conf')) {
        if (f.symlink)
          confs.delete(name); // masked (a link to /dev/null)
        else confs.set(name, f);
      }
    }
  }
  const files = new Map<string, string>();
  for (const [name, f] of confs) files.set(name, await text(f));
  const table = async (path: string, parse: (t: string) => { name: string; id: number }[]) => {
    const f = tree.files.find((x) => x.path === path && !x.symlink);
    return new Map(f ? parse(await text(f)).map((e) => [e.name, e.id]) : []);
  };
  const users = await table('usr/etc/passwd', (t) => parsePasswd(t).map((u) => ({ name: u.name, id: u.uid })));
  const groups = await table('usr/etc/group', (t) => parseGroup(t).map((g) => ({ name: g.name, id: g.gid })));
  return presentVar(files, { users, groups }, tree.files);
}

async function previousLayers(prev: {
  dir: string;
  tag: string;
}): Promise<{ components: string[][]; digests: Set<string> }> {
  const { manifest } = await readManifest(prev.dir, prev.tag);
  const components = manifest.layers.map((l) =>
    (l.annotations?.[COMPONENTS] ?? '').split(',').filter((c) => c && c !== COMMIT_LAYER),
  );
  return { components: components.filter((c) => c.length), digests: new Set(manifest.layers.map((l) => l.digest)) };
}

export async function wrapCommit(o: WrapOptions): Promise<WrapResult> {
  const started = Date.now();
  const p = o.progress;
  if (!Number.isInteger(o.maxLayers) || o.maxLayers < 4)
    throw new ToolError('usage', `--max-layers must be an integer of at least 4 (got ${o.maxLayers})`, { exitCode: 2 });
  // The image inputs first: a bad --output or --previous is refused before the commit is read.
  await checkOutputLayout(o.dir);
  const prev = o.previous ? await previousLayers(o.previous) : undefined;
  p?.step(`reading ${o.ref}`);
  await requireArchiveRepo(o.repo, o.ref);
  const commit = await resolveRef(o.repo, o.ref);
  const [tree, details] = await Promise.all([readCommitTree(o.repo, commit), commitDetails(o.repo, commit)]);
  const owners = await treeOwners(o.repo, tree);

  // Components and their sizes (an object counted once per component).
  const fileComponent = new Map<TreeFile, string | undefined>();
  const sizes = new Map<string, number>();
  for (const f of tree.files) {
    const c = componentOf(f.path, owners.get(f.path));
    fileComponent.set(f, c);
    if (c) sizes.set(c, (sizes.get(c) ?? 0) + f.size);
  }
  const components: Component[] = [...sizes].map(([name, size]) => ({ name, size }));
  const plan = planLayers(components, o.maxLayers, prev?.components);

  // Each content object lives in the lowest layer any of its paths belongs to; its paths go with it.
  const objectLayer = new Map<string, number>();
  for (const f of tree.files) {
    const c = fileComponent.get(f);
    const i = c === undefined ? 0 : plan.index.get(c)!;
    objectLayer.set(f.checksum, Math.min(i, objectLayer.get(f.checksum) ?? Infinity));
  }
  const layers: LayerContent[] = plan.layers.map((components) => ({ components, objects: [], paths: [] }));
  for (const [checksum, i] of objectLayer) layers[i]!.objects.push(checksum);
  for (const f of tree.files) layers[objectLayer.get(f.checksum)!]!.paths.push(f);
  // The /var of a first boot, for containers run from the image: its files beside their factory copies.
  const varView = await imageVar(o.repo, tree);
  for (const [path, f] of varView.copies) layers[objectLayer.get(f.checksum)!]!.paths.push({ ...f, path });
  for (const l of layers) {
    l.objects.sort();
    l.paths.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  await mkdir(`${o.dir}/blobs/sha256`, { recursive: true });
  const results: LayerResult[] = new Array(layers.length);
  let next = 0;
  const workers = Math.max(1, Math.min(layers.length, Number(process.env.OCI_WRAP_WORKERS) || availableParallelism()));
  p?.step(`${layers.length} layers for ${tree.files.length} files (${components.length} components)`);
  // Largest layers first, so the workers finish together.
  const order = layers
    .map((l, i) => ({ i, size: l.objects.length === 0 ? 0 : l.paths.reduce((s, f) => s + f.size, 0) }))
    .sort((a, b) => b.size - a.size || a.i - b.i);
  const pool = Array.from({ length: workers }, () => new LayerWorker());
  try {
    await Promise.all(
      pool.map(async (w) => {
        while (next < order.length) {
          const i = order[next++]!.i;
          results[i] = await w.run({
            repo: o.repo,
            dir: o.dir,
            tree: { commit: tree.commit, dirs: i === 0 ? tree.dirs : [], var: i === 0 ? varView.entries : [] },
            layer: layers[i]!,
            first: i === 0,
            level: o.gzipLevel ?? 1,
          });
        }
      }),
    );
  } finally {
    await Promise.all(pool.map((w) => w.close()));
  }

  const kver = tree.files.map((f) => /^usr\/lib\/modules\/([^/]+)\/vmlinuz$/.exec(f.path)?.[1]).find(Boolean);
  const labels: Record<string, string> = {
    'containers.bootc': '1',
    'ostree.bootable': '1',
    'ostree.commit': tree.commit,
    'ostree.final-diffid': results.at(-1)!.diffId,
    [REF_LABEL]: o.ref,
    ...(kver ? { 'ostree.linux': kver } : {}),
    ...(details.version ? { 'org.opencontainers.image.version': details.version } : {}),
  };
  const created = new Date(details.timestamp * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const layerNames = layers.map((l, i) => (i === 0 ? COMMIT_LAYER : l.components.join(',')));
  const config: ImageConfig = {
    architecture: ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch,
    os: 'linux',
    created,
    config: { Labels: labels },
    rootfs: { type: 'layers', diff_ids: results.map((r) => r.diffId) },
    history: layerNames.map((name) => ({
      created,
      created_by: 'oci-wrap',
      comment: name.length > 200 ? `${name.slice(0, 197)}...` : name,
    })),
  };
  const configBlob = await writeBlob(o.dir, Buffer.from(JSON.stringify(config)));
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: configBlob.digest, size: configBlob.size },
    layers: results.map((r, i) => ({
      mediaType: MEDIA.layerGzip,
      digest: r.digest,
      size: r.size,
      annotations: { [COMPONENTS]: layerNames[i]! },
    })),
    annotations: {
      'ostree.commit': tree.commit,
      ...(details.version ? { 'org.opencontainers.image.version': details.version } : {}),
    },
  };
  const manifestBlob = await writeBlob(o.dir, Buffer.from(JSON.stringify(manifest)));
  await tagManifest(o.dir, o.tag, { mediaType: MEDIA.manifest, digest: manifestBlob.digest, size: manifestBlob.size });
  return {
    commit: tree.commit,
    image: `oci:${o.dir}:${o.tag}`,
    manifest: manifestBlob.digest,
    layers: results.map((r, i) => ({
      digest: r.digest,
      size: r.size,
      components: i === 0 ? [COMMIT_LAYER] : layers[i]!.components,
    })),
    ...(prev ? { changedLayers: results.filter((r) => !prev.digests.has(r.digest)).length } : {}),
    bytes: results.reduce((s, r) => s + r.bytes, 0),
    seconds: (Date.now() - started) / 1000,
  };
}

export { sha256, readConfig, KERNEL_LAYER, presentedPath };

/** One worker thread writing layers, one job at a time. */
class LayerWorker {
  private readonly worker = new Worker(
    new URL(import.meta.url.endsWith('.ts') ? './layer-worker.ts' : './layer-worker.js', import.meta.url),
  );
  run(job: LayerJob): Promise<LayerResult> {
    return new Promise((resolve, reject) => {
      const onMessage = (
        m: { ok: true; result: LayerResult } | { ok: false; error: { code?: string; message: string } },
      ) => {
        this.worker.off('error', onError);
        if (m.ok) resolve(m.result);
        else reject(m.error.code ? new ToolError(m.error.code, m.error.message) : new Error(m.error.message));
      };
      const onError = (err: Error) => {
        this.worker.off('message', onMessage);
        reject(err);
      };
      this.worker.once('message', onMessage);
      this.worker.once('error', onError);
      this.worker.postMessage(job);
    });
  }
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
