import t from 'tap';
import { HostSchema } from '../src/schema.js';
import { formatStatus, hostDocument } from '../src/status.js';
import { NO_REQUESTS } from '../src/origin.js';
import type { Deployment } from '../src/sysroot.js';

const c = (x: string) => x.repeat(64);
const d = (over: Partial<Deployment>): Deployment => ({
  osname: 'debian',
  checksum: c('a'),
  serial: 0,
  booted: false,
  staged: false,
  pending: false,
  rollback: false,
  pinned: false,
  origin: { kind: 'ostree', refspec: 'origin:debian/13/x86_64/desktop' },
  kernelArgs: ['root=UUID=x'],
  requests: NO_REQUESTS,
  index: 0,
  ...over,
});

// A booted system as ostree admin status describes it: staged v3, booted v2 (image), rollback v1.
const booted = [
  d({
    checksum: c('3'),
    staged: true,
    version: '3',
    index: 0,
    origin: { kind: 'image', image: 'docker://r:5000/x:latest', digest: `sha256:${c('d')}` },
  }),
  d({
    checksum: c('2'),
    booted: true,
    version: '2',
    timestamp: 1_800_000_000,
    index: 1,
    origin: { kind: 'image', image: 'docker://r:5000/x:latest' },
  }),
  d({ checksum: c('1'), rollback: true, pinned: true, serial: 1, index: 2 }),
  d({ checksum: c('0'), origin: null, originProblem: 'x.origin:2: bad', index: 3 }),
];

t.test('hostDocument: booted, staged, rollback, the rest', async (t) => {
  const h = HostSchema.parse(hostDocument(booted));
  t.same(
    [h.status.staged?.checksum, h.status.booted?.checksum, h.status.rollback?.checksum, h.status.pending],
    [c('3'), c('2'), c('1'), null],
  );
  t.same(
    h.status.otherDeployments.map((x) => x.checksum),
    [c('0')],
  );
  t.same(h.status.staged?.origin, { type: 'image', image: 'docker://r:5000/x:latest', digest: `sha256:${c('d')}` });
  t.same(h.status.booted?.origin, { type: 'image', image: 'docker://r:5000/x:latest', digest: null });
  t.equal(h.status.booted?.timestamp, '2027-01-15T08:00:00Z');
  t.equal(h.status.otherDeployments[0]!.origin, null);
  const pending = HostSchema.parse(
    hostDocument([d({ pending: true, index: 0 }), d({ checksum: c('2'), booted: true, index: 1 })]),
  );
  t.same([pending.status.pending?.index, pending.status.booted?.index, pending.status.staged], [0, 1, null]);
});

t.test('formatStatus: rpm-ostree-like blocks, "* " on the booted one', async (t) => {
  t.equal(
    formatStatus(booted),
    [
      'Deployments:',
      '  docker://r:5000/x:latest (staged)',
      `          Digest: sha256:${c('d')}`,
      '         Version: 3',
      `          Commit: ${c('3')}`,
      '              OS: debian',
      '      KernelArgs: root=UUID=x',
      '',
      '* docker://r:5000/x:latest',
      '         Version: 2 (2027-01-15T08:00:00Z)',
      `          Commit: ${c('2')}`,
      '              OS: debian',
      '      KernelArgs: root=UUID=x',
      '',
      '  ostree: origin:debian/13/x86_64/desktop (rollback)',
      `          Commit: ${c('1')}`,
      '          Serial: 1',
      '              OS: debian',
      '          Pinned: yes',
      '      KernelArgs: root=UUID=x',
      '',
      '  (no origin: x.origin:2: bad)',
      `          Commit: ${c('0')}`,
      '              OS: debian',
      '      KernelArgs: root=UUID=x',
      '',
    ].join('\n'),
  );
  t.equal(formatStatus([]), 'No deployments.\n');
  t.match(formatStatus([d({ pending: true })]), /\(pending\)\n/);
});

t.test('a layered deployment: its base, the requests and what they resolved to', async (t) => {
  const layered = d({
    booted: true,
    checksum: c('b'),
    requests: { packages: ['htop'], local: [{ sha256: c('e'), name: 'mine' }], remove: ['less'] },
    layered: { base: c('a'), added: ['htop 3.4.1-5', 'mine 1.0'], removed: ['less 668-1'] },
  });
  const text = formatStatus([layered]);
  t.match(
    text,
    new RegExp(
      `BaseCommit: ${c('a')}\n +LayeredPackages: htop\n +LocalPackages: mine\nRemovedBasePackages: less\n +Installed: htop 3\.4\.1-5, mine 1\.0\n +Removed: less 668-1\n`,
    ),
  );
  const h = HostSchema.parse(hostDocument([layered]));
  t.same(h.status.booted?.layering, {
    baseCommit: c('a'),
    requested: ['htop'],
    requestedLocal: [`${c('e')}:mine`],
    removed: ['less'],
    layeredPackages: ['htop 3.4.1-5', 'mine 1.0'],
    removedPackages: ['less 668-1'],
  });
  t.equal(
    HostSchema.parse(hostDocument([d({ booted: true })])).status.booted?.layering,
    null,
    'null when nothing is layered',
  );
  // A document of an older atomic, without the field, is still valid.
  const old = HostSchema.parse(hostDocument([d({ booted: true })]));
  delete (old.status.booted as { layering?: unknown }).layering;
  t.ok(HostSchema.parse(old));
});
