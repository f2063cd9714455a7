/**
 * Hostile input, as an attacker or a careless user would give it: the real comps-sync
 * (dist/bin.js), one process per case, capped in time and memory (tools/lib's harness).
 * Offline cases hand it files (--desc, --packages, tasks.yaml); the mirror cases serve a
 * signed suite from 127.0.0.1 (a throwaway key), so the network is never needed.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { hostileSuite, type HostileCase } from '../../lib/test/fixtures/hostile.js';
import { deb, DESC_DIRS, DESC_MEMBER, gzipBombTar, tar } from './fixtures/deb.js';
import { fixture, makeKey } from './fixtures/mirror.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
// ~0.3 s a case on an idle machine; each case has its own cap (15 s), this is the file's on a loaded one.
t.setTimeout(300_000);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const xz = (data: string | Buffer) => execFileSync('xz', ['-0', '-c'], { input: data, maxBuffer: 64 << 20 });

const PACKAGES = readFileSync(fixture('trixie', 'Packages-amd64'), 'utf8');
const DESC = readFileSync(fixture('trixie', 'debian-tasks.desc'), 'utf8');
const TASKS = 'tasks:\n  ssh-server:\n    description: SSH server\n';
/** 640 MiB of zeros as concatenated xz streams (~100 kB): xz -dc reads them as one. */
const XZ_BOMB = Buffer.concat(Array(80).fill(xz(Buffer.alloc(8 << 20))));
const offline = (desc: string, packages = fixture('trixie', 'Packages-amd64')) => [
  '--desc',
  desc,
  '--arch',
  'amd64',
  '--packages',
  packages,
  '{dir}/tasks.yaml',
];
const withDesc = (members: Parameters<typeof tar>[0]) => deb(tar([...DESC_DIRS, ...members]));

