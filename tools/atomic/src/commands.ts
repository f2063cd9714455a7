/** The subcommands: read the sysroot, call the library, print human text or JSON on stdout. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Io as StandardIo, Progress, run, ToolError, usageError, warn, writeJson } from '@debian-atomic/lib';
import { TOOL } from './main.js';
import { deploy, hasEdits, commitKargs, type DeployResult, type KargsEdits } from './deploy.js';
import { describeOrigin, hasRequests, isImageReference, type Origin } from './origin.js';
import { pullRefspec, parseRefspec, type CommitInfo } from './ostree-remote.js';
import type { EspSystem, EspWriter } from './esp.js';
import type { UpdateOutcome } from './bootloader.js';
import {
  API_VERSION,
  bootloaderStatusJsonSchema,
  BootloaderStatusSchema,
  BootloaderUpdateSchema,
  hostJsonSchema,
  HostSchema,
  type BootloaderSummary,
} from './schema.js';
import { formatStatus, hostDocument } from './status.js';
import { ostree, readDeployments, repoOf, type Deployment } from './sysroot.js';

/** The standard streams (stderr: progress and warnings), and what tests replace. */
export interface Io extends StandardIo {
  /** Reboot the machine (`systemctl reboot`, or the automatic timer's command); tests replace it. */
  reboot: (command: readonly string[]) => Promise<void>;
  /** findmnt, mount and umount of the ESP, and where (esp.ts's SYSTEM_ESP); tests replace parts. */
  esp?: Partial<EspSystem> | undefined;
  /** How ESP files are written (esp.ts's DURABLE); tests replace it. */
  espWriter?: EspWriter | undefined;
  /** Questions on the terminal (install to-disk); null: none; default: the terminal if stdin is one. */
  ask?: ((question: string) => Promise<string>) | null | undefined;
}

export function defaultIo(io: Partial<Io> | undefined): Io {
  return {
    stdout: io?.stdout ?? process.stdout,
    stderr: io?.stderr ?? process.stderr,
    stdin: io?.stdin ?? process.stdin,
    esp: io?.esp,
    espWriter: io?.espWriter,
    ask: io?.ask,
    reboot:
      io?.reboot ??
      (async (command) => {
        await run(command[0]!, command.slice(1), { what: 'reboot into the new deployment' });
      }),
  };
}

interface Target {
  sysroot: string;
  os?: string | undefined;
  quiet: boolean;
}

const REBOOT = ['systemctl', 'reboot'] as const;

/** Changing the deployments of the running system is root's; a sysroot in a directory is whoever owns it. */
function requireRoot(sysroot: string, command: string): void {
  if (resolve(sysroot) === '/' && process.getuid?.() !== 0)
    throw new ToolError('not-root', `${command}: must run as root (sudo atomic ${command})`);
}

/** The deployments, the stateroot to work on, and the ones that matter for it. */
async function context(a: Target) {
  const deployments = await readDeployments(a.sysroot);
  const osnames = [...new Set(deployments.map((d) => d.osname))];
  const bootedAny = deployments.find((d) => d.booted);
  const osname = a.os ?? bootedAny?.osname ?? (osnames.length === 1 ? osnames[0] : undefined);
  if (osname === undefined) {
    if (osnames.length === 0)
      throw new ToolError('no-deployments', `${a.sysroot}: no deployments`, {
        hint: 'is this an OSTree sysroot? (ostree admin status)',
      });
    throw usageError(
      `${a.sysroot} has several stateroots (${osnames.join(', ')}) and none is booted: name one with --os`,
    );
  }
  const mine = deployments.filter((d) => d.osname === osname);
  if (mine.length === 0)
    throw usageError(
      `${a.sysroot}: no deployment of the stateroot '${osname}' (there are: ${osnames.join(', ') || 'none'})`,
    );
  const booted = mine.find((d) => d.booted);
  return {
    deployments,
    osname,
    mine,
    booted,
    /** What boots next: staged or pending if there is one, else the booted (or first) deployment. */
    next: mine[0]!,
    /** ostree stages on a booted system (finalized at shutdown) and refuses to elsewhere. */
    stage: bootedAny !== undefined,
  };
}

type Context = Awaited<ReturnType<typeof context>>;

// --- status ---

