/**
 * atomic install to-disk: the disks it offers and refuses (lsblk's JSON as util-linux prints it),
 * the questions on the terminal, and on a real loop device: a disk that holds data is refused
 * without --wipe, a cancelled install writes nothing, a bad source or config is refused before
 * the disk is touched, and an install that fails half-way (an image without a boot chain) leaves
 * the disk blank, nothing mounted. The whole install, booted, is proven by make iso-test.
 */
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openSync, readSync, closeSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  candidates,
  checkTarget,
  contents,
  describeDisk,
  inUse,
  installedPartitions,
  MIN_DISK_BYTES,
  parseLsblk,
  unsuitable,
  type BlockDevice,
} from '../src/disks.js';
import { installToDisk, type InstallIo, type InstallOptions } from '../src/install.js';
import { main } from '../src/main.js';
import { twoVersions } from './fixtures/images.js';

const GiB = 1024 ** 3;

function dev(name: string, o: Partial<BlockDevice> = {}): BlockDevice {
  return {
    name,
    path: `/dev/${name}`,
    size: 8 * GiB,
    type: 'disk',
    ro: false,
    rm: false,
    model: null,
    tran: null,
    fstype: null,
    label: null,
    partlabel: null,
    parttype: null,
    mountpoints: [],
    children: [],
    ...o,
  };
}

t.test('lsblk\'s JSON: util-linux 2.41 (booleans, mountpoints) and older ("0"/"1", strings)', async (t) => {
  const modern = parseLsblk(
    JSON.stringify({
      blockdevices: [
        {
          name: 'vda',
          path: '/dev/vda',
          size: 8589934592,
          type: 'disk',
          ro: false,
          rm: false,
          model: 'QEMU HARDDISK  ',
          tran: null,
          fstype: null,
          label: null,
          partlabel: null,
          parttype: null,
          mountpoints: [null],
          children: [
            {
              name: 'vda1',
              path: '/dev/vda1',
              size: 67108864,
              type: 'part',
              ro: false,
              rm: false,
              model: null,
              tran: null,
              fstype: 'vfat',
              label: 'ESP',
              partlabel: 'esp',
              parttype: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
              mountpoints: ['/boot/efi'],
            },
          ],
        },
      ],
    }),
  );
  t.equal(modern[0]!.model, 'QEMU HARDDISK', 'the model is trimmed');
  t.same(modern[0]!.mountpoints, [], 'a null mount point is none');
  t.same(modern[0]!.children[0]!.mountpoints, ['/boot/efi']);
  const old = parseLsblk(
    JSON.stringify({
      blockdevices: [{ name: 'sr0', path: '/dev/sr0', size: '1073741824', type: 'rom', ro: '1', rm: '1' }],
    }),
  );
  t.same([old[0]!.size, old[0]!.ro, old[0]!.rm, old[0]!.children], [GiB, true, true, []]);
  t.throws(() => parseLsblk('not json'), { code: 'lsblk' });
  t.throws(() => parseLsblk('{"blockdevices": [{"name": 1}]}'), { code: 'lsblk' });
});

