/**
 * applyTreefile: what the treefile says beyond packages, done in the built tree.
 * Commands run inside the tree through bubblewrap without network, so they see
 * the tree's own systemctl and dpkg, never the host's.
 */
import { chmod, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import {
  canonicalJson,
  READ_LIMITS,
  readBoundedFile,
  readBoundedText,
  sandboxRun,
  ToolError,
  type Progress,
} from '@debian-atomic/lib';
import { LIMITS, type ResolvedTreefile } from '@debian-atomic/treefile-lint';
import { ADD_FILE_MAX_BYTES } from './inputs.js';
import { inTreePath, inTreeTarget } from './intree.js';
import { parseDpkgStatus, type PackageEntry } from './manifest.js';
import { DRACUT_HOOK, DRACUT_HOOK_DIVERTED } from './mmdebstrap.js';

export const META_DIR = 'usr/share/debian-atomic';

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

async function inTree(
  root: string,
  cmd: string,
  args: string[],
  what: string,
  extra: { roBinds?: string[]; env?: Record<string, string> } = {},
) {
  return sandboxRun({ root, roBinds: extra.roBinds, env: extra.env, cwd: '/' }, cmd, args, { what });
}

/** Generates host keys on first boot: keys baked into an image would be shared by every machine. */
const SSH_KEYGEN_UNIT = `[Unit]
Description=Generate SSH host keys (Debian Atomic images ship none)
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service
[Service]
Type=oneshot
# ed25519 and ECDSA only: RSA key generation takes minutes on slow or emulated CPUs.
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
ExecStart=/usr/bin/ssh-keygen -q -t ecdsa -N "" -f /etc/ssh/ssh_host_ecdsa_key
[Install]
WantedBy=multi-user.target
`;

/**
 * The NVMe host NQN and host ID name this host to NVMe-oF targets: nvme-cli's postinst makes
 * them at install time, so a shipped pair would be the same on every machine (and the commit
 * would change with every build). Made on first boot instead, the ID from the NQN's UUID.
 */
const NVME_HOSTNQN_UNIT = `[Unit]
Description=Generate the NVMe host NQN and host ID (Debian Atomic images ship none)
ConditionPathExists=|!/etc/nvme/hostnqn
ConditionPathExists=|!/etc/nvme/hostid
DefaultDependencies=no
RequiresMountsFor=/etc
Before=sysinit.target nvmefc-boot-connections.service nvmf-autoconnect.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /etc/nvme && { [ -s /etc/nvme/hostnqn ] || /usr/sbin/nvme gen-hostnqn > /etc/nvme/hostnqn; } && { [ -s /etc/nvme/hostid ] || sed -n "s/.*:uuid://p" /etc/nvme/hostnqn > /etc/nvme/hostid; }'
[Install]
WantedBy=sysinit.target
`;

/** First-boot units rootfs adds for the per-machine identity it strips, by the program they need. */
const FIRST_BOOT_UNITS: Array<{ program: string; unit: string; text: string }> = [
  { program: 'usr/sbin/sshd', unit: 'debian-atomic-ssh-keygen.service', text: SSH_KEYGEN_UNIT },
  { program: 'usr/sbin/nvme', unit: 'debian-atomic-nvme-hostnqn.service', text: NVME_HOSTNQN_UNIT },
];

export async function applyTreefile(root: string, tf: ResolvedTreefile, progress?: Progress): Promise<PackageEntry[]> {
  // Give the kernel's dracut hook back to its package (it stayed diverted during the build).
  if (await exists(join(root, DRACUT_HOOK_DIVERTED.slice(1)))) {
    await rm(join(root, DRACUT_HOOK.slice(1)), { force: true });
    await inTree(
      root,
      'dpkg-divert',
      ['--quiet', '--local', '--rename', '--remove', DRACUT_HOOK],
      'restore the dracut kernel hook',
    );
  }

  // Destinations are resolved inside the tree: a symlink in it never sends a write or a delete to the host.
  for (const [src, dest] of tf['add-files'] ?? []) {
    const st = await stat(src).catch(() => null);
    if (!st?.isFile()) throw new ToolError('add-files', `add-files: ${src}: not a readable file`);
    const data = await readBoundedFile(src, { maxBytes: ADD_FILE_MAX_BYTES, what: 'add-files source' });
    const target = await inTreeTarget(root, dest);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, data);
    await chmod(target, st.mode & 0o777);
  }
  for (const rel of tf['remove-files'] ?? []) {
    const target = await inTreePath(root, rel);
    if (target === root) throw new ToolError('remove-files', `remove-files: ${rel}: names the root of the tree`);
    await rm(target, { recursive: true, force: true });
  }

  // Image hygiene: per-machine identity is created on first boot, never shipped.
  await rm(await inTreePath(root, 'var/lib/dbus/machine-id'), { force: true });
  if (tf['machineid-compat'] === false) await rm(await inTreePath(root, 'etc/machine-id'), { force: true });
  else await writeFile(await inTreeTarget(root, 'etc/machine-id'), '');
  // Every host key type the package generated (forky adds mldsa44_ed25519), never only the known ones.
  const sshDir = await inTreePath(root, 'etc/ssh');
  for (const f of await readdir(sshDir).catch(() => [] as string[]))
    if (/^ssh_host_.*_key(\.pub)?$/.test(f)) await rm(join(sshDir, f), { force: true });
  for (const f of ['hostnqn', 'hostid']) await rm(await inTreePath(root, `etc/nvme/${f}`), { force: true });
  const firstBoot: string[] = [];
  for (const u of FIRST_BOOT_UNITS) {
    if (!(await exists(join(root, u.program)))) continue;
    await writeFile(await inTreeTarget(root, `usr/lib/systemd/system/${u.unit}`), u.text);
    firstBoot.push(u.unit);
  }

  const units = [...(tf.units ?? []), ...firstBoot];
  if (units.length) {
    progress?.step(`enabling ${units.join(' ')}`);
    await inTree(root, 'systemctl', ['enable', ...units], `enable units ${units.join(', ')}`);
  }
  if (tf['default-target'])
    await inTree(
      root,
      'systemctl',
      ['set-default', tf['default-target']],
      `set the default target ${tf['default-target']}`,
    );
  if (tf['tmp-is-dir']) await inTree(root, 'systemctl', ['mask', 'tmp.mount'], 'make /tmp a directory');

  const scripts: Array<[string, string]> = (tf.postprocess ?? []).map((s, i) => [`postprocess[${i}]`, s]);
  if (tf['postprocess-script'])
    scripts.push([
      tf['postprocess-script'],
      await readBoundedText(tf['postprocess-script'], { maxBytes: LIMITS.script, what: 'postprocess-script' }),
    ]);
  for (const [name, body] of scripts) await runPostprocess(root, name, body, progress);

  const manifest = parseDpkgStatus(
    await readBoundedText(await inTreePath(root, 'var/lib/dpkg/status'), {
      maxBytes: READ_LIMITS.large,
      what: 'dpkg status',
    }),
  );
  await mkdir(await inTreePath(root, META_DIR), { recursive: true });
  await writeFile(await inTreeTarget(root, `${META_DIR}/treefile.json`), canonicalJson(await treefileForImage(tf)));
  await writeFile(await inTreeTarget(root, `${META_DIR}/packages.json`), canonicalJson(manifest));
  return manifest;
}

