/**
 * Users and hostname written into the deployment's /etc and the stateroot's
 * /var, as the installed machine will see them (bootc-image-builder does the
 * same through osbuild stages). Plain file edits: no chroot, no useradd.
 */
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ToolError } from '@debian-atomic/lib';
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

export async function customize(sysroot: string, deployment: string, osname: string, cfg: DiskConfig): Promise<{ users: UserResult[]; hostname: string | null }> {
  const etc = join(sysroot, deployment, 'etc');
  const varDir = join(sysroot, 'ostree/deploy', osname, 'var');
  if (cfg.hostname) await writeFile(join(etc, 'hostname'), `${cfg.hostname}\n`);
  const results: UserResult[] = [];
  for (const u of cfg.users ?? []) results.push(await addUser(etc, varDir, u));
  return { users: results, hostname: cfg.hostname ?? null };
}

type User = NonNullable<DiskConfig['users']>[number];

async function addUser(etc: string, varDir: string, u: User): Promise<UserResult> {
  const passwd = lines(await readFile(join(etc, 'passwd'), 'utf8'));
  const group = lines(await readFile(join(etc, 'group'), 'utf8'));
  const shadow = lines(await readFile(join(etc, 'shadow'), 'utf8'));
  const gshadow = lines(await readFile(join(etc, 'gshadow'), 'utf8').catch(() => ''));
  const existing = passwd.find((l) => l.startsWith(`${u.name}:`));
  let uid: number;
  let gid: number;
  let home: string;
  if (existing) {
    const f = existing.split(':');
    uid = Number(f[2]);
    gid = Number(f[3]);
    home = f[5]!;
  } else {
    const used = new Set([...passwd.map((l) => Number(l.split(':')[2])), ...group.map((l) => Number(l.split(':')[2]))]);
    uid = u.uid ?? 1000;
    while (used.has(uid)) uid++;
    gid = uid;
    home = `/var/home/${u.name}`;
    passwd.push(`${u.name}:x:${uid}:${gid}::${home}:${u.shell ?? '/bin/bash'}`);
    group.push(`${u.name}:x:${gid}:`);
    shadow.push(`${u.name}:${u['password-hash'] ?? '!'}:${today()}:0:99999:7:::`);
    gshadow.push(`${u.name}:!::`);
  }
  if (existing && u['password-hash']) {
    const i = shadow.findIndex((l) => l.startsWith(`${u.name}:`));
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
  await writeFile(join(etc, 'passwd'), passwd.join('\n') + '\n');
  await writeFile(join(etc, 'group'), group.join('\n') + '\n');
  await writeFile(join(etc, 'shadow'), shadow.join('\n') + '\n', { mode: 0o640 });
  await chmod(join(etc, 'shadow'), 0o640);
  if (gshadow.length) await writeFile(join(etc, 'gshadow'), gshadow.join('\n') + '\n', { mode: 0o640 });

  // The home lives in the stateroot's /var (home -> var/home in the tree; root's is /var/roothome).
  const homeInVar = home === '/root' ? join(varDir, 'roothome') : join(varDir, home.replace(/^\/var\//, ''));
  await mkdir(dirname(homeInVar), { recursive: true, mode: 0o755 });
  await mkdir(homeInVar, { recursive: true, mode: 0o700 });
  await chown(homeInVar, uid, gid);
  const keys = u['ssh-keys'] ?? [];
  if (keys.length) {
    const ssh = join(homeInVar, '.ssh');
    await mkdir(ssh, { recursive: true, mode: 0o700 });
    await writeFile(join(ssh, 'authorized_keys'), keys.join('\n') + '\n', { mode: 0o600 });
    await chown(ssh, uid, gid);
    await chown(join(ssh, 'authorized_keys'), uid, gid);
  }
  return { name: u.name, uid, home, groups: u.groups ?? [], sshKeys: keys.length };
}