t.test('which disks are offered, and why the others are not', async (t) => {
  const blank = dev('vda');
  const used = dev('vdb', {
    children: [dev('vdb1', { type: 'part', size: GiB, fstype: 'ext4', label: 'data', mountpoints: ['/srv'] })],
  });
  const swap = dev('vdc', { children: [dev('vdc1', { type: 'part', mountpoints: ['[SWAP]'] })] });
  const lvm = dev('vdd', { children: [dev('vdd1', { type: 'part', children: [dev('vg-root', { type: 'lvm' })] })] });
  const small = dev('vde', { size: MIN_DISK_BYTES - 1 });
  const ro = dev('vdf', { ro: true });
  const cd = dev('sr0', { type: 'rom' });
  const zram = dev('zram0');
  const full = dev('vdg', {
    fstype: 'ext4',
    children: [dev('vdg1', { type: 'part', size: 2 * GiB, fstype: 'vfat', label: 'EFI', partlabel: 'esp' })],
  });
  t.same(
    candidates([blank, used, swap, lvm, small, ro, cd, zram, full]).map((d) => d.name),
    ['vda', 'vdg'],
    'only whole, writable, large, unused disks',
  );
  t.match(inUse(used), /\/dev\/vdb1 is mounted on \/srv/);
  t.match(inUse(swap), /in use as swap/);
  t.match(inUse(lvm), /vg-root \(lvm\) is built on it/);
  t.equal(inUse(blank), null);
  t.match(unsuitable(small), /at least 4\.0 GiB/);
  t.match(unsuitable(ro), /read-only/);
  t.match(unsuitable(cd), /a rom device, not a whole disk/);
  t.match(unsuitable(dev('vda1', { type: 'part' })), /is a partition: install to-disk takes a whole disk/);
  t.equal(unsuitable(dev('loop0', { type: 'loop' })), null, 'a loop device named on the command line is a disk');
  t.same(contents(blank), []);
  t.same(contents(full), [
    '/dev/vdg: a ext4 file system on the whole disk',
    '/dev/vdg1: 2.0 GiB vfat "EFI" (partition esp)',
  ]);
  t.match(
    describeDisk(dev('nvme0n1', { model: 'Samsung SSD', tran: 'nvme', size: 512 * GiB })),
    '/dev/nvme0n1  512.0 GiB  Samsung SSD  nvme',
  );
  t.throws(() => checkTarget('/dev/vdb', [used]), {
    code: 'disk-unsuitable',
    message: /cannot install to \/dev\/vdb: \/dev\/vdb1 is mounted on \/srv/,
  });
  t.throws(() => checkTarget('/dev/nope', []), { code: 'usage' });
  t.equal(checkTarget('/dev/vda', [blank]), blank);
});

t.test('the new partitions, by the kernel numbers', async (t) => {
  const d = dev('nvme0n1', { children: [dev('nvme0n1p1', { type: 'part' }), dev('nvme0n1p2', { type: 'part' })] });
  const numbers: Record<string, number> = { nvme0n1p1: 1, nvme0n1p2: 2 };
  t.same(await installedPartitions(d, async (n) => numbers[n] ?? null), {
    esp: '/dev/nvme0n1p1',
    root: '/dev/nvme0n1p2',
  });
  await t.rejects(
    installedPartitions(dev('vda', { children: [dev('vda1', { type: 'part' })] }), async () => 1),
    { code: 'partition-missing' },
  );
});

// ---------------------------------------------------------------------------------------------
// A real loop device (8 GiB, sparse) for what touches a disk.

const root = t.testdir();
let loop = '';
let image = '';
let layout = '';

function head(path: string): string {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(2 * 1024 * 1024);
  readSync(fd, b, 0, b.length, 0);
  closeSync(fd);
  return createHash('sha256').update(b).digest('hex');
}

function partitionsOf(disk: string): string {
  const r = spawnSync('sfdisk', ['--dump', disk], { encoding: 'utf8' });
  return r.status === 0
    ? r.stdout
        .split('\n')
        .filter((l) => l.startsWith('/dev/'))
        .join('\n')
    : '';
}

t.before(async () => {
  image = join(root, 'disk.img');
  execFileSync('truncate', ['-s', '8G', image]);
  loop = execFileSync('losetup', ['--find', '--show', '--partscan', image], { encoding: 'utf8' }).trim();
  layout = (await twoVersions(join(root, 'images'))).layout;
});
t.teardown(() => {
  if (loop) spawnSync('losetup', ['-d', loop]);
});

const io = (answers: string[] = [], lsblk?: InstallIo['lsblk']): InstallIo & { asked: string[]; said: string } => {
  const asked: string[] = [];
  const out = {
    asked,
    said: '',
    stderr: { write: (s: string) => ((out.said += s), true) } as unknown as NodeJS.WritableStream,
    ask: answers.length ? async (q: string) => (asked.push(q), answers.shift() ?? '') : null,
    ...(lsblk ? { lsblk } : {}),
  };
  return out;
};
const opts = (o: Partial<InstallOptions>): InstallOptions => ({
  tlsVerify: true,
  sysroot: join(root, 'no-sysroot'),
  source: `oci:${layout}:v1`,
  ...o,
});