export async function statusCommand(
  a: Target & { json: boolean; jsonSchema: boolean; booted: boolean },
  io: Io,
): Promise<number> {
  if (a.jsonSchema) {
    writeJson(hostJsonSchema(), io.stdout);
    return 0;
  }
  const all = (await readDeployments(a.sysroot)).filter((d) => a.os === undefined || d.osname === a.os);
  const deployments = all.filter((d) => !a.booted || d.booted);
  const bootloader = await bootloaderSummary(a, all, io);
  if (a.json) writeJson(HostSchema.parse(hostDocument(deployments, bootloader)), io.stdout);
  else {
    io.stdout.write(a.booted && deployments.length === 0 ? 'No booted deployment.\n' : formatStatus(deployments));
    const line = (await bootloaderModule()).bootloaderStatusLine(bootloader);
    if (line) io.stdout.write(`\n${line}\n`);
  }
  return 0;
}

/** The boot loader against the booted image, for status; a problem with it is a warning, never a failed status. */
async function bootloaderSummary(
  a: Target,
  deployments: readonly Deployment[],
  io: Io,
): Promise<BootloaderSummary | null> {
  try {
    return await (await bootloaderModule()).bootloaderSummaryOf(a.sysroot, deployments);
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    warn(TOOL, `cannot compare the boot loader on the ESP with the image: ${err.summary}`, a.quiet, io.stderr);
    return null;
  }
}

const bootloaderModule = () => import('./bootloader.js');

// Images (image.ts) are loaded only for image origins: an OSTree-only system never reads it.
const images = () => import('./image.js');

// --- upgrade, switch ---

interface Fetched {
  commit: string;
  version?: string | undefined;
  origin: Origin;
  /** A line on what was fetched (image layers and bytes). */
  note?: string | undefined;
}

async function fetchOrigin(
  ctx: Context,
  sysroot: string,
  origin: Origin,
  o: { upgrade: boolean; quiet: boolean },
): Promise<Fetched> {
  if (origin.kind === 'image') {
    const pulled = await (
      await images()
    ).pullImage(origin.image, { sysroot, repo: repoOf(sysroot), progress: new Progress(TOOL, { quiet: o.quiet }) });
    return {
      commit: pulled.commit,
      version: pulled.version,
      origin: { kind: 'image', image: origin.image, digest: pulled.digest },
      note: `Fetched ${pulled.layersFetched} of ${pulled.layers} layers (${pulled.bytesFetched} bytes).${pulled.base ? ` A derived image: ${pulled.derived} layer(s) on base ${pulled.base.slice(0, 12)}.` : ''}`,
    };
  }
  const info: CommitInfo = await pullRefspec(
    sysroot,
    origin.refspec,
    o.upgrade ? { notOlderThan: baseCommit(ctx.next) } : {},
  );
  return { commit: info.commit, version: info.version, origin };
}

const versionText = (version: string | undefined, commit: string) =>
  `${version ? `${version} ` : ''}(${commit.slice(0, 12)})`;

/** What a deployment is built on: a layered one's base commit, or the commit itself. */
const baseCommit = (d: Deployment) => d.layered?.base ?? d.checksum;

function sameSource(d: Deployment, f: Fetched): boolean {
  if (baseCommit(d) !== f.commit) return false;
  if (d.origin === null) return false;
  if (d.origin.kind === 'ostree') return f.origin.kind === 'ostree' && f.origin.refspec === d.origin.refspec;
  return f.origin.kind === 'image' && f.origin.image === d.origin.image;
}

function kargsLine(r: DeployResult): string | null {
  const opts = [...r.deleted.map((k) => `--karg-delete=${k}`), ...r.appended.map((k) => `--karg-append=${k}`)];
  return opts.length ? `Kernel arguments from the image's kargs.d: ${opts.join(' ')}` : null;
}

