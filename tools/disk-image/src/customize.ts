/**
 * Users and hostname written into the deployment's /etc and the stateroot's
 * /var, as the installed machine will see them (bootc-image-builder does the
 * same through osbuild stages). Plain file edits: no chroot, no useradd.
 *
 * The deployment is a directory on the host made from the commit, so nothing the
 * commit holds may lead an edit out of it: the files edited must be regular files
 * (a symlink /etc/shadow -> /etc/shadow would read and rewrite the host's), they are
 * replaced by a rename (never written through a link), and homes are made only in
 * the stateroot's /var, through no symlink.
 */
import { chmod, chown, lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { readBoundedText, READ_LIMITS, tempSibling, ToolError } from '@debian-atomic/lib';
import type { DiskConfig } from './config.js';

export interface UserResult {
  name: string;
  uid: number;
  home: string;
  groups: string[];
  sshKeys: number;
}

const lines = (text: string) => text.split('\n').filter((l) => l.length);

/** Days since the epoch for shadow's last-change field (SOURCE_DATE_EPOCH for reproducible images). */
function today(): number {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? Date.now() / 1000);
  return Math.floor(epoch / 86400);
}

const imageError = (summary: string) =>
  new ToolError('bad-image', summary, { hint: 'the commit carries something disk-image will not edit' });

/** A file of the image's /etc: a regular file (not a link out of the image), bounded. */
async function readEtc(etc: string, name: string, optional = false): Promise<{ text: string; st: Stats } | null> {
  const path = join(etc, name);
  const st = await lstat(path).catch(() => null);
  if (!st) {
    if (optional) return null;
    throw imageError(`the image has no /etc/${name}`);
  }
  if (!st.isFile())
    throw imageError(
      `the image's /etc/${name} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}: disk-image edits only regular files`,
    );
  return {
    text: await readBoundedText(path, { maxBytes: READ_LIMITS.attribute, what: `the image's /etc/${name}` }),
    st,
  };
}