// A signed mirror on 127.0.0.1: one suite per case, each with its own Release and Packages.xz.
const key = await makeKey();
t.teardown(() => key.close());
const site = new Map<string, Buffer | 'endless'>();
const server = createServer((req, res) => {
  const body = site.get(new URL(req.url ?? '/', 'http://x').pathname);
  if (body === undefined) {
    res.writeHead(404).end();
  } else if (body === 'endless') {
    // An InRelease that never ends: 1 MiB at a time while the client keeps reading.
    res.writeHead(200);
    const chunk = Buffer.alloc(1 << 20, 'A');
    const more = () => {
      while (!res.destroyed && res.write(chunk));
    };
    res.on('drain', more);
    more();
  } else {
    res.writeHead(200, { 'content-length': body.length }).end(body);
  }
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
t.teardown(() => {
  server.closeAllConnections();
  server.close();
});
const mirror = `http://127.0.0.1:${(server.address() as { port: number }).port}/debian`;

async function suite(name: string, packagesXz: Buffer, sums?: string): Promise<string> {
  const release = [
    'Origin: Debian',
    `Codename: ${name}`,
    'Date: Sat, 12 Sep 2026 07:55:41 UTC',
    'Architectures: all amd64',
    'Components: main',
    ...(sums === undefined
      ? ['SHA256:', ` ${sha256(packagesXz)} ${packagesXz.length} main/binary-amd64/Packages.xz`]
      : [sums]),
    '',
  ].join('\n');
  site.set(`/debian/dists/${name}/InRelease`, Buffer.from(await key.clearsign(release)));
  site.set(`/debian/dists/${name}/main/binary-amd64/Packages.xz`, packagesXz);
  return sha256(packagesXz);
}
const goodXz = xz(PACKAGES);
const goodSha = await suite('good', goodXz);
site.set(
  '/debian/pool/main/t/tasksel/tasksel-data_3.81_all.deb',
  readFileSync(fixture('trixie', 'tasksel-data_3.81_all.deb')),
);
await suite('bomb', XZ_BOMB);
await suite('nosums', goodXz, 'MD5Sum:\n 0123 1 main/binary-amd64/Packages');
await suite('badsums', goodXz, `SHA256:\n ${'z'.repeat(64)} ${goodXz.length} main/binary-amd64/Packages.xz`);
await suite('debsum', xz(PACKAGES.replace(/^SHA256: d9914ef2\w+$/m, 'SHA256: ../../../etc/passwd')));
site.set('/debian/dists/endless/InRelease', 'endless');
const online = (suiteName: string, keyring = key.keyring, ...more: string[]) => [
  '--mirror',
  mirror,
  '--keyring',
  keyring,
  '--suite',
  suiteName,
  '--arch',
  'amd64',
  '--timeout',
  '10',
  ...more,
  '--task',
  'ssh-server',
  '{dir}/tasks.yaml',
];
const env = { DEBIAN_ATOMIC_CACHE: 'cache' }; // relative to the case's directory (its cwd)

const cases: HostileCase[] = [
  // Reading outside the input: a tasksel-data .deb names files outside itself.
  {
    name: 'outside: debian-tasks.desc is an absolute symlink',
    files: {
      'tasks.yaml': TASKS,
      'secret.desc': DESC,
      'x.deb': withDesc([{ path: DESC_MEMBER, type: '2', linkname: '/proc/self/cwd/secret.desc' }]),
    },
    args: offline('x.deb'),
    exit: 2,
    stderr:
      /x\.deb: \/usr\/share\/tasksel\/descs\/debian-tasks\.desc is a symbolic link \(to \/proc\/self\/cwd\/secret\.desc\), expected a regular file/,
  },
  {
    name: 'outside: debian-tasks.desc is a ../ symlink',
    files: {
      'tasks.yaml': TASKS,
      'x.deb': withDesc([{ path: DESC_MEMBER, type: '2', linkname: '../../../../../../../../../../../etc/passwd' }]),
    },
    args: offline('x.deb'),
    exit: 2,
    stderr: /is a symbolic link \(to \.\.\/.*\/etc\/passwd\), expected a regular file/,
  },
  {
    name: 'outside: the descs directory is a symlink out of the package',
    files: {
      'tasks.yaml': TASKS,
      'debian-tasks.desc': DESC,
      'x.deb': deb(
        tar([...DESC_DIRS.slice(0, 4), { path: './usr/share/tasksel/descs', type: '2', linkname: '/proc/self/cwd' }]),
      ),
    },
    args: offline('x.deb'),
    exit: 2,
    stderr: /x\.deb: has no \/usr\/share\/tasksel\/descs\/debian-tasks\.desc \(is it tasksel-data\?\)/,
  },
  {
    name: 'outside: debian-tasks.desc is a hard link to /etc/passwd',
    files: { 'tasks.yaml': TASKS, 'x.deb': withDesc([{ path: DESC_MEMBER, type: '1', linkname: '/etc/passwd' }]) },
    args: offline('x.deb'),
    exit: 2,
    stderr: /debian-tasks\.desc is a hard link \(to \/etc\/passwd\), expected a regular file/,
  },
  {
    name: 'outside: a member path with ../',
    files: {
      'tasks.yaml': TASKS,
      'x.deb': withDesc([{ path: './usr/share/tasksel/../../../../tmp/evil.desc', data: DESC }]),
    },
    args: offline('x.deb'),
    exit: 2,
    stderr:
      /x\.deb: unsafe member path '\.\/usr\/share\/tasksel\/\.\.\/\.\.\/\.\.\/\.\.\/tmp\/evil\.desc' \(a '\.\.' component\)/,
  },

  // Decompression bombs: refused early, in bounded memory.
  {
    name: 'bomb: Packages.xz of 640 MiB of zeros',
    files: { 'tasks.yaml': TASKS, 'Packages.xz': XZ_BOMB },
    args: offline(fixture('trixie', 'debian-tasks.desc'), 'Packages.xz'),
    exit: 2,
    stderr: /Packages\.xz:1:1: line longer than 4194304 characters/,
  },
  {
    name: 'bomb: Packages.xz of 640 MiB of zeros, from a signed mirror',
    files: { 'tasks.yaml': 'tasks: {}\n' },
    env,
    args: online('bomb'),
    exit: 2,
    stderr: /dists\/bomb\/main\/binary-amd64\/Packages\.xz:1:1: line longer than 4194304 characters/,
  },
  {
    name: 'bomb: debian-tasks.desc of 640 MiB (gzipped data.tar)',
    files: { 'tasks.yaml': TASKS, 'x.deb': deb(gzipBombTar(DESC_DIRS, { path: DESC_MEMBER }, 640 << 20), true) },
    args: offline('x.deb'),
    exit: 2,
    stderr:
      /x\.deb: \/usr\/share\/tasksel\/descs\/debian-tasks\.desc is 671088640 bytes, more than the 4194304 a task description file may have/,
  },
  {
    name: 'bomb: a 640 MiB member before debian-tasks.desc',
    files: {
      'tasks.yaml': TASKS,
      'x.deb': deb(
        gzipBombTar(DESC_DIRS, { path: './usr/share/tasksel/zeros' }, 640 << 20, [{ path: DESC_MEMBER, data: DESC }]),
        true,
      ),
    },
    args: offline('x.deb'),
    exit: 2,
    stderr:
      /x\.deb: its data\.tar is larger than 67108864 bytes before \/usr\/share\/tasksel\/descs\/debian-tasks\.desc; refusing it/,
  },
  {
    name: 'bomb: an InRelease that never ends',
    files: { 'tasks.yaml': 'tasks: {}\n' },
    env,
    args: online('endless'),
    exit: 1,
    stderr: /dists\/endless\/InRelease: larger than 16777216 bytes, refusing it/,
  },

  // Wrong exit codes: unreadable input is exit 2, with an error that names the file.
  {
    name: 'exit code: a garbage .deb',
    files: { 'tasks.yaml': TASKS, 'x.deb': 'this is not a Debian package\n' },
    args: offline('x.deb'),
    exit: 2,
    stderr: /x\.deb: not a \.deb \(dpkg-deb: .*not a Debian format archive\)/,
  },
  {
    name: 'exit code: a .deb whose data.tar is garbage',
    files: { 'tasks.yaml': TASKS, 'x.deb': deb(Buffer.alloc(2048, 'garbage ')) },
    args: offline('x.deb'),
    exit: 2,
    stderr: /x\.deb: damaged data\.tar \(bad header checksum at byte 0\)/,
  },
  {
    name: 'exit code: a garbage Packages.xz',
    files: { 'tasks.yaml': TASKS, 'Packages.xz': 'Package: not xz at all\n' },
    args: offline(fixture('trixie', 'debian-tasks.desc'), 'Packages.xz'),
    exit: 2,
    stderr: /Packages\.xz: not xz data \(File format not recognized\)/,
  },
  {
    name: 'exit code: a truncated Packages.xz',
    files: { 'tasks.yaml': TASKS, 'Packages.xz': goodXz.subarray(0, goodXz.length >> 1) },
    args: offline(fixture('trixie', 'debian-tasks.desc'), 'Packages.xz'),
    exit: 2,
    stderr: /Packages\.xz: not xz data \(Unexpected end of input\)/,
  },
  {
    name: 'clear error: a Packages entry with a 10 MB field',
    files: { 'tasks.yaml': TASKS, Packages: `Package: task-ssh-server\nDescription: ${'x'.repeat(10 << 20)}\n` },
    args: offline(fixture('trixie', 'debian-tasks.desc'), 'Packages'),
    exit: 2,
    stderr: /Packages:2:1: line longer than 4194304 characters/,
  },
  {
    name: 'clear error: a Packages entry with a 10 MB field of continuation lines',
    files: {
      'tasks.yaml': TASKS,
      Packages: `Package: task-ssh-server\nDescription: x\n${' yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\n'.repeat(160_000)}`,
    },
    args: offline(fixture('trixie', 'debian-tasks.desc'), 'Packages'),
    exit: 2,
    stderr: /Packages:2:1: field 'Description' longer than 4194304 characters/,
  },
  {
    name: 'clear error: a Release without SHA256 checksums',
    files: { 'tasks.yaml': 'tasks: {}\n' },
    env,
    args: online('nosums'),
    exit: 2,
    stderr: /dists\/nosums\/InRelease: no SHA256 checksums in the Release file/,
  },
  {
    name: 'clear error: a Release with a malformed SHA256 entry',
    files: { 'tasks.yaml': 'tasks: {}\n' },
    env,
    args: online('badsums'),
    exit: 2,
    stderr:
      /dists\/badsums\/InRelease:7:2: malformed SHA256 entry "z{64} \d+ main\/binary-amd64\/Packages\.xz" \(expected: SHA256 size path\)/,
  },
  {
    name: 'clear error: tasksel-data with a malformed SHA256',
    files: { 'tasks.yaml': 'tasks: {}\n' },
    env,
    args: online('debsum'),
    exit: 2,
    stderr:
      /dists\/debsum\/main\/binary-amd64\/Packages\.xz:\d+:1: tasksel-data: SHA256 is not a SHA256 \(64 hex digits\): "\.\.\/\.\.\/\.\.\/etc\/passwd"/,
  },
  {
    name: 'clear error: --timeout that is not a number',
    files: { 'tasks.yaml': TASKS },
    args: ['--timeout', 'soon', 'tasks.yaml'],
    exit: 2,
    stderr: /--timeout soon: expected a number of seconds greater than 0/,
  },

  // FIFOs and devices as any local input: a clear error, no hang.
  {
    name: 'fifo: tasks.yaml',
    files: { 'tasks.yaml': { fifo: true } },
    args: offline(fixture('trixie', 'debian-tasks.desc')),
    exit: 2,
    stderr: /tasks\.yaml: cannot read: a FIFO, expected a regular file/,
  },
  {
    name: 'fifo: tasks-exclude.yaml beside tasks.yaml',
    files: { 'tasks.yaml': TASKS, 'tasks-exclude.yaml': { fifo: true } },
    args: offline(fixture('trixie', 'debian-tasks.desc')),
    exit: 2,
    stderr: /tasks-exclude\.yaml: cannot read: a FIFO, expected a regular file/,
  },
  {
    name: 'fifo: --desc debian-tasks.desc',
    files: { 'tasks.yaml': TASKS, 'd.desc': { fifo: true } },
    args: offline('d.desc'),
    exit: 2,
    stderr: /d\.desc: cannot read: a FIFO, expected a regular file/,
  },
  {
    name: 'fifo: --desc x.deb',
    files: { 'tasks.yaml': TASKS, 'x.deb': { fifo: true } },
    args: offline('x.deb'),
    exit: 2,
    stderr: /x\.deb: cannot read tasksel-data package: a FIFO, expected a regular file/,
  },
  {
    name: 'fifo: --packages Packages',
    files: { 'tasks.yaml': TASKS, Packages: { fifo: true } },
    args: offline(fixture('trixie', 'debian-tasks.desc'), 'Packages'),
    exit: 2,
    stderr: /Packages: cannot read Packages index: a FIFO, expected a regular file/,
  },
  {
    name: 'fifo: --packages Packages.xz',
    files: { 'tasks.yaml': TASKS, 'Packages.xz': { fifo: true } },
    args: offline(fixture('trixie', 'debian-tasks.desc'), 'Packages.xz'),
    exit: 2,
    stderr: /Packages\.xz: cannot read Packages index: a FIFO, expected a regular file/,
  },
  {
    name: 'device: --desc /dev/zero',
    files: { 'tasks.yaml': TASKS },
    args: offline('/dev/zero'),
    exit: 2,
    stderr: /\/dev\/zero: cannot read: a character device, expected a regular file/,
  },
  {
    name: 'device: --packages /dev/zero',
    files: { 'tasks.yaml': TASKS },
    args: offline(fixture('trixie', 'debian-tasks.desc'), '/dev/zero'),
    exit: 2,
    stderr: /\/dev\/zero: cannot read Packages index: a character device/,
  },
  {
    name: 'directory: --desc x.deb',
    files: { 'tasks.yaml': TASKS, 'x.deb': { dir: true } },
    args: offline('x.deb'),
    exit: 2,
    stderr: /x\.deb: cannot read tasksel-data package: (is )?a directory, expected a regular file/,
  },
  {
    name: 'fifo: --keyring',
    files: { 'tasks.yaml': 'tasks: {}\n', 'ring.gpg': { fifo: true } },
    env,
    args: online('good', 'ring.gpg'),
    exit: 2,
    stderr: /ring\.gpg: cannot read keyring: a FIFO, expected a regular file/,
  },
  {
    name: 'fifo: a cached Packages.xz',
    files: { 'tasks.yaml': 'tasks: {}\n', [`cache/comps-sync/by-sha256/${goodSha}`]: { fifo: true } },
    env,
    args: online('good'),
    exit: 2,
    stderr: new RegExp(
      `cache/comps-sync/by-sha256/${goodSha}: cannot read cached download: a FIFO, expected a regular file`,
    ),
  },
  // And the mirror path still works end to end (the cases above are refusals, not a broken tool).
  {
    name: 'sanity: a good signed mirror',
    files: { 'tasks.yaml': 'tasks: {}\n' },
    env,
    args: online('good', key.keyring, '--save'),
    exit: 0,
    stdout: /"saved": true/,
    stderr: /Syncing task ssh-server: \+3, -0/,
    after: (dir) => {
      if (!readFileSync(`${dir}/tasks.yaml`, 'utf8').includes('openssh-server'))
        throw new Error('tasks.yaml was not synced');
    },
  },
];

const start = Date.now();
await hostileSuite(t, bin, cases);
t.comment(`${cases.length} hostile cases in ${((Date.now() - start) / 1000).toFixed(1)} s`);