/**
 * The treefile as recorded in the image: host paths (add-files sources, the
 * postprocess script, the hwdetect policy) become content digests, so the commit
 * does not depend on where the checkout lives.
 */
export async function treefileForImage(tf: ResolvedTreefile): Promise<ResolvedTreefile> {
  const digest = async (p: string, maxBytes = ADD_FILE_MAX_BYTES) =>
    `sha256:${createHash('sha256')
      .update(await readBoundedFile(p, { maxBytes }))
      .digest('hex')}`;
  const out: Record<string, unknown> = { ...tf };
  if (tf['add-files'])
    out['add-files'] = await Promise.all(tf['add-files'].map(async ([src, dest]) => [await digest(src), dest]));
  if (tf['postprocess-script']) out['postprocess-script'] = await digest(tf['postprocess-script']);
  if (tf['hwdetect-policy'])
    out['hwdetect-policy'] = await digest(tf['hwdetect-policy'], READ_LIMITS.config).catch(() =>
      basename(tf['hwdetect-policy']!),
    );
  return out as ResolvedTreefile;
}

/** A postprocess script runs as the tree's root, in the tree, with no network; failure names it and shows its output. */
async function runPostprocess(root: string, name: string, body: string, progress?: Progress): Promise<void> {
  progress?.step(`postprocess ${name}`);
  // An earlier script may have left a symlink here: resolved inside the tree, never on the host.
  const dir = await inTreePath(root, 'run/debian-atomic');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const script = join(dir, 'postprocess');
  await writeFile(script, body.startsWith('#!') ? body : `#!/bin/sh\nset -e\n${body}`, { mode: 0o755 });
  const env: Record<string, string> = { DEBIAN_ATOMIC_POSTPROCESS: basename(name) };
  if (process.env.SOURCE_DATE_EPOCH) env.SOURCE_DATE_EPOCH = process.env.SOURCE_DATE_EPOCH;
  try {
    await inTree(root, '/run/debian-atomic/postprocess', [], `postprocess ${name}`, { env });
  } catch (err) {
    const detail = err instanceof ToolError ? err.detail : String(err);
    throw new ToolError('postprocess-failed', `postprocess script ${name} failed`, {
      detail: detail || '(no output)',
      cause: err,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
