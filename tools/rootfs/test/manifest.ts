import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDpkgStatus } from '../src/manifest.js';

t.test('dpkg status: installed packages with source and size', async (t) => {
  const status = readFileSync(join(import.meta.dirname, 'fixtures/status'), 'utf8');
  const pkgs = parseDpkgStatus(status);
  t.same(
    pkgs.map((p) => p.name),
    ['libsystemd0', 'systemd', 'zlib1g'],
  );
  t.same(pkgs[0], {
    name: 'libsystemd0',
    version: '257.9-1~deb13u1',
    architecture: 'amd64',
    source: 'systemd',
    sourceVersion: '257.9-1~deb13u1',
    installedSizeKiB: 1047,
  });
  t.same(pkgs[2], {
    name: 'zlib1g',
    version: '1:1.3.dfsg+really1.3.1-1+b1',
    architecture: 'amd64',
    source: 'zlib',
    sourceVersion: '1:1.3.dfsg+really1.3.1-1',
    installedSizeKiB: 168,
  });
});