async function mountsOf(disk: string): Promise<string> {
  return spawnSync('findmnt', ['--list', '--noheadings', '--output', 'SOURCE'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.startsWith(disk))
    .join(',');
}

async function noWorkLeft(t: Test): Promise<void> {
  t.same(
    (await readdir(tmpdir())).filter((n) => n.startsWith('atomic-install-')),
    [],
    'no work directory left',
  );
  t.equal(await mountsOf(loop), '', 'nothing of the disk mounted');
}

t.test('refused before the disk is touched: bad config, bad source, disk with data, cancelled', async (t) => {
  // Something on the disk to keep: a partition table with one partition.
  execFileSync('sfdisk', ['--quiet', loop], { input: 'label: gpt\nsize=100M, type=linux\n' });
  spawnSync('partx', ['--update', loop]);
  const before = head(image);
  const table = partitionsOf(loop);
  t.match(table, /^\/dev\/loop\d+p1 /, 'a partition to keep');

  const cfg = join(root, 'big.yaml');
  await writeFile(cfg, 'disk:\n  size: 8G\n');
  await t.rejects(installToDisk(opts({ device: loop, config: cfg, wipe: true }), io()), {
    code: 'usage',
    message: /disk\.size is for disk images/,
  });
  await t.rejects(installToDisk(opts({ device: loop, source: 'oci:/nonexistent/layout', wipe: true }), io()), {
    code: 'usage',
    message: /does not exist/,
  });
  await t.rejects(installToDisk(opts({ device: '/dev/null' }), io()), { code: 'usage', message: /not a block device/ });
  await t.rejects(installToDisk(opts({ device: `${loop}p1`, wipe: true }), io()), {
    code: 'disk-unsuitable',
    message: /is a partition/,
  });
  const refused = await installToDisk(opts({ device: loop }), io()).catch(
    (e: unknown) => e as Error & { code: string },
  );
  t.match(
    refused,
    { code: 'disk-not-empty', message: /holds data; install to-disk would destroy:\n\s+\/dev\/loop\d+p1: 100 MiB/ },
    'data on the disk: refused, each partition named',
  );
  t.match((refused as { hint?: string }).hint, /--wipe/);

  // On a terminal: the question, then "no".
  const said = io(['no']);
  await t.rejects(installToDisk(opts({ device: loop }), said), { code: 'cancelled', message: /was not changed/ });
  t.match(said.said, /This ERASES everything on it:\n\s+\/dev\/loop\d+p1: 100 MiB/);
  t.match(said.asked, [/Type "yes" to erase/]);

  // Choosing on a terminal: a wrong answer is asked again, q quits.
  const fake = async (d?: string) => (d ? [] : [dev('vda'), dev('vdb', { children: [dev('vdb1', { type: 'part' })] })]);
  const choose = io(['7', 'q'], fake);
  await t.rejects(installToDisk(opts({}), choose), { code: 'cancelled', message: /nothing was written/ });
  t.match(choose.said, /1\) \/dev\/vda {2}8\.0 GiB {2}\(empty\)\n {2}2\) \/dev\/vdb {2}8\.0 GiB {2}\(1 partition\)/);
  t.match(choose.said, /'7' is not one of the disks above/);
  t.equal(choose.asked.length, 2, 'asked again after a wrong answer');
  await t.rejects(
    installToDisk(opts({}), io()),
    { code: 'usage', message: /no disk given/ },
    'no disk and no terminal: a usage error',
  );

  t.equal(head(image), before, 'the disk is byte for byte as it was');
  t.equal(partitionsOf(loop), table, 'its partition table too');
  await noWorkLeft(t);
});