async function deployAndReport(
  ctx: Context,
  a: Target,
  f: Fetched,
  io: Io,
  reboot: readonly string[] | null,
): Promise<number> {
  const requests = ctx.next.requests;
  if (hasRequests(requests)) {
    // Requests are state: every new base gets them again, or nothing is deployed.
    const p = await import('./packages.js');
    const t = {
      sysroot: a.sysroot,
      osname: ctx.osname,
      next: ctx.next,
      deployments: ctx.deployments,
      stage: ctx.stage,
    };
    const d = await p.deployLayered(t, f.commit, f.origin, requests, note(a, io)).catch((err: unknown) => {
      if (!(err instanceof ToolError)) throw err;
      throw new ToolError(
        'layering-failed',
        `the layered packages do not apply to ${versionText(f.version, f.commit)}: ${err.summary}`,
        {
          detail: err.detail,
          hint: `nothing was deployed; the current deployment stays as it is. 'atomic uninstall' or 'atomic override reset' what no longer applies, then upgrade again`,
          cause: err,
        },
      );
    });
    io.stdout.write(
      `${ctx.stage ? 'Staged' : 'Deployed'} ${versionText(f.version, f.commit)} from ${describeOrigin(f.origin)} with the layered packages (${p.describeLayered(d.layered)}) as ${d.commit.slice(0, 12)}.\n`,
    );
    if (f.origin.kind === 'image') await trimImageCache(a);
    return afterChange(io, reboot);
  }
  const r = await deploy({
    sysroot: a.sysroot,
    osname: ctx.osname,
    commit: f.commit,
    origin: f.origin,
    stage: ctx.stage,
    requests,
  });
  const k = kargsLine(r);
  if (k) io.stdout.write(`${k}\n`);
  io.stdout.write(
    `${ctx.stage ? 'Staged' : 'Deployed'} ${versionText(f.version, f.commit)} from ${describeOrigin(f.origin)}.\n`,
  );
  if (f.origin.kind === 'image') await trimImageCache(a);
  return afterChange(io, reboot);
}

/** The layer cache keeps the layers of the images deployments came from: what the next pull reuses. */
async function trimImageCache(a: Target): Promise<void> {
  const keep = (await readDeployments(a.sysroot)).flatMap((d) =>
    d.origin?.kind === 'image' && d.origin.digest ? [d.origin.digest] : [],
  );
  try {
    await (await images()).gcImageCache({ sysroot: a.sysroot, keep });
  } catch (err) {
    // The deployment is in place; a cache that could not be trimmed is trimmed next time.
    warn(
      TOOL,
      `could not trim the image layer cache: ${err instanceof ToolError ? err.summary : String(err)}`,
      a.quiet,
    );
  }
}

async function afterChange(io: Io, reboot: readonly string[] | null): Promise<number> {
  if (reboot) await io.reboot(reboot);
  else io.stdout.write("Run 'systemctl reboot' to boot into it.\n");
  return 0;
}

async function checkOnly(ctx: Context, a: Target, origin: Origin, io: Io): Promise<number> {
  let available: { version?: string | undefined; what: string } | null;
  if (origin.kind === 'image') {
    const c = await (await images()).inspectImage(origin.image, { sysroot: a.sysroot });
    const current = ctx.next.origin?.kind === 'image' ? ctx.next.origin.digest : undefined;
    available =
      c.digest === current
        ? null
        : {
            version: c.version,
            what: `${origin.image} ${c.digest}${c.base ? ` (derived image: ${c.derived} layer(s) on base ${c.base.slice(0, 12)})` : ''}`,
          };
  } else {
    const info = await pullRefspec(a.sysroot, origin.refspec, {
      metadataOnly: true,
      notOlderThan: baseCommit(ctx.next),
    });
    available =
      info.commit === baseCommit(ctx.next) ? null : { version: info.version, what: `${origin.refspec} ${info.commit}` };
  }
  io.stdout.write(
    available
      ? `Update available: ${available.version ? `${available.version}, ` : ''}${available.what}\n`
      : 'No update available.\n',
  );
  return 0;
}

export async function upgradeCommand(
  a: Target & {
    check?: boolean | undefined;
    downloadOnly?: boolean | undefined;
    reboot?: boolean | undefined;
    automatic?: boolean | undefined;
  },
  io: Io,
): Promise<number> {
  requireRoot(a.sysroot, 'upgrade');
  let check = a.check === true;
  let reboot: readonly string[] | null = a.reboot ? REBOOT : null;
  if (a.automatic) {
    const auto = await import('./auto.js');
    const action = auto.automaticAction(await auto.readAutoPolicy(a.sysroot));
    io.stdout.write(`${action.summary}\n`);
    if (!action.upgrade) return 0;
    check = action.check;
    reboot = action.reboot ? auto.AUTOMATIC_REBOOT_COMMAND : null;
  }
  const ctx = await context(a);
  const origin = ctx.next.origin;
  if (origin === null) {
    throw new ToolError(
      'no-origin',
      `deployment ${ctx.next.index} (${ctx.next.checksum.slice(0, 12)}) has no origin atomic can follow${ctx.next.originProblem ? `: ${ctx.next.originProblem}` : ''}`,
      {
        hint: 'atomic switch TARGET says where updates come from (docker://…, oci:…, REMOTE:REF)',
      },
    );
  }
  if (check) return checkOnly(ctx, a, origin, io);
  const f = await fetchOrigin(ctx, a.sysroot, origin, { upgrade: true, quiet: a.quiet });
  if (f.note) io.stdout.write(`${f.note}\n`);
  if (sameSource(ctx.next, f)) {
    io.stdout.write('No update available.\n');
    return 0;
  }
  if (a.downloadOnly) {
    io.stdout.write(
      `Downloaded ${versionText(f.version, f.commit)} from ${describeOrigin(f.origin)}; 'atomic upgrade' deploys it.\n`,
    );
    return 0;
  }
  return deployAndReport(ctx, a, f, io, reboot);
}

