import t from 'tap';
import { ToolError } from '@debian-atomic/lib';
import { TarScanner } from '../src/tar.js';
import { DESC_DIRS, DESC_MEMBER, tar, tarHeader, type TarMember } from './fixtures/deb.js';

const LIMITS = { total: 64 << 10, member: 4 << 10, memberWhat: 'a test file' };
const PATH = 'usr/share/tasksel/descs/debian-tasks.desc';

/** Feed the archive in chunks of `size` bytes; the member's text, or the error. */
function scan(
  archive: Buffer,
  size = archive.length,
  limits = LIMITS,
): { found?: string; ended: boolean; error?: ToolError } {
  const s = new TarScanner('x.deb', `./${PATH}`, limits);
  try {
    for (let i = 0; i < archive.length && !s.push(archive.subarray(i, i + size)); i += size);
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    return { ended: s.ended, error: err };
  }
  return { found: s.found?.toString(), ended: s.ended };
}

const paxRecord = (key: string, value: string) => {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  if (String(len).length + body.length !== len) len = String(len + 1).length + body.length;
  return `${len}${body}`;
};

t.test('finds the member, however the stream is cut', async (t) => {
  const archive = tar([
    ...DESC_DIRS,
    { path: './usr/share/tasksel/other', data: 'x'.repeat(700) },
    { path: DESC_MEMBER, data: 'Task: a\n' },
    { path: './after', data: 'y' },
  ]);
  for (const size of [1, 7, 511, 512, 513, 4096, archive.length])
    t.same(scan(archive, size), { found: 'Task: a\n', ended: false }, `chunks of ${size}`);
  t.same(
    scan(tar([{ path: '/usr/share/tasksel//descs/./debian-tasks.desc', data: 'abs' }])),
    { found: 'abs', ended: false },
    'paths are compared by component',
  );
  t.same(
    scan(tar([{ path: DESC_MEMBER, type: '7', data: 'contiguous' }])),
    { found: 'contiguous', ended: false },
    "type '7' is a regular file",
  );
  const noType = tar([{ path: DESC_MEMBER, data: 'old' }]);
  noType[156] = 0;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : noType[i]!;
  noType.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  t.same(scan(noType), { found: 'old', ended: false }, 'a NUL type flag (pre-POSIX tar) is a regular file');
});

t.test('the end of the archive without the member', async (t) => {
  t.same(scan(tar(DESC_DIRS)), { found: undefined, ended: true });
  t.same(scan(tar(DESC_DIRS, false)), { found: undefined, ended: false }, 'cut short: neither found nor ended');
  const s = new TarScanner('x.deb', PATH, LIMITS);
  t.equal(s.push(tar([])), true);
  t.equal(s.push(Buffer.from('more')), true, 'nothing is read past the end');
});

t.test('long names: GNU L/K records, pax path/linkpath/size, ustar prefix', async (t) => {
  const gnu = tar([
    { path: '././@LongLink', type: 'L', data: `${DESC_MEMBER}\0` },
    { path: 'truncated-name', data: 'gnu' },
  ]);
  t.same(scan(gnu, 100), { found: 'gnu', ended: false });
  const pax = tar([
    { path: 'PaxHeaders/x', type: 'x', data: paxRecord('path', DESC_MEMBER) + paxRecord('mtime', '1.5') },
    { path: 'short', data: 'pax' },
  ]);
  t.same(scan(pax, 300), { found: 'pax', ended: false });
  const link = tar([
    { path: '././@LongLink', type: 'K', data: '/etc/a-very-long-target\0' },
    { path: DESC_MEMBER, type: '2', linkname: 'short' },
  ]);
  t.match(scan(link).error?.summary, 'is a symbolic link (to /etc/a-very-long-target), expected a regular file');
  const paxLink = tar([
    { path: 'PaxHeaders/x', type: 'x', data: paxRecord('linkpath', '/etc/shadow') },
    { path: DESC_MEMBER, type: '1' },
  ]);
  t.match(
    scan(paxLink).error?.summary,
    'x.deb: /usr/share/tasksel/descs/debian-tasks.desc is a hard link (to /etc/shadow), expected a regular file',
  );
  // pax size: the real size of the next member (its header says 0).
  const paxSize = tar([
    { path: 'PaxHeaders/x', type: 'x', data: paxRecord('size', '5') },
    { path: './skip', size: 0, data: 'hello' },
    { path: DESC_MEMBER, data: 'after' },
  ]);
  t.same(scan(paxSize), { found: 'after', ended: false });
  const ustar = tarHeader({ path: 'debian-tasks.desc', data: 'prefixed' });
  ustar.write('./usr/share/tasksel/descs', 345, 'latin1');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : ustar[i]!;
  ustar.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  t.same(scan(Buffer.concat([ustar, Buffer.from('prefixed'.padEnd(512, '\0')), Buffer.alloc(1024)])), {
    found: 'prefixed',
    ended: false,
  });
  const global = tar([
    { path: 'pax_global_header', type: 'g', data: paxRecord('comment', 'x'.repeat(600)) },
    { path: DESC_MEMBER, data: 'g' },
  ]);
  t.same(scan(global), { found: 'g', ended: false }, 'a global pax header is skipped');
});

