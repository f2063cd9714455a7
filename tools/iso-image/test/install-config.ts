import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '@debian-atomic/disk-image';
import { GPG_KEY_NAME, installPlan, rewriteGpgKey, writeInstallConfig } from '../src/install-config.js';

const KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF\n-----END PGP PUBLIC KEY BLOCK-----\n';

t.test('unattended only when the config names the disk; poweroff by default', async (t) => {
  t.same(installPlan({}), { unattended: false, device: null, finish: 'poweroff' });
  t.same(installPlan({ install: { device: '/dev/vda', finish: 'reboot' } }), {
    unattended: true,
    device: '/dev/vda',
    finish: 'reboot',
  });
});

t.test('the config goes on the ISO as given, its gpg-key beside it under a fixed name', async (t) => {
  const dir = t.testdir({
    keys: { 'k.asc': KEY },
    'plain.yaml': 'install:\n  device: /dev/vda\n',
    'keyed.yaml':
      '# my install\nremote:\n  url: http://10.0.2.2:8000/\n  gpg-key: keys/k.asc # the signing key\ninstall:\n  finish: reboot\n',
    tree1: {},
    tree2: {},
  });
  await writeInstallConfig(join(dir, 'plain.yaml'), await loadConfig(join(dir, 'plain.yaml')), join(dir, 'tree1'));
  t.equal(await readFile(join(dir, 'tree1/install.yaml'), 'utf8'), 'install:\n  device: /dev/vda\n');
  await writeInstallConfig(join(dir, 'keyed.yaml'), await loadConfig(join(dir, 'keyed.yaml')), join(dir, 'tree2'));
  t.equal(await readFile(join(dir, `tree2/${GPG_KEY_NAME}`), 'utf8'), KEY);
  const copied = await readFile(join(dir, 'tree2/install.yaml'), 'utf8');
  t.match(copied, /gpg-key: install-gpg-key\.asc # the signing key/);
  t.match(copied, /^# my install/);
  // The copy is still a valid config whose key resolves beside it.
  t.equal((await loadConfig(join(dir, 'tree2/install.yaml'))).remote?.['gpg-key'], GPG_KEY_NAME);
});

t.test('rewriteGpgKey keeps everything else', async (t) => {
  t.equal(
    rewriteGpgKey('remote:\n  url: http://x/\n  gpg-key: /abs/k.asc\n', 'n.asc'),
    'remote:\n  url: http://x/\n  gpg-key: n.asc\n',
  );
});