/** What `atomic switch TARGET` follows: an image reference (relative layout paths made absolute) or REMOTE:REF. */
export async function targetOrigin(target: string, cwd: string = process.cwd()): Promise<Origin> {
  if (isImageReference(target)) return { kind: 'image', image: (await images()).parseImageRef(target, cwd).reference };
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(target))
    throw usageError(`${target}: atomic follows docker://, oci: and oci-archive: images, or an OSTree REMOTE:REF`);
  parseRefspec(target);
  return { kind: 'ostree', refspec: target };
}

export async function switchCommand(
  a: Target & { target: string; reboot?: boolean | undefined },
  io: Io,
): Promise<number> {
  const origin = await targetOrigin(a.target);
  requireRoot(a.sysroot, 'switch');
  const ctx = await context(a);
  const f = await fetchOrigin(ctx, a.sysroot, origin, { upgrade: false, quiet: a.quiet });
  if (f.note) io.stdout.write(`${f.note}\n`);
  if (sameSource(ctx.next, f)) {
    io.stdout.write(`Already on ${describeOrigin(f.origin)}: nothing to do.\n`);
    return 0;
  }
  return deployAndReport(ctx, a, f, io, a.reboot ? REBOOT : null);
}

// --- rollback ---

export async function rollbackCommand(a: Target & { reboot?: boolean | undefined }, io: Io): Promise<number> {
  requireRoot(a.sysroot, 'rollback');
  const ctx = await context(a);
  if (ctx.mine.length < 2) throw new ToolError('no-rollback', 'there is only one deployment, nothing to roll back to');
  // ostree 2025.2 has no `admin rollback`. The booted deployment first if something else is
  // (that cancels a staged or pending update), else the one after it.
  const first = ctx.mine[0]!;
  const target = first.booted || !ctx.booted ? ctx.mine[1]! : ctx.booted;
  await ostree(
    ['admin', 'set-default', `--sysroot=${a.sysroot}`, String(target.index)],
    [a.sysroot],
    'make the previous deployment the default',
  );
  io.stdout.write('The previous deployment is now the default.\n');
  return afterChange(io, a.reboot ? REBOOT : null);
}

// --- kargs ---

export async function kargsCommand(
  a: Target & {
    append?: string[] | undefined;
    delete?: string[] | undefined;
    replace?: string[] | undefined;
    image?: boolean | undefined;
    reboot?: boolean | undefined;
  },
  io: Io,
): Promise<number> {
  const edits: KargsEdits = { append: a.append, delete: a.delete, replace: a.replace };
  if (!hasEdits(edits)) {
    if (a.reboot) throw usageError('-r: nothing to reboot into without --append, --delete or --replace');
    const ctx = await context(a);
    // The arguments of what runs now (or, on a sysroot that is not booted, of what boots next).
    const d = ctx.booted ?? ctx.next;
    if (a.image) io.stdout.write(commitKargsLines(await commitKargs(a.sysroot, d.checksum)));
    else io.stdout.write(`${d.kernelArgs.join(' ')}\n`);
    return 0;
  }
  requireRoot(a.sysroot, 'kargs');
  const ctx = await context(a);
  // As rpm-ostree kargs: edit what boots next (a staged update keeps its commit and origin).
  const base = ctx.next;
  if (base.origin === null)
    throw new ToolError(
      'no-origin',
      `deployment ${base.index} has no origin atomic can keep${base.originProblem ? `: ${base.originProblem}` : ''}`,
    );
  await deploy({
    sysroot: a.sysroot,
    osname: ctx.osname,
    commit: base.checksum,
    origin: base.origin,
    stage: ctx.stage,
    kargs: edits,
    fromImageKargs: false,
    baseKernelArgs: base.kernelArgs,
    requests: base.requests,
  });
  io.stdout.write(
    `Kernel arguments updated; ${ctx.stage ? 'staged' : 'deployed'} ${versionText(base.version, base.checksum)} with them.\n`,
  );
  return afterChange(io, a.reboot ? REBOOT : null);
}

