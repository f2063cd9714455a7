import t from 'tap';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mutateOsRelease, treeDigest } from '../src/osrelease.js';

t.test('mutate-os-release: VERSION and PRETTY_NAME carry the composed version', async (t) => {
  const text =
    'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\nVERSION="13 (trixie)"\nID=debian\n';
  t.equal(
    mutateOsRelease(text, '13', '13.20261122.0'),
    'PRETTY_NAME="Debian GNU/Linux 13.20261122.0 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\nVERSION="13.20261122.0 (trixie)"\nID=debian\nOSTREE_VERSION=\'13.20261122.0\'\n',
  );
  t.equal(
    mutateOsRelease('VERSION="13"\nOSTREE_VERSION=\'old\'\n', '13', '13.1'),
    'VERSION="13.1"\nOSTREE_VERSION=\'13.1\'\n',
    'an old OSTREE_VERSION is replaced',
  );
});

t.test('tree digest: changes with content, modes and links; stable otherwise', async (t) => {
  const dir = t.testdir({ a: { f: 'one' } });
  await symlink('f', join(dir, 'a/l'));
  const d1 = await treeDigest(dir);
  t.equal(await treeDigest(dir), d1);
  await writeFile(join(dir, 'a/f'), 'two');
  const d2 = await treeDigest(dir);
  t.not(d2, d1);
  await mkdir(join(dir, 'b'));
  t.not(await treeDigest(dir), d2);
});