t.test('refused: what is not a regular file, a .. path, too much', async (t) => {
  const refuse = (members: TarMember[], limits = LIMITS) => scan(tar(members), 512, limits).error?.summary;
  t.equal(
    refuse([{ path: DESC_MEMBER, type: '2', linkname: '/etc/passwd' }]),
    `x.deb: /${PATH} is a symbolic link (to /etc/passwd), expected a regular file`,
  );
  t.equal(
    refuse([{ path: DESC_MEMBER, type: '1', linkname: 'usr/share/doc/x' }]),
    `x.deb: /${PATH} is a hard link (to usr/share/doc/x), expected a regular file`,
  );
  t.equal(refuse([{ path: `${DESC_MEMBER}/`, type: '5' }]), `x.deb: /${PATH} is a directory, expected a regular file`);
  t.equal(refuse([{ path: DESC_MEMBER, type: '6' }]), `x.deb: /${PATH} is a FIFO, expected a regular file`);
  t.equal(
    refuse([{ path: DESC_MEMBER, type: 'S' }]),
    `x.deb: /${PATH} is a member of type 'S', expected a regular file`,
  );
  t.equal(
    refuse([{ path: './a/../../etc/cron.d/x', data: 'x' }]),
    "x.deb: unsafe member path './a/../../etc/cron.d/x' (a '..' component)",
  );
  t.equal(
    refuse([{ path: DESC_MEMBER, data: 'x'.repeat(5000) }]),
    `x.deb: /${PATH} is 5000 bytes, more than the 4096 a test file may have`,
  );
  const many = Array.from({ length: 200 }, (_, i) => ({ path: `./f${i}`, data: 'x'.repeat(400) }));
  t.equal(
    refuse(many),
    `x.deb: its data.tar is larger than 65536 bytes before /${PATH}; refusing it`,
    'many small members add up',
  );
  t.equal(
    refuse([{ path: './big', size: 1 << 30 }]),
    `x.deb: its data.tar is larger than 65536 bytes before /${PATH}; refusing it`,
    'refused from the header alone',
  );
  t.equal(
    refuse(Array.from({ length: 200 }, () => ({ path: '././@LongLink', type: 'L', data: 'x'.repeat(400) }))),
    `x.deb: its data.tar is larger than 65536 bytes before /${PATH}; refusing it`,
    'long-name records count too',
  );
  t.equal(
    refuse([{ path: '././@LongLink', type: 'L', size: 2 << 20 }], { ...LIMITS, total: 8 << 20 }),
    'x.deb: damaged data.tar (a 2097152-byte extended header at byte 0)',
  );
});

t.test('damaged archives', async (t) => {
  const damaged = (archive: Buffer) => scan(archive).error?.summary;
  t.equal(damaged(Buffer.alloc(1024, 'garbage ')), 'x.deb: damaged data.tar (bad header checksum at byte 0)');
  const badSize = tarHeader({ path: './x', data: '' });
  badSize.write('12345678z12\0', 124, 'latin1');
  t.match(
    damaged(Buffer.concat([fixSum(badSize), Buffer.alloc(1024)])),
    'damaged data.tar (a malformed size at byte 0)',
  );
  const negative = tarHeader({ path: './x' });
  negative.fill(0xff, 124, 136);
  t.match(
    damaged(Buffer.concat([fixSum(negative), Buffer.alloc(1024)])),
    'damaged data.tar (a negative size at byte 0)',
  );
  const base256 = tarHeader({ path: './x' });
  base256.fill(0, 124, 136);
  base256[124] = 0x80;
  base256.writeUInt32BE(1 << 30, 132);
  t.match(
    damaged(Buffer.concat([fixSum(base256), Buffer.alloc(1024)])),
    'its data.tar is larger than 65536 bytes',
    'a base-256 size is read (and refused here)',
  );
  t.match(
    damaged(tar([{ path: 'PaxHeaders/x', type: 'x', data: '99 path=x\n' }])),
    'damaged data.tar (a malformed pax header)',
  );
  t.match(
    damaged(tar([{ path: 'PaxHeaders/x', type: 'x', data: 'x path=x\n' }])),
    'damaged data.tar (a malformed pax header)',
  );
  t.match(
    damaged(tar([{ path: 'PaxHeaders/x', type: 'x', data: paxRecord('size', '-1') }])),
    "damaged data.tar (a malformed pax size '-1')",
  );
  const noSum = tarHeader({ path: './x' });
  noSum.fill(0, 148, 156);
  t.match(damaged(Buffer.concat([noSum, Buffer.alloc(1024)])), 'bad header checksum');
});

function fixSum(h: Buffer): Buffer {
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}
