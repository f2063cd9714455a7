/**
 * Hostile trees for usr-unify: the real tool (dist/bin.js), one process per case, capped in time
 * and memory (tools/lib's harness). What it reads from the tree (the treefile rootfs recorded,
 * passwd, group, tmpfiles.d) is read bounded, as regular files, and never through a symlink out
 * of the tree; a bad one is an input error (exit 2) found while planning: the tree is unchanged.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostileSuite, runCase, type HostileCase, type HostileFile } from '../../lib/test/fixtures/hostile.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (tsc -b tools/usr-unify)`);
t.setTimeout(300_000);

/** A small tree without a kernel (so no dracut runs): /etc, accounts, /var. */
const TREE: Record<string, HostileFile> = {
  'tree/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
  'tree/etc/group': 'root:x:0:\n',
  'tree/usr/bin/sh': '#!/bin/true\n',
  'tree/var/lib/misc/x': 'x\n',
};
const TREEFILE = 'tree/usr/share/debian-atomic/treefile.json';
const args = ['--quiet', '{dir}/tree'];
const unchanged = (dir: string) => {
  if (
    !existsSync(join(dir, 'tree/etc')) ||
    existsSync(join(dir, 'tree/usr/etc')) ||
    !existsSync(join(dir, 'tree/var/lib/misc/x'))
  )
    throw new Error('the tree was changed');
};
const c = (name: string, files: Record<string, HostileFile>, stderr: RegExp): HostileCase => ({
  name,
  args,
  files: { ...TREE, ...files },
  exit: 2,
  stderr,
  after: unchanged,
});

const cases: HostileCase[] = [
  c(
    'read: the in-tree treefile is a FIFO',
    { [TREEFILE]: { fifo: true } },
    /^usr-unify: \S*treefile\.json: cannot read: a FIFO, expected a regular file\n/,
  ),
  c(
    'read: a 50 MB in-tree treefile',
    { [TREEFILE]: Buffer.alloc(50 << 20, ' ') },
    /treefile\.json: file larger than 4194304 bytes/,
  ),
  c(
    'read: an in-tree treefile that is not JSON (was an internal error)',
    { [TREEFILE]: '{"initramfs-args": [' },
    /^usr-unify: \S*treefile\.json: not valid JSON\n/,
  ),
  c(
    "read: an in-tree treefile linking to /dev/zero reads the tree's /dev/zero, not the host's",
    { [TREEFILE]: { symlink: '/dev/zero' } },
    /^usr-unify: \S*\/tree\/dev\/zero: cannot read: no such file\n/,
  ),
  c(
    "read: an in-tree treefile linking to the host's /etc/passwd reads the tree's",
    { [TREEFILE]: { symlink: '../../../../../../../../etc/passwd' } },
    /^usr-unify: \S*\/tree\/etc\/passwd: not valid JSON\n/,
  ),
  c('read: etc/passwd is a FIFO', { 'tree/etc/passwd': { fifo: true } }, /\/tree\/etc\/passwd: cannot read: a FIFO/),
  c(
    'read: etc/group links to /dev/urandom',
    { 'tree/etc/group': { symlink: '/dev/urandom' } },
    /\/tree\/dev\/urandom: cannot read: no such file/,
  ),
  c(
    'read: a 50 MB etc/passwd',
    { 'tree/etc/passwd': 'a:x:1:1::/home/a:/bin/sh\n'.repeat(2 << 20) },
    /\/tree\/etc\/passwd: file larger than 4194304 bytes/,
  ),
  c(
    'injection: a newline in initramfs-args (dracut arguments)',
    { [TREEFILE]: JSON.stringify({ 'initramfs-args': ['--add\nevil'] }) },
    /treefile\.json: initramfs-args\.0: must be one line: it contains a newline/,
  ),
  c(
    'grammar: initramfs-args that is not a list',
    { [TREEFILE]: JSON.stringify({ 'initramfs-args': '--add evil' }) },
    /treefile\.json: initramfs-args: expected a list of at most 256 arguments/,
  ),
  {
    name: 'read: a tmpfiles.d conf that is a FIFO is skipped, not waited on',
    args,
    files: { ...TREE, 'tree/usr/lib/tmpfiles.d/x.conf': { fifo: true } },
    exit: 0,
    stdout: /"applied": true/,
  },
];

t.test('hostile input', async (t) => {
  await hostileSuite(t, bin, cases);
});

t.test('read: /bin/x and /usr/bin/x of 150 MB each are compared a chunk at a time', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [rel, content] of Object.entries(TREE)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), content as string);
  }
  mkdirSync(join(dir, 'tree/bin'));
  // Sparse: made in no time, read as zeros; a whole-file compare held 300 MB.
  for (const f of ['tree/bin/big', 'tree/usr/bin/big']) {
    writeFileSync(join(dir, f), '');
    truncateSync(join(dir, f), 150 << 20);
  }
  const r = await runCase(bin, { name: 'big', args: ['--check', '{dir}/tree'], exit: 1 }, dir);
  t.equal(
    r.killed,
    null,
    `within 15 s of CPU and 300 MiB (${r.cpuSeconds.toFixed(2)} s of CPU in ${r.seconds.toFixed(2)} s, peak ${r.peakMb} MiB)`,
  );
  t.equal(r.code, 1, r.stderr);
  t.match(r.stdout, /"remove \/bin\/big"/, 'the two copies are the same: /bin/big is dropped');
  t.ok(r.peakMb < 150, `peak ${r.peakMb} MiB`);
});
