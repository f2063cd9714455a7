import t from 'tap';
import { MAX_DISK_BYTES, planLayout, seededUuid, sfdiskScript, MiB } from '../src/disk.js';
import { parseSize } from '../src/config.js';
import { espGrubConfig } from '@debian-atomic/lib';
import { menuHeader } from '../src/grub.js';

t.test('sizes', async (t) => {
  t.equal(parseSize('512M', 0), 512 * MiB);
  t.equal(parseSize('4G', 0), 4 * 1024 * MiB);
  t.equal(parseSize('1.5GiB', 0), 1.5 * 1024 * MiB);
  t.equal(parseSize(4096, 0), 4096);
  t.equal(parseSize(undefined, 7), 7);
});

t.test('layout: aligned, root grown to fit, or filling a given disk', async (t) => {
  const l = planLayout({ contentBytes: 400 * MiB, inodes: 20000, seed: 's' });
  t.equal(l.espStart, MiB);
  t.equal(l.rootStart, 65 * MiB);
  t.equal(l.rootBytes % MiB, 0);
  t.ok(l.rootBytes > 400 * MiB + 1024 * MiB, 'content + overhead + 1 GiB free by default');
  t.equal(l.diskBytes, l.rootStart + l.rootBytes + MiB);
  const fixed = planLayout({ contentBytes: 400 * MiB, inodes: 20000, seed: 's', diskBytes: 4096 * MiB });
  t.equal(fixed.diskBytes, 4096 * MiB);
  t.equal(fixed.rootBytes, 4096 * MiB - 66 * MiB);
  t.throws(() => planLayout({ contentBytes: 400 * MiB, inodes: 20000, seed: 's', diskBytes: 300 * MiB }), /too small/);
  t.equal(
    planLayout({ contentBytes: 0, inodes: 0, seed: 's' }).rootFsUuid,
    l.rootFsUuid,
    'the root UUID depends on the seed only',
  );
  t.throws(
    () => planLayout({ contentBytes: 400 * MiB, inodes: 20000, seed: 's', freeBytes: MAX_DISK_BYTES }),
    { code: 'too-large', message: /more than the largest disk-image makes/ },
    'content plus free space past 64 TiB',
  );
  t.equal(
    planLayout({ contentBytes: 0, inodes: 0, seed: 's', diskBytes: MAX_DISK_BYTES }).diskBytes,
    MAX_DISK_BYTES,
    '64 TiB itself is allowed',
  );
});

t.test('seeded UUIDs are valid v4 and stable', async (t) => {
  t.match(seededUuid('x'), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.equal(seededUuid('x'), seededUuid('x'));
  t.not(seededUuid('x'), seededUuid('y'));
});

t.test('sfdisk script and GRUB config', async (t) => {
  const l = planLayout({ contentBytes: MiB, inodes: 10, seed: 's' });
  const s = sfdiskScript(l);
  t.match(s, /^label: gpt$/m);
  t.match(s, /start=2048, size=131072, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B/);
  t.match(s, /type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=[0-9a-f-]{36}, name="root"/);
  const g = espGrubConfig('abcd-ef');
  t.match(g, /^search --no-floppy --fs-uuid --set=root abcd-ef$/m);
  t.match(g, /^configfile \$prefix\/grub\.cfg$/m, 'hands over to /boot/grub/grub.cfg on the root');
  t.match(menuHeader(), /^set default=0$/m);
});