t.test('the source and the disk to choose: refused with what to do instead, the disk untouched', async (t) => {
  const before = head(image);
  const nosys = join(root, 'no-sysroot');
  // No --source: a copy of the booted system, and a sysroot that is not booted has none.
  const unbooted = await installToDisk(opts({ device: loop, source: undefined, wipe: true }), io()).catch(
    (e: unknown) => e as Error & { code: string; hint?: string },
  );
  t.match(unbooted, {
    code: 'usage',
    message: /no --source, and this is not a booted Debian Atomic system to install a copy of/,
  });
  t.match((unbooted as { hint?: string }).hint, /--source oci:DIR, docker:\/\/REGISTRY\/NAME\[:TAG\] or REMOTE:REF/);
  // REMOTE:REF is fetched from the running system's repository: without one, nothing to fetch from.
  await t.rejects(
    installToDisk(opts({ device: loop, source: 'origin:debian/13/x86_64/tiny', sysroot: nosys, wipe: true }), io()),
    {
      code: 'no-remote',
      message: /the origin names the remote 'origin', which .*no-sysroot\/ostree\/repo does not have/,
    },
    'a REMOTE:REF source the sysroot cannot fetch is refused',
  );
  // Asked on a terminal, but no disk qualifies: said so, nothing asked.
  const none = io(['1'], async () => [dev('sr0', { type: 'rom', ro: true }), dev('vda', { size: 1 * GiB })]);
  const noDisk = await installToDisk(opts({}), none).catch((e: unknown) => e as Error & { code: string });
  t.match(noDisk, { code: 'no-disk', message: /no disk to install to: none is whole, writable, unused and at least/ });
  t.same(none.asked, [], 'no question without a disk to offer');
  // A disk chosen by its name rather than its number: then checked like a given one.
  const byName = io(['nosuchdisk0'], async (d?: string) => (d ? [] : [dev('vda'), dev('nosuchdisk0')]));
  await t.rejects(installToDisk(opts({}), byName), { code: 'usage', message: /^\/dev\/nosuchdisk0: no such device/ });
  t.equal(byName.asked.length, 1, 'the name is an answer');
  t.equal(head(image), before, 'the disk is byte for byte as it was');
});

t.test('atomic install to-disk on the command line: options reach the install, errors exit non-zero', async (t) => {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const said: string[] = [];
  const stderr = new PassThrough();
  stderr.on('data', (c: Buffer) => said.push(c.toString()));
  const cli = (args: string[]) =>
    main(['install', 'to-disk', ...args], { stdout, stderr, ask: null, reboot: async () => {} });
  const before = head(image);

  const cfg = join(root, 'free.yaml');
  await writeFile(cfg, 'disk:\n  free-space: 1G\n');
  await t.rejects(cli([loop, '--source', `oci:${layout}:v1`, '--config', cfg, '--wipe', '--quiet']), {
    exitCode: 2,
    message: /free\.yaml: disk\.free-space is for disk images: an install takes the whole disk/,
  });
  await t.rejects(
    cli([loop, '--sysroot', join(root, 'no-sysroot'), '--wipe', '--json']),
    { exitCode: 2, message: /no --source, and this is not a booted Debian Atomic system/ },
    '--sysroot names the system whose booted deployment is the default source',
  );
  await t.rejects(
    cli(['--source', `oci:${layout}:v1`, '--target-imgref', 'docker://registry.example/debian-atomic:13']),
    { exitCode: 2, message: /no disk given: name it \(atomic install to-disk DEVICE\)/ },
    'no device and no terminal (ask: null): a usage error',
  );
  await t.rejects(cli([loop, '--source', 'oci:/nonexistent/layout', '--no-tls-verify', '--wipe']), {
    exitCode: 2,
    message: /--source oci:\/nonexistent\/layout: \/nonexistent\/layout does not exist/,
  });
  t.equal(out, '', 'nothing on stdout');
  t.equal(head(image), before, 'the disk is byte for byte as it was');
  await noWorkLeft(t);
});

t.test('in use: a mounted partition is refused', async (t) => {
  execFileSync('sfdisk', ['--quiet', '--wipe', 'always', loop], { input: 'label: gpt\nsize=200M, type=linux\n' });
  spawnSync('partx', ['--update', loop]);
  execFileSync('mkfs.ext4', ['-q', '-F', `${loop}p1`]);
  const mnt = join(root, 'mnt');
  execFileSync('mkdir', ['-p', mnt]);
  execFileSync('mount', [`${loop}p1`, mnt]);
  t.teardown(() => void spawnSync('umount', [mnt]));
  await t.rejects(installToDisk(opts({ device: loop, wipe: true }), io()), {
    code: 'disk-unsuitable',
    message: new RegExp(`${loop}p1 is mounted on ${mnt}`),
  });
  execFileSync('umount', [mnt]);
});

