import t from 'tap';
import { ToolError } from '@debian-atomic/lib';
import { explainMmdebstrapFailure } from '../src/errors.js';
import { treefile } from './fixtures/treefile.js';

const fallback = new ToolError('command-failed', 'mmdebstrap failed');
const tf = treefile();

t.test('apt and dpkg failures are named', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    [
      'E: Unable to locate package nosuchpkg\nE: Unable to locate package other\n',
      'unknown-package',
      /unknown packages nosuchpkg, other \(not in trixie\/amd64 of http:\/\/deb\.debian\.org\/debian\)/,
    ],
    [
      "E: Package 'nano' has no installation candidate\n",
      'unknown-package',
      /package nano has no installation candidate/,
    ],
    [
      'The following packages have unmet dependencies:\n foo : Depends: bar but it is not installable\nE: Unable to correct problems\n',
      'unmet-dependencies',
      /unmet dependencies/,
    ],
    [
      "W: GPG error: http://deb.debian.org/debian trixie InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 762F67A0B2C39DE4\n",
      'bad-keyring',
      /NO_PUBKEY 762F67A0B2C39DE4|couldn't be verified/,
    ],
    [
      'E: Release file for http://deb.debian.org/debian/dists/forky/InRelease is expired (invalid since 16d 8h 31min 47s). Updates for this repository will not be applied.\n',
      'release-expired',
      /Release file is expired: http:\/\/deb\.debian\.org\/debian\/dists\/forky\/InRelease/,
    ],
    [
      'E: Failed to fetch http://127.0.0.1:9/debian/dists/trixie/InRelease  Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)\n',
      'mirror-unreachable',
      /cannot reach the mirror: Failed to fetch http:\/\/127\.0\.0\.1:9/,
    ],
    [
      "E: The repository 'http://deb.debian.org/debian nosuch Release' does not have a Release file.\n",
      'no-such-suite',
      /has no suite trixie/,
    ],
    [
      'Setting up dracut (106-6) ...\n/var/lib/dpkg/info/dracut.postinst: 11: /etc/kernel/postinst.d/dracut: not found\ndpkg: error processing package dracut (--configure):\n installed dracut package post-installation script subprocess returned error exit status 127\n',
      'package-script-failed',
      /package dracut failed to configure: installed dracut package post-installation script/,
    ],
  ];
  for (const [stderr, code, summary] of cases) {
    const e = explainMmdebstrapFailure(stderr, tf, fallback);
    t.equal(e.code, code, code);
    t.match(e.summary, summary);
  }
  const other = explainMmdebstrapFailure('W: Unable to read x - RealFileExists\nE: something odd\n', tf, fallback);
  t.equal(other.summary, 'mmdebstrap failed');
  t.equal(other.detail, 'E: something odd');
  t.equal(explainMmdebstrapFailure('nothing useful', tf, fallback), fallback);
});
