/**
 * report.html: one self-contained page (inline CSS and SVG, no script, no network) drawn from
 * the report's data: the steps' timeline, the image's size by package, the stage figures.
 */
import type { Report, StepRow } from './report.js';

/** The colours a reader (and the screenshot test) tells apart. */
export const COLOURS = {
  rebuilt: '#e07b24',
  failed: '#c62828',
  cached: '#b8c0c8',
  package: '#3b6fb6',
  other: '#8fa9cf',
} as const;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return m < 60
    ? `${m} min ${String(Math.round(seconds - m * 60)).padStart(2, '0')} s`
    : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
/** UTC, to the second: a report read on another machine says the same. */
const when = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;

const ROW = 30;
const LABEL = 250;
const BARS = 560;
/** Longer names (linux-image-6.12.117+deb13-amd64 fits) are cut; the bar's tooltip has them whole. */
const LABEL_CHARS = 34;
const label = (s: string) => esc(s.length > LABEL_CHARS ? `${s.slice(0, LABEL_CHARS - 1)}…` : s);
const WIDTH = 1000;

function stepLine(s: StepRow, y: number, t0: number, span: number): string {
  const name = `<text x="0" y="${y + 19}" class="label">${label(s.step)}</text>`;
  if (s.status === 'cached') {
    return (
      `${name}<rect x="${LABEL}" y="${y + 6}" width="14" height="18" rx="3" fill="${COLOURS.cached}"/>` +
      `<text x="${LABEL + 22}" y="${y + 19}" class="note">cache hit · last built ${esc(when(s.end))} in ${esc(duration(s.seconds))}</text>`
    );
  }
  const x = LABEL + ((Date.parse(s.start) - t0) / span) * BARS;
  const w = Math.max(3, ((s.seconds * 1000) / span) * BARS);
  const text = `${s.status === 'failed' ? `failed (exit ${s.exit}) after ` : ''}${duration(s.seconds)}${s.times > 1 ? ` (ran ${s.times} times)` : ''}`;
  return (
    `${name}<rect x="${x.toFixed(1)}" y="${y + 6}" width="${w.toFixed(1)}" height="18" rx="3" fill="${COLOURS[s.status]}"><title>${esc(s.argv.join(' '))}</title></rect>` +
    `<text x="${LABEL + BARS + 12}" y="${y + 19}" class="note">${esc(text)}</text>`
  );
}

export function timelineSvg(r: Report): string {
  if (!r.steps.length)
    return '<p class="empty">No steps recorded yet (DEBIAN_ATOMIC_STEPS is set by make for the stage recipes).</p>';
  const t0 = r.timing.start ? Date.parse(r.timing.start) : 0;
  const span = Math.max(1000, r.timing.wallSeconds * 1000);
  const h = r.steps.length * ROW + 10;
  return (
    `<svg class="timeline" role="img" aria-label="steps timeline" width="${WIDTH}" height="${h}" viewBox="0 0 ${WIDTH} ${h}">` +
    r.steps.map((s, i) => stepLine(s, i * ROW, t0, span)).join('') +
    '</svg>'
  );
}

export function packagesSvg(p: NonNullable<Report['packages']>): string {
  const rows: { name: string; kib: number; fill: string; title: string }[] = p.top.map((x) => ({
    name: x.name,
    kib: x.installedSizeKiB,
    fill: COLOURS.package,
    title: `${x.name} ${x.version} (${x.architecture})`,
  }));
  if (p.other.count)
    rows.push({
      name: `other (${p.other.count} packages)`,
      kib: p.other.installedKiB,
      fill: COLOURS.other,
      title: `${p.other.count} smaller packages`,
    });
  const max = Math.max(1, ...rows.map((x) => x.kib));
  const h = rows.length * ROW + 10;
  const bars = rows.map((x, i) => {
    const y = i * ROW;
    const w = Math.max(2, (x.kib / max) * BARS);
    const share = p.installedKiB ? ` · ${((x.kib / p.installedKiB) * 100).toFixed(1)} %` : '';
    return (
      `<text x="0" y="${y + 19}" class="label">${label(x.name)}</text>` +
      `<rect x="${LABEL}" y="${y + 5}" width="${w.toFixed(1)}" height="20" fill="${x.fill}"><title>${esc(x.title)}</title></rect>` +
      `<text x="${LABEL + BARS + 12}" y="${y + 19}" class="note">${esc(mib(x.kib))}${share}</text>`
    );
  });
  return `<svg class="packages" role="img" aria-label="size by package" width="${WIDTH}" height="${h}" viewBox="0 0 ${WIDTH} ${h}">${bars.join('')}</svg>`;
}