const commitKargsLines = (kargs: string[]) => kargs.map((k) => `${k}\n`).join('');

// --- db (C's module) ---

interface Resolved {
  commit: string;
  description: string;
}

async function resolveRev(sysroot: string, deployments: readonly Deployment[], spec: string): Promise<Resolved> {
  if (/^\d+$/.test(spec)) {
    const d = deployments[Number(spec)];
    if (!d)
      throw usageError(
        `there is no deployment ${spec} (ostree admin status numbers them from 0 to ${deployments.length - 1})`,
      );
    return { commit: d.checksum, description: `deployment ${spec}` };
  }
  if (spec.startsWith('-')) throw usageError(`${spec}: not a commit, ref or deployment index`);
  const r = await ostree([`--repo=${repoOf(sysroot)}`, 'rev-parse', spec], [sysroot], `find ${spec}`).catch(() => {
    throw usageError(`${spec}: no such commit, ref or deployment index in ${repoOf(sysroot)}`);
  });
  const commit = r.stdout.trim();
  return { commit, description: commit.startsWith(spec) ? 'commit' : `ref ${spec}` };
}

const label = (d: Deployment, what: string): Resolved => ({ commit: d.checksum, description: `${what} deployment` });

export async function dbDiffCommand(
  a: Target & { from?: string | undefined; to?: string | undefined; json: boolean },
  io: Io,
): Promise<number> {
  const deployments = await readDeployments(a.sysroot);
  const booted = deployments.find((d) => d.booted);
  const upcoming = deployments.find((d) => d.staged) ?? deployments.find((d) => d.pending);
  const rollback = deployments.find((d) => d.rollback);
  let from: Resolved;
  let to: Resolved;
  if (a.from !== undefined) {
    from = await resolveRev(a.sysroot, deployments, a.from);
    if (a.to !== undefined) to = await resolveRev(a.sysroot, deployments, a.to);
    else if (booted) to = label(booted, 'booted');
    else if (deployments[0]) to = { commit: deployments[0].checksum, description: 'deployment 0' };
    else throw usageError('no deployments: name TO');
  } else if (booted && upcoming)
    [from, to] = [label(booted, 'booted'), label(upcoming, upcoming.staged ? 'staged' : 'pending')];
  else if (booted && rollback) [from, to] = [label(rollback, 'rollback'), label(booted, 'booted')];
  else if (!booted && deployments.length >= 2)
    [from, to] = [
      { commit: deployments[1]!.checksum, description: 'deployment 1' },
      { commit: deployments[0]!.checksum, description: 'deployment 0' },
    ];
  else throw usageError('there is only one deployment: name FROM and TO (commits, refs or deployment indexes)');
  const db = await import('./db.js');
  const repo = repoOf(a.sysroot);
  const diff = db.diffPackages(
    await db.packagesOfCommit(repo, from.commit),
    await db.packagesOfCommit(repo, to.commit),
  );
  if (a.json) writeJson(db.packageDiffJson(diff, from, to), io.stdout);
  else io.stdout.write(db.formatPackageDiff(diff, from, to));
  return 0;
}

export async function dbListCommand(
  a: Target & { commit?: string | undefined; json: boolean },
  io: Io,
): Promise<number> {
  const deployments = await readDeployments(a.sysroot);
  const booted = deployments.find((d) => d.booted);
  let of: Resolved;
  if (a.commit !== undefined) of = await resolveRev(a.sysroot, deployments, a.commit);
  else if (booted) of = label(booted, 'booted');
  else if (deployments[0]) of = { commit: deployments[0].checksum, description: 'deployment 0' };
  else throw usageError('no deployments: name a commit or ref');
  const db = await import('./db.js');
  const packages = await db.packagesOfCommit(repoOf(a.sysroot), of.commit);
  if (a.json) writeJson(db.packageListJson(packages, of), io.stdout);
  else io.stdout.write(db.formatPackageList(packages, of));
  return 0;
}

