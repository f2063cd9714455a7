import t from 'tap';
import { join } from 'node:path';
import { formatDiagnostic } from '@debian-atomic/lib';
import { lintTreefile, lintTreefiles } from '../src/lint.js';

const REQUIRED = 'suite: trixie\nrepos: [{mirror: "http://deb.debian.org/debian", components: [main]}]\n';

t.test('reports: ok, ref, fragment, error count', async (t) => {
  const dir = t.testdir({
    'common.yaml': `${REQUIRED}units: [bad]\n`,
    'base.yaml': 'include: common.yaml\nref: debian/13/x86_64/base\npackages: [systemd]\n',
    'frag.yaml': 'packages: [vim]\n',
    'good.yaml': `ref: x/good\npackages: [vim]\n${REQUIRED}`,
  });
  const { reports, diagnostics } = await lintTreefiles(
    ['common.yaml', 'base.yaml', 'frag.yaml', 'good.yaml'].map((f) => join(dir, f)),
  );
  t.same(
    reports.map((r) => ({ ...r, file: r.file.slice(dir.length + 1) })),
    [
      { file: 'common.yaml', ok: false, fragment: true, errors: 1 },
      { file: 'base.yaml', ok: false, ref: 'debian/13/x86_64/base', errors: 1 },
      { file: 'frag.yaml', ok: true, fragment: true, errors: 0 },
      { file: 'good.yaml', ok: true, ref: 'x/good', errors: 0 },
    ],
  );
  // common.yaml's problem is printed once although two files read it.
  t.equal(diagnostics.length, 1);
  t.match(formatDiagnostic(diagnostics[0]!), /common\.yaml:3:9: units\.0: not a valid systemd unit name/);
});

t.test('lintTreefile returns the resolution too', async (t) => {
  const dir = t.testdir({ 'a.yaml': `ref: a/b\npackages: [vim]\n${REQUIRED}` });
  const { report, result } = await lintTreefile(join(dir, 'a.yaml'));
  t.same(report, { file: join(dir, 'a.yaml'), ok: true, ref: 'a/b', errors: 0 });
  t.same(result.resolved?.packages, ['vim']);
});