t.test('onto the disk: GPT with ESP and root, the boot chain on the ESP, the deployment with its origin', async (t) => {
  const cfg = join(root, 'remote.yaml');
  await writeFile(cfg, 'hostname: tiny\nremote:\n  url: http://10.0.2.2:8000/\n  gpg-verify: false\n');
  const r = await installToDisk(opts({ device: loop, wipe: true, config: cfg }), io());
  t.match(r, {
    device: loop,
    size: 8 * GiB,
    osname: 'debian',
    hostname: 'tiny',
    origin: { type: 'ostree', refspec: /^debian:/ },
    bootEntry: null,
  });
  t.match(r.kernelArgs[0], /^root=UUID=[0-9a-f-]{36}$/);
  const table = partitionsOf(loop);
  t.match(
    table,
    /p1 : start= *2048, size= *131072, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B/,
    'partition 1: the ESP (64 MiB)',
  );
  t.match(
    table,
    /p2 : start= *133120, .*type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709/,
    'partition 2: the root (x86-64 root type), the rest of the disk',
  );
  const esp = spawnSync('mdir', ['-b', '-i', r.partitions[0]!.path, '::/EFI/BOOT'], { encoding: 'utf8' }).stdout;
  t.match(esp, /BOOTX64\.EFI/i, 'the ESP holds the fallback shim');
  t.equal(
    spawnSync('blkid', ['-s', 'UUID', '-o', 'value', r.partitions[1]!.path], { encoding: 'utf8' }).stdout.trim(),
    r.partitions[1]!.uuid,
    'the root file system has the UUID the kernel is told',
  );
  const mnt = join(root, 'check');
  execFileSync('mkdir', ['-p', mnt]);
  execFileSync('mount', ['-o', 'ro', r.partitions[1]!.path, mnt]);
  try {
    const deploys = (await readdir(join(mnt, 'ostree/deploy/debian/deploy'))).filter((n) => n.endsWith('.origin'));
    t.equal(deploys.length, 1, 'one deployment');
    t.match(
      execFileSync('cat', [join(mnt, 'ostree/deploy/debian/deploy', deploys[0]!)], { encoding: 'utf8' }),
      /refspec=debian:/,
      'its origin names the remote',
    );
    t.ok(existsSync(join(mnt, 'boot/atomic/bootloader.json')), 'the bootloader state atomic bootloader status reads');
    t.notOk(existsSync(join(mnt, '.atomic-install')), 'the imported repository is gone');
  } finally {
    execFileSync('umount', [mnt]);
  }
  await noWorkLeft(t);
});

t.test('a failure half-way (a config the image cannot take) leaves the disk blank, nothing mounted', async (t) => {
  const cfg = join(root, 'nogroup.yaml');
  await writeFile(cfg, 'users:\n  - name: alice\n    groups: [no-such-group]\n');
  const err = await installToDisk(opts({ device: loop, wipe: true, config: cfg }), io()).catch(
    (e: unknown) => e as Error & { code: string; summary: string },
  );
  // The tiny image's /etc/group has no such group: found only once the commit is deployed on the disk.
  t.match(err, { code: 'bad-config' }, 'the user cannot be added: found only after the deployment');
  t.match(
    (err as { summary: string }).summary,
    new RegExp(
      `user alice: group no-such-group does not exist in the image; ${loop} was erased again: nothing was installed`,
    ),
  );
  t.equal(partitionsOf(loop), '', 'no partition table left');
  const sig = spawnSync('wipefs', ['--no-act', '--noheadings', loop], { encoding: 'utf8' }).stdout.trim();
  t.equal(sig, '', 'no signature left on the disk');
  await noWorkLeft(t);
});
