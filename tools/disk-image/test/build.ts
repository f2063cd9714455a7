import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { BootloaderStateSchema, ESP_FILES, ESP_GRUB_CFG, espGrubConfig } from '@debian-atomic/lib';
import { diskImage, fakePe, REF, tinyRepo } from './fixtures/commit.js';

t.test('every format converts and qemu-img accepts it; the layout is what the JSON says', async (t) => {
  const dir = t.testdir({
    'config.yaml':
      'hostname: tiny\nusers:\n  - name: alice\n    groups: [sudo]\n    ssh-keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB alice@example"]\nkernel-args: [quiet]\ndisk:\n  free-space: 64M\n',
  });
  const { repo, commit } = await tinyRepo(dir);
  const qemuFormat = { raw: 'raw', qcow2: 'qcow2', vmdk: 'vmdk', vdi: 'vdi', vhd: 'vpc' } as const;
  for (const format of Object.keys(qemuFormat) as Array<keyof typeof qemuFormat>) {
    const out = join(dir, `disk.${format}`);
    const r = diskImage([
      '--repo',
      repo,
      '--ref',
      REF,
      '--config',
      join(dir, 'config.yaml'),
      '--format',
      format,
      '--output',
      out,
    ]);
    t.equal(r.status, 0, `${format}: ${r.stderr}`);
    const s = r.json();
    t.match(s, { format, ref: REF, commit, osname: 'debian', hostname: 'tiny' });
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', out], { encoding: 'utf8' }));
    t.equal(info.format, qemuFormat[format], `qemu-img info reads ${format}`);
    t.ok(info['virtual-size'] >= s.virtualSize, 'virtual size covers the layout');
    if (format === 'qcow2' || format === 'vdi' || format === 'vmdk') execFileSync('qemu-img', ['check', out]);
    if (format === 'raw') {
      const table = JSON.parse(execFileSync('sfdisk', ['--json', out], { encoding: 'utf8' })).partitiontable;
      t.equal(table.label, 'gpt');
      t.equal(table.partitions.length, 2);
      t.equal(table.partitions[0].type, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'ESP');
      t.equal(table.partitions[1].type, '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709', 'DPS root x86-64');
      t.equal(table.partitions[1].start * 512, s.partitions[1].start);
      t.equal(table.partitions[1].uuid.toLowerCase(), s.partitions[1].partuuid);
      t.equal(table.id.toLowerCase(), s.diskGuid);
      t.match(s.kernelArgs, [`root=UUID=${s.partitions[1].uuid}`, 'rw', 'console=ttyS0,115200', 'quiet']);
      t.match(s.users, [{ name: 'alice', uid: 1000, home: '/var/home/alice', groups: ['sudo'], sshKeys: 1 }]);
      // The root file system: read it back without mounting (debugfs from the same e2fsprogs).
      const rootImg = join(dir, 'root-part.img');
      execFileSync('dd', [
        `if=${out}`,
        `of=${rootImg}`,
        'bs=1M',
        `skip=${s.partitions[1].start / 1048576}`,
        `count=${s.partitions[1].size / 1048576}`,
        'status=none',
      ]);
      const ls = execFileSync('debugfs', ['-R', 'ls -p /boot/loader/entries', rootImg], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      t.match(ls, /ostree-1\.conf/, 'the BLS entry is on the root file system');
      const entry = execFileSync('debugfs', ['-R', 'cat /boot/loader/entries/ostree-1.conf', rootImg], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      t.match(
        entry,
        new RegExp(
          `^options root=UUID=${s.partitions[1].uuid} rw console=ttyS0,115200 quiet ostree=/ostree/boot\\.1/debian/`,
          'm',
        ),
      );
      t.match(
        entry,
        /^linux \/boot\/ostree\/debian-[0-9a-f]{64}\/vmlinuz-6\.12\.0-1-amd64$/m,
        'paths carry the /boot prefix',
      );
      const dep = `/ostree/deploy/debian/deploy/${commit}.0`;
      const passwd = execFileSync('debugfs', ['-R', `cat ${dep}/etc/passwd`, rootImg], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      t.match(passwd, /^alice:x:1000:1000::\/var\/home\/alice:\/bin\/bash$/m);
      const keys = execFileSync(
        'debugfs',
        ['-R', 'cat /ostree/deploy/debian/var/home/alice/.ssh/authorized_keys', rootImg],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      t.match(keys, /alice@example/);
      const esp = join(dir, 'esp-part.img');
      execFileSync('dd', [
        `if=${out}`,
        `of=${esp}`,
        'bs=1M',
        `skip=1`,
        `count=${s.partitions[0].size / 1048576}`,
        'status=none',
      ]);
      const bootDir = execFileSync('mdir', ['-i', esp, '::/EFI/BOOT'], { encoding: 'utf8' });
      for (const f of [/BOOTX64\s+EFI/, /grubx64\s+efi/, /mmx64\s+efi/])
        t.match(bootDir, f, 'shim, GRUB and MokManager on the removable-media path');
      const shim = execFileSync('mtype', ['-i', esp, '::/EFI/BOOT/BOOTX64.EFI']);
      t.ok(
        shim.equals(fakePe(['Microsoft Corporation UEFI CA 2011'])),
        "BOOTX64.EFI is the commit's shim, byte for byte",
      );
      const espCfg = execFileSync('mtype', ['-i', esp, '::/EFI/debian/grub.cfg'], { encoding: 'utf8' });
      t.equal(espCfg, espGrubConfig(s.partitions[1].uuid), "the ESP's grub.cfg hands over to the root file system");
      const link = execFileSync('debugfs', ['-R', 'stat /boot/grub/grub.cfg', rootImg], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      t.match(link, /Fast link dest: "\.\.\/loader\/grub\.cfg"/, '/boot/grub/grub.cfg links to the menu ostree swaps');
      const menu = execFileSync('debugfs', ['-R', 'cat /boot/loader.1/grub.cfg', rootImg], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      t.match(
        menu,
        new RegExp(`^menuentry 'Debian GNU/Linux 13 \\(trixie\\)[^']*\\(ostree:0\\)'`, 'm'),
        "a menu entry per deployment, from ostree's generator",
      );
      t.match(menu, new RegExp(`^search --no-floppy --fs-uuid --set=root ${s.partitions[1].uuid}$`, 'm'));
      t.match(
        menu,
        new RegExp(
          `^linux /boot/ostree/debian-[0-9a-f]{64}/vmlinuz-6\\.12\\.0-1-amd64 root=UUID=${s.partitions[1].uuid} rw console=ttyS0,115200 quiet ostree=/ostree/boot\\.1/debian/`,
          'm',
        ),
      );
      const config = execFileSync('debugfs', ['-R', 'cat /ostree/repo/config', rootImg], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      t.match(config, /^bootloader=grub2$/m, "the booted system's ostree keeps the menu (grub-mkconfig)");
      const state = BootloaderStateSchema.parse(
        JSON.parse(
          execFileSync('debugfs', ['-R', 'cat /boot/atomic/bootloader.json', rootImg], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
          }),
        ),
      );
      t.equal(state.commit, commit);
      t.equal(state.esp.partuuid, s.partitions[0].partuuid);
      t.equal(state.esp.volumeId.replace('-', ''), s.partitions[0].uuid);
      t.same(
        state.files.map((f) => f.path),
        [...ESP_FILES.map((f) => f.esp), ESP_GRUB_CFG],
        'every ESP file recorded, grub.cfg too',
      );
      t.equal(state.files.at(-1)?.sha256, createHash('sha256').update(espCfg).digest('hex'));
      t.equal(
        state.files.find((f) => f.path === 'EFI/BOOT/BOOTX64.EFI')?.sha256,
        createHash('sha256').update(shim).digest('hex'),
      );
      t.same(s.bootloader, {
        'grub-efi-amd64-signed': '1+2.12+9+deb13u4',
        'shim-helpers-amd64-signed': '1+16.1+2~deb13u1',
        'shim-signed': '1.51~1+deb13u1+16.1-2~deb13u1',
      });
    }
  }
  t.same(
    (await readdir(dir)).filter((f) => f.startsWith('.')),
    [],
    'no work directories left behind',
  );
});

t.test('same commit and SOURCE_DATE_EPOCH: the same disk identity', async (t) => {
  const dir = t.testdir({});
  const { repo } = await tinyRepo(dir);
  const a = diskImage(['--repo', repo, '--ref', REF, '--format', 'raw', '--output', join(dir, 'a.raw')]).json();
  const b = diskImage(['--repo', repo, '--ref', REF, '--format', 'raw', '--output', join(dir, 'b.raw')]).json();
  t.same(a.partitions, b.partitions);
  t.equal(a.diskGuid, b.diskGuid);
});

t.test('errors: missing ref, bad config, too small; the previous image stays', async (t) => {
  const dir = t.testdir({
    'bad.yaml': 'hostname: ok\nusers:\n  - name: Bob\n    sshkeys: []\ndisk:\n  size: lots\n',
    'small.yaml': 'disk:\n  size: 10M\n',
    'nogroup.yaml': 'users:\n  - name: carol\n    groups: [wheel]\n',
  });
  const { repo } = await tinyRepo(dir);
  const out = join(dir, 'disk.qcow2');
  await writeFile(out, 'previous image');
  const missing = diskImage(['--repo', repo, '--ref', 'no/such/ref', '--output', out]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /^disk-image: .*: no ref no\/such\/ref\n/);
  const bad = diskImage(['--repo', repo, '--ref', REF, '--config', join(dir, 'bad.yaml'), '--output', out]);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /bad\.yaml:3:11: users\.0\.name: not a valid user name/);
  t.match(bad.stderr, /bad\.yaml:4:5: unknown key 'sshkeys' \(did you mean 'ssh-keys'\?\)/);
  t.match(bad.stderr, /bad\.yaml:6:9: disk\.size/);
  const small = diskImage(['--repo', repo, '--ref', REF, '--config', join(dir, 'small.yaml'), '--output', out]);
  t.equal(small.status, 1);
  t.match(small.stderr, /disk size 10485760 is too small/);
  const nogroup = diskImage(['--repo', repo, '--ref', REF, '--config', join(dir, 'nogroup.yaml'), '--output', out]);
  t.equal(nogroup.status, 1);
  t.match(nogroup.stderr, /group wheel does not exist in the image/);
  t.equal(await readFile(out, 'utf8'), 'previous image', 'the previous image is untouched');
  t.same(
    (await readdir(dir)).filter((f) => f.startsWith('.')),
    [],
    'no work directories left behind',
  );
  t.notMatch(missing.stderr + bad.stderr + small.stderr, /\n\s+at /);
  t.ok((await stat(out)).size > 0);
});

t.test(
  "the commit's bootc kargs.d goes on the kernel command line, between the treefile's and the config's",
  async (t) => {
    const dir = t.testdir({ 'config.yaml': 'kernel-args: [quiet]\n' });
    const { repo } = await tinyRepo(dir, {
      'usr/lib/bootc/kargs.d/20-later.toml': 'kargs = ["mitigations=auto"]\n',
      'usr/lib/bootc/kargs.d/10-hwdetect.toml': '# Generated by hwdetect\nkargs = ["iommu=pt", "intel_iommu=on"]\n',
      'usr/lib/bootc/kargs.d/15-arm.toml': 'kargs = ["arm-only"]\nmatch-architectures = ["aarch64"]\n',
      'usr/lib/bootc/kargs.d/README': 'not a .toml: ignored\n',
    });
    const out = join(dir, 'disk.raw');
    const r = diskImage([
      '--repo',
      repo,
      '--ref',
      REF,
      '--config',
      join(dir, 'config.yaml'),
      '--format',
      'raw',
      '--output',
      out,
    ]);
    t.equal(r.status, 0, r.stderr);
    const s = r.json();
    t.same(s.kernelArgs.slice(1), [
      'rw',
      'console=ttyS0,115200',
      'iommu=pt',
      'intel_iommu=on',
      'mitigations=auto',
      'quiet',
    ]);
    const rootImg = join(dir, 'root-part.img');
    execFileSync('dd', [
      `if=${out}`,
      `of=${rootImg}`,
      'bs=1M',
      `skip=${s.partitions[1].start / 1048576}`,
      `count=${s.partitions[1].size / 1048576}`,
      'status=none',
    ]);
    const entry = execFileSync('debugfs', ['-R', 'cat /boot/loader/entries/ostree-1.conf', rootImg], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    t.match(
      entry,
      /^options root=UUID=\S+ rw console=ttyS0,115200 iommu=pt intel_iommu=on mitigations=auto quiet ostree=/m,
      'the BLS entry boots with them',
    );
  },
);

t.test('an unreadable kargs.d file in the commit: a positioned error, no image', async (t) => {
  const dir = t.testdir({});
  const { repo } = await tinyRepo(dir, { 'usr/lib/bootc/kargs.d/10-bad.toml': 'kargs = "iommu=pt"\n' });
  const out = join(dir, 'disk.qcow2');
  const r = diskImage(['--repo', repo, '--ref', REF, '--output', out]);
  t.equal(r.status, 1, r.stderr);
  t.match(r.stderr, /usr\/lib\/bootc\/kargs\.d\/10-bad\.toml:1:9: /);
  t.equal(r.stdout, '');
  await t.rejects(stat(out), { code: 'ENOENT' }, 'nothing written');
});

t.test(
  'Secure Boot: a kernel not signed by Debian is refused unless the treefile says secure-boot: false',
  async (t) => {
    const dir = t.testdir({});
    const out = join(dir, 'disk.raw');
    await writeFile(out, 'previous image');
    const tf = (extra: object) => JSON.stringify({ ref: REF, osname: 'debian', ...extra });
    for (const [name, kernel, want] of [
      ['unsigned', fakePe([]), /vmlinuz is not signed by Debian \(no signature\): shim refuses it under Secure Boot/],
      ['self-signed', fakePe(['My Own Kernel Key']), /not signed by Debian \(signed by: My Own Kernel Key\)/],
      ['not PE', 'not a kernel', /vmlinuz: not a PE\/COFF binary/],
    ] as const) {
      const sub = join(dir, name);
      const { repo } = await tinyRepo(sub, {
        'usr/lib/modules/6.12.0-1-amd64/vmlinuz': kernel,
        'usr/share/debian-atomic/treefile.json': tf({}),
      });
      const r = diskImage(['--repo', repo, '--ref', REF, '--format', 'raw', '--output', out]);
      t.equal(r.status, 1, name);
      t.match(r.stderr, want, name);
      t.match(r.stderr, /secure-boot: false/, 'the hint names the way out');
      t.equal(await readFile(out, 'utf8'), 'previous image', 'the previous image stays');
    }
    const { repo } = await tinyRepo(join(dir, 'off'), {
      'usr/lib/modules/6.12.0-1-amd64/vmlinuz': fakePe([]),
      'usr/share/debian-atomic/treefile.json': tf({ 'secure-boot': false }),
    });
    const off = diskImage(['--repo', repo, '--ref', REF, '--format', 'raw', '--output', out]);
    t.equal(off.status, 0, off.stderr);
    t.equal(off.json().secureBoot, false);
  },
);

t.test('a commit without the signed shim or GRUB: a clear error naming the packages', async (t) => {
  const dir = t.testdir({});
  const { repo } = await tinyRepo(dir, { 'usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed': null });
  const r = diskImage(['--repo', repo, '--ref', REF, '--format', 'raw', '--output', join(dir, 'disk.raw')]);
  t.equal(r.status, 1);
  t.match(
    r.stderr,
    /: no \/usr\/lib\/grub\/x86_64-efi-signed\/grubx64\.efi\.signed in the commit \(package grub-efi-amd64-signed\)/,
  );
  t.match(r.stderr, /add shim-signed and grub-efi-amd64-signed to the treefile's packages/);
});