// --- bootloader (bootupd's job) ---

const note = (a: Target, io: Io) => (m: string) => {
  if (!a.quiet) io.stderr.write(`${TOOL}: ${m}\n`);
};

async function espDirOption(dir: string): Promise<string> {
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw usageError(`--esp ${dir}: not a directory`);
  return resolve(dir);
}

/** The state, the deployment compared with the ESP, and what it would put there. */
async function bootloaderContext(a: Target) {
  const bl = await bootloaderModule();
  const ctx = await context(a);
  const state = await bl.readBootloaderState(a.sysroot);
  if (!state) throw bl.noStateError(a.sysroot);
  const d = bl.bootloaderDeployment(ctx.mine)!;
  return { bl, state, d, image: await bl.readImageBootloader(a.sysroot, d) };
}

export async function bootloaderStatusCommand(
  a: Target & { json: boolean; jsonSchema: boolean; esp?: string | undefined },
  io: Io,
): Promise<number> {
  if (a.jsonSchema) {
    writeJson(bootloaderStatusJsonSchema(), io.stdout);
    return 0;
  }
  const espDir = a.esp === undefined ? undefined : await espDirOption(a.esp);
  const { bl, state, d, image } = await bootloaderContext(a);
  const esp = await import('./esp.js');
  const dir = espDir ?? (await esp.mountedEsp(state.esp.partuuid, { ...esp.SYSTEM_ESP, ...io.esp }));
  let check = null;
  if (dir !== null) {
    try {
      check = await esp.checkEsp(dir, state);
    } catch (err) {
      if (!(err instanceof ToolError) || espDir !== undefined) throw err;
      // The mounted ESP of a running system is root's (umask=0077): say so, report the rest.
      warn(TOOL, `cannot check the files on the ESP at ${dir}: ${err.summary}`, a.quiet, io.stderr);
    }
  }
  const s = BootloaderStatusSchema.parse(bl.bootloaderStatus(state, image, d, check));
  if (a.json) writeJson(s, io.stdout);
  else io.stdout.write(bl.formatBootloaderStatus(s));
  return 0;
}

export async function bootloaderUpdateCommand(
  a: Target & { json: boolean; esp?: string | undefined; allowDowngrade?: boolean | undefined },
  io: Io,
): Promise<number> {
  requireRoot(a.sysroot, 'bootloader update');
  const espDir = a.esp === undefined ? undefined : await espDirOption(a.esp);
  const { bl, state, d, image } = await bootloaderContext(a);
  const esp = await import('./esp.js');
  const say = note(a, io);
  const summary = bl.compareBootloader(state, image);
  let out: UpdateOutcome;
  if (summary.status === 'esp-newer' && !a.allowDowngrade)
    out = { result: 'esp-newer', written: [], removed: [], state };
  else {
    const o = { sysroot: a.sysroot, state, image, deployment: d, writer: io.espWriter ?? esp.DURABLE, note: say };
    out =
      espDir !== undefined
        ? await esp.updateEsp({ dir: espDir, writable: async () => undefined }, o)
        : await esp.withEsp(state.esp.partuuid, { ...esp.SYSTEM_ESP, ...io.esp }, say, (m) => esp.updateEsp(m, o));
  }
  if (a.json)
    writeJson(BootloaderUpdateSchema.parse({ apiVersion: API_VERSION, kind: 'BootloaderUpdate', ...out }), io.stdout);
  else io.stdout.write(bl.formatBootloaderUpdate(out, state, summary));
  return 0;
}

/** Ask on the terminal (prompts on stderr: stdout carries data only); null without a terminal. */
function terminalAsk(): ((q: string) => Promise<string>) | null {
  if (!process.stdin.isTTY) return null;
  return async (q) => {
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    try {
      return await rl.question(q);
    } finally {
      rl.close();
    }
  };
}