function figures(r: Report): string {
  const s = r.stages;
  const items: [string, string][] = [];
  if (s.rootfs)
    items.push([
      'root filesystem',
      `${s.rootfs.packages} packages, ${mib(s.rootfs.installedSizeKiB)} installed, ${s.rootfs.suite}${s.rootfs.kernel ? `, kernel ${s.rootfs.kernel}` : ''}`,
    ]);
  if (s.commit)
    items.push([
      'OSTree commit',
      [s.commit.ref, s.commit.version, s.commit.commit.slice(0, 12)].filter(Boolean).join(' '),
    ]);
  if (s.oci) items.push(['OCI image', `${s.oci.image}: ${s.oci.layers.length} layers, ${mib(s.oci.bytes / 1024)}`]);
  if (s.disk)
    items.push([
      'disk image',
      `${s.disk.output} (${s.disk.format}): ${mib(s.disk.fileBytes / 1024)} on disk, ${mib(s.disk.virtualSize / 1024)} virtual`,
    ]);
  if (s.iso) items.push(['installer ISO', `${s.iso.output}: ${mib(s.iso.bytes / 1024)}`]);
  if (!items.length) return '';
  return `<h2>Outputs</h2><dl>${items.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
}

function summary(r: Report): string {
  const t = r.timing;
  const parts = [`${t.rebuilt} rebuilt`, `${t.cached} cache hits`];
  if (t.failed) parts.push(`${t.failed} failed`);
  if (t.start) parts.push(`${duration(t.wallSeconds)} from ${when(t.start)}`);
  return parts.join(' · ');
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2329;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta,.note,.empty{color:#56606b}svg text{font:13px system-ui,sans-serif;fill:#1d2329}svg text.note{fill:#56606b}
.legend span{display:inline-block;width:12px;height:12px;border-radius:2px;margin:0 4px 0 12px;vertical-align:-1px}
dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px}dt{font-weight:600}dd{margin:0}`;

export function renderHtml(r: Report): string {
  const legend = (['rebuilt', 'cached', 'failed'] as const)
    .filter((k) => r.steps.some((s) => s.status === k))
    .map((k) => `<span style="background:${COLOURS[k]}"></span>${k === 'cached' ? 'cache hit' : k}`)
    .join('');
  const p = r.packages;
  const packages = p
    ? `<h2>Size by package</h2><p class="meta" id="package-total">${p.count} packages, ${esc(mib(p.installedKiB))} installed (dpkg's Installed-Size, from ${esc(p.manifest)})</p>${packagesSvg(p)}`
    : '<h2>Size by package</h2><p class="empty">No package manifest yet: the root filesystem has not been built.</p>';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Build report: ${esc(r.variant)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>${CSS}</style></head>
<body>
<h1>Build report: ${esc(r.variant)}</h1>
<p class="meta">run ${esc(r.run ?? '(none)')} · generated ${esc(when(r.generated))}</p>
<h2>Steps</h2>
<p class="meta" id="timing">${esc(summary(r))}<span class="legend">${legend}</span></p>
${timelineSvg(r)}
${packages}
${figures(r)}
</body></html>
`;
}