/** Replace a file by a rename (never writing through a link), keeping the old one's owner and mode. */
async function replaceFile(path: string, text: string, like: Stats | null, mode?: number): Promise<void> {
  const tmp = tempSibling(path);
  try {
    await writeFile(tmp, text, { flag: 'wx', mode: 0o600 });
    if (like) await chown(tmp, like.uid, like.gid);
    await chmod(tmp, mode ?? (like ? like.mode & 0o7777 : 0o644));
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function customize(
  sysroot: string,
  deployment: string,
  osname: string,
  cfg: DiskConfig,
): Promise<{ users: UserResult[]; hostname: string | null }> {
  const etc = join(sysroot, deployment, 'etc');
  const varDir = join(sysroot, 'ostree/deploy', osname, 'var');
  if (cfg.hostname) {
    const path = join(etc, 'hostname');
    const st = await lstat(path).catch(() => null);
    if (st?.isDirectory()) throw imageError(`the image's /etc/hostname is a directory`);
    await replaceFile(path, `${cfg.hostname}\n`, st?.isFile() ? st : null);
  }
  const results: UserResult[] = [];
  // uids the config asks for are not given to the users it leaves to number automatically.
  const reserved = new Set((cfg.users ?? []).flatMap((u) => (u.uid === undefined ? [] : [u.uid])));
  for (const u of cfg.users ?? []) results.push(await addUser(etc, varDir, u, reserved));
  return { users: results, hostname: cfg.hostname ?? null };
}

type User = NonNullable<DiskConfig['users']>[number];

/** Regular users' ids (Debian policy 9.2.2): below is the system's, above is nobody and dynamic ranges. */
const FIRST_UID = 1000;
const LAST_UID = 59999;

async function addUser(etc: string, varDir: string, u: User, reserved: Set<number>): Promise<UserResult> {
  const passwdFile = (await readEtc(etc, 'passwd'))!;
  const groupFile = (await readEtc(etc, 'group'))!;
  const shadowFile = (await readEtc(etc, 'shadow'))!;
  const gshadowFile = await readEtc(etc, 'gshadow', true);
  const passwd = lines(passwdFile.text);
  const group = lines(groupFile.text);
  const shadow = lines(shadowFile.text);
  const gshadow = lines(gshadowFile?.text ?? '');
  const existing = passwd.find((l) => l.startsWith(`${u.name}:`));
  let uid: number;
  let gid: number;
  let home: string;
  if (existing) {
    const f = existing.split(':');
    uid = Number(f[2]);
    gid = Number(f[3]);
    home = f[5] ?? '';
    // root may be customized (keys, password, groups); other system accounts are not logins to hand out.
    if (uid !== 0 && !(uid >= FIRST_UID && uid <= LAST_UID))
      throw new ToolError(
        'bad-config',
        `user ${u.name}: a system account of the image (uid ${f[2]}): the config may customize root and regular users, not system accounts`,
      );
    if (u.uid !== undefined && u.uid !== uid)
      throw new ToolError(
        'bad-config',
        `user ${u.name} exists in the image with uid ${uid}: the config cannot change an existing account's uid`,
      );
    if (u.shell !== undefined && u.shell !== f[6])
      throw new ToolError(
        'bad-config',
        `user ${u.name} exists in the image with the shell ${f[6]}: the config cannot change an existing account's shell`,
      );
  } else {
    if (group.some((l) => l.startsWith(`${u.name}:`)))
      throw new ToolError(
        'bad-config',
        `user ${u.name}: the image already has a group ${u.name} (a new user gets a group of its own name)`,
        { hint: "choose another user name, or list the group in the user's groups" },
      );
    const owners = new Map<number, string>();
    for (const l of [...passwd, ...group]) {
      const f = l.split(':');
      if (!owners.has(Number(f[2]))) owners.set(Number(f[2]), f[0]!);
    }
    if (u.uid !== undefined) {
      if (owners.has(u.uid))
        throw new ToolError(
          'bad-config',
          `user ${u.name}: uid ${u.uid} is already used in the image (by ${owners.get(u.uid)})`,
          { hint: 'leave uid out to take the next free one' },
        );
      uid = u.uid;
    } else {
      uid = FIRST_UID;
      while (owners.has(uid) || reserved.has(uid)) uid++;
      if (uid > LAST_UID)
        throw new ToolError('bad-config', `user ${u.name}: no free uid between ${FIRST_UID} and ${LAST_UID}`);
    }
    gid = uid;
    home = `/var/home/${u.name}`;
    passwd.push(`${u.name}:x:${uid}:${gid}::${home}:${u.shell ?? '/bin/bash'}`);
    group.push(`${u.name}:x:${gid}:`);
    shadow.push(`${u.name}:${u['password-hash'] ?? '!'}:${today()}:0:99999:7:::`);
    gshadow.push(`${u.name}:!::`);
  }
  if (existing && u['password-hash']) {
    const i = shadow.findIndex((l) => l.startsWith(`${u.name}:`));
    if (i < 0) throw imageError(`user ${u.name} is in the image's /etc/passwd but not in /etc/shadow`);
    const f = shadow[i]!.split(':');
    f[1] = u['password-hash'];
    shadow[i] = f.join(':');
  }
  for (const g of u.groups ?? []) {
    const i = group.findIndex((l) => l.startsWith(`${g}:`));
    if (i < 0) throw new ToolError('bad-config', `user ${u.name}: group ${g} does not exist in the image`);
    const f = group[i]!.split(':');
    const members = new Set((f[3] ?? '').split(',').filter(Boolean));
    members.add(u.name);
    f[3] = [...members].join(',');
    group[i] = f.join(':');
    const j = gshadow.findIndex((l) => l.startsWith(`${g}:`));
    if (j >= 0) {
      const gs = gshadow[j]!.split(':');
      const m = new Set((gs[3] ?? '').split(',').filter(Boolean));
      m.add(u.name);
      gs[3] = [...m].join(',');
      gshadow[j] = gs.join(':');
    }
  }
  // Where the home goes is checked before any file of /etc is replaced.
  const homeDir = await homeInVar(varDir, u.name, home);
  await replaceFile(join(etc, 'passwd'), passwd.join('\n') + '\n', passwdFile.st);
  await replaceFile(join(etc, 'group'), group.join('\n') + '\n', groupFile.st);
  await replaceFile(join(etc, 'shadow'), shadow.join('\n') + '\n', shadowFile.st, 0o640);
  if (gshadow.length)
    await replaceFile(join(etc, 'gshadow'), gshadow.join('\n') + '\n', gshadowFile?.st ?? null, 0o640);

  await mkdir(dirname(homeDir), { recursive: true, mode: 0o755 });
  await mkdir(homeDir, { recursive: true, mode: 0o700 });
  await chown(homeDir, uid, gid);
  const keys = u['ssh-keys'] ?? [];
  if (keys.length) {
    const ssh = join(homeDir, '.ssh');
    const st = await lstat(ssh).catch(() => null);
    if (st && !st.isDirectory())
      throw imageError(
        `user ${u.name}: ${home}/.ssh in the image's /var is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`,
      );
    await mkdir(ssh, { recursive: true, mode: 0o700 });
    await chown(ssh, uid, gid);
    const keysFile = join(ssh, 'authorized_keys');
    const old = await lstat(keysFile).catch(() => null);
    if (old?.isDirectory())
      throw imageError(`user ${u.name}: ${home}/.ssh/authorized_keys in the image's /var is a directory`);
    await replaceFile(keysFile, keys.join('\n') + '\n', null, 0o600);
    await chown(keysFile, uid, gid);
  }
  return { name: u.name, uid, home, groups: u.groups ?? [], sshKeys: keys.length };
}

/**
 * The home's directory in the stateroot's /var (/home -> var/home in the tree; root's is
 * /var/roothome). A home elsewhere, a "." or ".." part, or a symlink on the way is refused:
 * the account comes from the image's /etc/passwd, and the path must not lead out of /var.
 */
export async function homeInVar(varDir: string, user: string, home: string): Promise<string> {
  let rel: string;
  if (home === '/root') rel = 'roothome';
  else if (home.startsWith('/var/')) rel = home.slice('/var/'.length);
  else if (home.startsWith('/home/')) rel = home.slice(1);
  else
    throw imageError(
      `user ${user}: the home ${home} is not in /var/home or /root: disk-image makes homes only in the stateroot's /var`,
    );
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..'))
    throw imageError(`user ${user}: the home ${home} is not a plain path`);
  let dir = varDir;
  for (const p of parts) {
    dir = join(dir, p);
    const st = await lstat(dir).catch(() => null);
    if (st && !st.isDirectory())
      throw imageError(
        `user ${user}: ${home} passes ${dir}, ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}, in the image's /var`,
      );
  }
  return dir;
}