export async function installToDiskCommand(
  a: {
    device?: string | undefined;
    source?: string | undefined;
    config?: string | undefined;
    wipe?: boolean | undefined;
    targetImgref?: string | undefined;
    tlsVerify: boolean;
    sysroot: string;
    json: boolean;
    quiet: boolean;
  },
  io: Io,
): Promise<number> {
  const { installToDisk } = await import('./install.js');
  const r = await installToDisk(
    {
      device: a.device,
      source: a.source,
      config: a.config,
      wipe: a.wipe,
      targetImgref: a.targetImgref,
      tlsVerify: a.tlsVerify,
      sysroot: a.sysroot,
      progress: new Progress(TOOL, { quiet: a.quiet }),
    },
    { stderr: io.stderr, ask: io.ask === undefined ? terminalAsk() : io.ask },
  );
  if (a.json) writeJson(r, io.stdout);
  else
    io.stdout.write(
      [
        `Installed ${r.commit.slice(0, 12)}${r.version ? ` (${r.version})` : ''} on ${r.device} in ${r.seconds} s`,
        `  ESP  ${r.partitions[0]!.path}    root ${r.partitions[1]!.path} (ext4, UUID ${r.partitions[1]!.uuid})`,
        `  updates from: ${r.origin ? (r.origin.type === 'image' ? r.origin.image : r.origin.refspec) : 'nowhere (no origin: give --target-imgref, or remote or image in the config)'}`,
        ...(r.users.length ? [`  users: ${r.users.map((u) => u.name).join(', ')}`] : []),
        `  boot entry: ${r.bootEntry ?? 'none written (the firmware finds EFI/BOOT/BOOTX64.EFI)'}`,
        '',
      ].join('\n'),
    );
  return 0;
}

// --- install PKG, uninstall, override (client-side layering) ---

export async function packagesCommand(
  a: Target & { edit: import('./packages.js').RequestEdit; reboot?: boolean | undefined; json?: boolean | undefined },
  io: Io,
): Promise<number> {
  const command =
    a.edit.op === 'install' || a.edit.op === 'uninstall'
      ? a.edit.op
      : `override ${a.edit.op.slice('override-'.length)}`;
  requireRoot(a.sysroot, command);
  const ctx = await context(a);
  const next = ctx.next;
  if (next.origin === null)
    throw new ToolError(
      'no-origin',
      `deployment ${next.index} has no origin to record the packages in${next.originProblem ? `: ${next.originProblem}` : ''}`,
    );
  const p = await import('./packages.js');
  const t = { sysroot: a.sysroot, osname: ctx.osname, next, deployments: ctx.deployments, stage: ctx.stage };
  const requests = await p.editRequests(t, next.requests, a.edit);
  const d = await p.deployLayered(t, p.baseOf(next), next.origin, requests, note(a, io));
  if (a.json)
    writeJson(
      {
        apiVersion: API_VERSION,
        kind: 'Layering',
        commit: d.commit,
        baseCommit: d.base,
        staged: ctx.stage,
        requests: {
          requested: requests.packages,
          requestedLocal: requests.local.map((l) => `${l.sha256}:${l.name}`),
          removed: requests.remove,
        },
        added: d.layered?.added ?? [],
        removed: d.layered?.removed ?? [],
        seconds: d.layered?.seconds ?? 0,
      },
      io.stdout,
    );
  else
    io.stdout.write(
      `${ctx.stage ? 'Staged' : 'Deployed'} ${d.commit.slice(0, 12)} on ${versionText(next.version, d.base)}: ${p.describeLayered(d.layered)}.\n`,
    );
  if (a.reboot) await io.reboot(REBOOT);
  else if (!a.json) io.stdout.write("Run 'systemctl reboot' to boot into it.\n");
  return 0;
}

// --- container lint ---

export async function containerLintCommand(
  a: {
    rootfs: string;
    json: boolean;
    list: boolean;
    fatalWarnings: boolean;
    truncate: boolean;
    skip?: string[] | undefined;
  },
  io: Io,
): Promise<number> {
  const lint = await import('./lint.js');
  if (a.list) {
    io.stdout.write(lint.formatLints());
    return 0;
  }
  const unknown = (a.skip ?? []).filter((s) => !lint.LINTS.some((l) => l.name === s));
  if (unknown.length)
    throw usageError(
      `--skip ${unknown.join(', ')}: no such lint`,
      `the lints: ${lint.LINTS.map((l) => l.name).join(', ')}`,
    );
  const st = await stat(a.rootfs).catch(() => null);
  if (!st?.isDirectory()) throw usageError(`${a.rootfs}: not a directory (--rootfs names the tree to check)`);
  const findings = await lint.lintRoot(a.rootfs, { skip: a.skip });
  if (a.json) writeJson(findings, io.stdout);
  else io.stdout.write(lint.formatFindings(findings, { noTruncate: !a.truncate }));
  return findings.some((f) => f.level === 'error' || a.fatalWarnings) ? 1 : 0;
}
