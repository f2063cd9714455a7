import t from 'tap';
import { spawnSync } from 'node:child_process';
import { lstatSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { probe } from '../src/probe.js';
import { extractCapture, scratchDir } from './fixtures/capture.js';

// The capture script is POSIX sh: run it with the system's sh (dash on Debian), as a minimal guest would.
const script = resolve(import.meta.dirname, '../scripts/capture-sysfs.sh');

function capture(t: Parameters<typeof scratchDir>[0], args: string[]): { sysfs: string; proc: string; stderr: string } {
  const out = join(scratchDir(t, 'tarball'), 'capture.tar.gz');
  const res = spawnSync('sh', [script, ...args, out]);
  if (res.status !== 0) throw new Error(`capture failed: ${res.stderr.toString()}`);
  const dir = scratchDir(t, 'recaptured');
  const tar = spawnSync('tar', ['-xzf', out, '-C', dir]);
  if (tar.status !== 0) throw new Error(tar.stderr.toString());
  return { sysfs: join(dir, 'sys'), proc: join(dir, 'proc'), stderr: res.stderr.toString() };
}

t.test('re-capturing a capture gives the same facts, links kept as relative links', async (t) => {
  const c = extractCapture(t, 'qemu-q35-tcg-uefi');
  const again = capture(t, ['-s', c.sysfs, '-p', c.proc]);
  t.equal(again.stderr, '');
  t.same(probe(again).facts, probe(c).facts);
  const link = join(again.sysfs, 'bus/pci/devices/0000:00:03.0');
  t.ok(lstatSync(link).isSymbolicLink());
  t.equal(readlinkSync(link), '../../../devices/pci0000:00/0000:00:03.0');
  t.equal(readlinkSync(join(again.sysfs, 'devices/pci0000:00/0000:00:03.0/driver')), '../../../bus/pci/drivers/nvme');
  t.ok(
    lstatSync(join(again.sysfs, 'bus/pci/drivers/nvme')).isDirectory(),
    'the driver link resolves inside the capture',
  );
});

t.test('a capture of the live machine probes like the live machine', async (t) => {
  const live = capture(t, []);
  t.same(probe(live).facts, probe().facts);
});

t.test('usage', async (t) => {
  const res = spawnSync('sh', [script]);
  t.equal(res.status, 2);
  t.match(res.stderr.toString(), /^usage: /);
});
