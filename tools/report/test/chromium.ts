/**
 * report.html as a person sees it: Debian's chromium (scripts/deps.sh installs it) renders a
 * report made from the fixtures, headless; its DOM must show the steps and the largest packages,
 * its screenshot must not be blank and must show the bars' colours. The screenshot is kept in
 * build/test-logs/report.png. Without chromium this test fails: it is a dependency, not an option.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PassThrough } from 'node:stream';
import { COLOURS } from '../src/html.js';
import { main } from '../src/main.js';
import { countColour, decodePng, variety } from './fixtures/png.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const LOGS = resolve(import.meta.dirname, '../../../build/test-logs');
const CHROMIUM = process.env.CHROMIUM ?? 'chromium';
const WIDTH = 1100;
const HEIGHT = 1300;

/** Headless chromium with nothing of the user's: a new profile, no network chatter, no first-run UI. */
function chromium(args: string[]) {
  const profile = mkdtempSync(join(tmpdir(), 'report-chromium-'));
  try {
    return spawnSync(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        '--hide-scrollbars',
        ...args,
      ],
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 },
    );
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

t.test('report.html in headless chromium: the DOM and a screenshot that shows the bars', async (t) => {
  const version = chromium(['--version']);
  t.equal(version.error, undefined, `${CHROMIUM} runs (scripts/deps.sh installs Debian's chromium)`);
  t.match(version.stdout, /Chromium \d+/);
  if (version.error) return;

  const dir = join(t.testdir({}), 'base');
  mkdirSync(join(dir, 'rootfs/usr/share/debian-atomic'), { recursive: true });
  cpSync(join(FIXTURES, 'packages.json'), join(dir, 'rootfs/usr/share/debian-atomic/packages.json'));
  for (const f of ['steps.ndjson', 'rootfs.json', 'commit.json', 'oci.json']) cpSync(join(FIXTURES, f), join(dir, f));
  // The first run of the fixture: every step rebuilt, so the timeline has its orange bars.
  const first = JSON.parse(readFileSync(join(dir, 'steps.ndjson'), 'utf8').split('\n')[0]!).run;
  t.equal(
    await main(['--quiet', '--top', '8', '--run', first, dir], {
      stdout: new PassThrough(),
      stderr: process.stderr,
      stdin: new PassThrough(),
      env: {},
    }),
    0,
  );
  const url = pathToFileURL(join(dir, 'report.html')).href;

  const dom = chromium(['--dump-dom', url]);
  t.equal(dom.status, 0, `--dump-dom exits 0${dom.status ? `: ${dom.stderr.slice(-500)}` : ''}`);
  for (const step of ['treefile-lint', 'rootfs', 'usr-unify', 'ostree-commit'])
    t.match(dom.stdout, new RegExp(`<text[^>]*class="label"[^>]*>${step}</text>`), `the timeline shows ${step}`);
  for (const pkg of ['linux-image-6.12.117+deb13-amd64', 'libnode115', 'libicu76', 'skopeo'])
    t.ok(dom.stdout.includes(`class="label">${pkg}</text>`), `the bars show ${pkg}`);
  t.match(dom.stdout, /other \(7 packages\)/);
  t.match(dom.stdout, /<p class="meta" id="package-total">15 packages, /);
  t.match(dom.stdout, /id="timing">4 rebuilt · 0 cache hits/);

  const png = join(dir, 'report.png');
  const shot = chromium([`--screenshot=${png}`, `--window-size=${WIDTH},${HEIGHT}`, url]);
  t.equal(shot.status, 0, `--screenshot exits 0${shot.status ? `: ${shot.stderr.slice(-500)}` : ''}`);
  const img = decodePng(readFileSync(png));
  mkdirSync(LOGS, { recursive: true });
  copyFileSync(png, join(LOGS, 'report.png'));
  t.same([img.width, img.height], [WIDTH, HEIGHT]);
  const v = variety(img);
  t.ok(v.colours > 50, `not blank: ${v.colours} colours (text is anti-aliased)`);
  t.ok(v.inked > 0.03, `ink on ${(v.inked * 100).toFixed(1)} % of the page`);
  t.ok(
    countColour(img, COLOURS.package) > 8 * 20 * 20,
    `the package bars' colour ${COLOURS.package}: ${countColour(img, COLOURS.package)} pixels`,
  );
  t.ok(
    countColour(img, COLOURS.rebuilt) > 4 * 18 * 3,
    `the rebuilt steps' colour ${COLOURS.rebuilt}: ${countColour(img, COLOURS.rebuilt)} pixels`,
  );
  t.equal(countColour(img, COLOURS.failed), 0, 'no failed step, no red');
});
