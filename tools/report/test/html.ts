import t from 'tap';
import { duration, esc, mib, packagesSvg, renderHtml, timelineSvg } from '../src/html.js';
import type { Report } from '../src/report.js';

t.test('durations read as a person says them', async (t) => {
  t.equal(duration(0.4), '0.4 s');
  t.equal(duration(59.94), '59.9 s');
  t.equal(duration(68), '1 min 08 s');
  t.equal(duration(3599), '59 min 59 s');
  t.equal(duration(3 * 3600 + 5 * 60), '3 h 05 min');
  t.equal(mib(527522), '515.2 MiB');
});

const step = {
  step: 'rootfs',
  run: 'r1',
  start: '2026-12-07T08:00:00.000Z',
  end: '2026-12-07T08:01:08.000Z',
  seconds: 68,
  exit: 0,
  times: 1,
  argv: ['--treefile', '<x>'],
  output: null,
  stdout: null,
};
const report: Report = {
  apiVersion: 'org.debian-atomic/v1',
  kind: 'BuildReport',
  variant: 'a<b>&"c"',
  run: 'r1',
  generated: '2026-12-07T08:02:00.000Z',
  steps: [
    { ...step, status: 'rebuilt', times: 2 },
    { ...step, step: 'usr-unify', status: 'failed', exit: 1 },
    { ...step, step: 'ostree-commit', status: 'cached', run: 'r0', times: 0 },
  ],
  timing: { rebuilt: 1, failed: 1, cached: 1, start: step.start, end: step.end, stepSeconds: 136, wallSeconds: 68 },
  packages: {
    manifest: 'm.json',
    count: 2,
    installedKiB: 0,
    top: [{ name: 'z', version: '1', architecture: 'all', installedSizeKiB: 0, share: 0 }],
    other: { count: 1, installedKiB: 0 },
  },
  stages: {
    rootfs: { packages: 2, installedSizeKiB: 10, kernel: null, suite: 'trixie', seconds: 60 },
    commit: { ref: 'debian/13/x86_64/base', commit: 'a'.repeat(64), version: null, timestamp: 0 },
    disk: { output: 'build/base/disk.qcow2', format: 'qcow2', fileBytes: 1 << 30, virtualSize: 4 * 2 ** 30 },
    iso: { output: 'build/base/installer.iso', bytes: 1 << 29, seconds: 60 },
  },
};

t.test('every text is escaped; the page has nothing to fetch', async (t) => {
  t.equal(esc(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  const html = renderHtml(report);
  t.match(html, /<h1>Build report: a&lt;b&gt;&amp;&quot;c&quot;<\/h1>/);
  t.match(html, /<title>--treefile &lt;x&gt;<\/title>/);
  t.notMatch(html, /<script|\bsrc=|\bhref=|@import|url\(/, 'no script, no external resource');
  t.match(html, /Content-Security-Policy" content="default-src 'none'/);
});

t.test('rebuilt, failed and cached steps say so; the stage figures are listed', async (t) => {
  const svg = timelineSvg(report);
  t.match(svg, /1 min 08 s \(ran 2 times\)/);
  t.match(svg, /failed \(exit 1\) after 1 min 08 s/);
  t.match(svg, /cache hit · last built 2026-12-07 08:01:08 UTC in 1 min 08 s/);
  const html = renderHtml(report);
  t.match(html, /1 rebuilt · 1 cache hits · 1 failed · 1 min 08 s from 2026-12-07 08:00:00 UTC/);
  t.match(html, /<dt>root filesystem<\/dt><dd>2 packages, 0\.0 MiB installed, trixie<\/dd>/);
  t.match(html, /<dd>debian\/13\/x86_64\/base aaaaaaaaaaaa<\/dd>/);
  t.match(html, /build\/base\/disk\.qcow2 \(qcow2\): 1024\.0 MiB on disk, 4096\.0 MiB virtual/);
  t.match(html, /installer ISO<\/dt><dd>build\/base\/installer\.iso: 512\.0 MiB/);
  t.notMatch(renderHtml({ ...report, stages: {} }), /<h2>Outputs/);
  t.match(renderHtml({ ...report, packages: null }), /No package manifest yet/);
});

t.test('zero-size packages still draw a bar; no share of nothing', async (t) => {
  const svg = packagesSvg(report.packages!);
  t.match(svg, /width="2\.0"/);
  t.notMatch(svg, /NaN|Infinity/);
  t.match(svg, /other \(1 packages\)/);
  const long = packagesSvg({
    ...report.packages!,
    top: [{ ...report.packages!.top[0]!, name: 'firmware-linux-nonfree-misc-extra-long' }],
  });
  t.match(long, /class="label">firmware-linux-nonfree-misc-extra…<\/text>/, 'cut to fit the label column');
  t.match(long, /<title>firmware-linux-nonfree-misc-extra-long 1 \(all\)<\/title>/, 'whole in the tooltip');
});
