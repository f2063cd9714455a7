import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ATOMIC_CONF,
  AUTO_POLICIES,
  automaticAction,
  parseAutoPolicy,
  readAutoPolicy,
  type AutoPolicy,
} from '../src/auto.js';

const DATA = resolve(import.meta.dirname, '../data');

function parse(text: string) {
  const warnings: string[] = [];
  const policy = parseAutoPolicy(text, 'atomic.conf', { warn: (m) => warnings.push(m) });
  return { policy, warnings };
}

t.test('parseAutoPolicy: [Daemon] AutomaticUpdatePolicy=, as rpm-ostreed.conf', async (t) => {
  const cases: [string, string, AutoPolicy][] = [
    ['empty', '', 'none'],
    ['comments only', '# nothing\n\n#AutomaticUpdatePolicy=stage\n', 'none'],
    ['no key', '[Daemon]\n', 'none'],
    ['check', '[Daemon]\nAutomaticUpdatePolicy=check\n', 'check'],
    ['stage', '[Daemon]\nAutomaticUpdatePolicy=stage\n', 'stage'],
    ['apply', '[Daemon]\nAutomaticUpdatePolicy=apply\n', 'apply'],
    ['none', '[Daemon]\nAutomaticUpdatePolicy=none\n', 'none'],
    ['blanks around =, CRLF, indented', '  [Daemon]  \r\n  AutomaticUpdatePolicy = stage \r\n', 'stage'],
    ['the last one wins (GKeyFile)', '[Daemon]\nAutomaticUpdatePolicy=stage\nAutomaticUpdatePolicy=check\n', 'check'],
    ['groups merge', '[Daemon]\nAutomaticUpdatePolicy=stage\n[Daemon]\nAutomaticUpdatePolicy=apply\n', 'apply'],
    ['no final newline', '[Daemon]\nAutomaticUpdatePolicy=check', 'check'],
  ];
  for (const [what, text, want] of cases) t.same(parse(text), { policy: want, warnings: [] }, what);
});

t.test('parseAutoPolicy: unknown groups and keys are warned about and ignored', async (t) => {
  t.same(
    parse('[Daemon]\nAutomaticUpdatesPolicy=apply\nIdleExitTimeout=60\n[Experimental]\nAutomaticUpdatePolicy=apply\n'),
    {
      policy: 'none',
      warnings: [
        'atomic.conf:2: unknown key AutomaticUpdatesPolicy in [Daemon], ignored (did you mean AutomaticUpdatePolicy?)',
        'atomic.conf:3: unknown key IdleExitTimeout in [Daemon], ignored',
        'atomic.conf:4: unknown group [Experimental], ignored (atomic reads [Daemon])',
      ],
    },
  );
});

t.test('parseAutoPolicy: errors name file:line', async (t) => {
  const cases: [string, string, string][] = [
    [
      'a bad value',
      '[Daemon]\n\nAutomaticUpdatePolicy=x\n',
      'atomic.conf:3: AutomaticUpdatePolicy=x: expected none, check, stage or apply',
    ],
    [
      'case matters',
      '[Daemon]\nAutomaticUpdatePolicy=Stage\n',
      'atomic.conf:2: AutomaticUpdatePolicy=Stage: expected none, check, stage or apply',
    ],
    [
      "rpm-ostree's aliases are not ours",
      '[Daemon]\nAutomaticUpdatePolicy=off\n',
      'atomic.conf:2: AutomaticUpdatePolicy=off: expected none, check, stage or apply',
    ],
    [
      'empty value',
      '[Daemon]\nAutomaticUpdatePolicy=\n',
      'atomic.conf:2: AutomaticUpdatePolicy=: expected none, check, stage or apply',
    ],
    [
      'an escape in the value',
      '[Daemon]\nAutomaticUpdatePolicy=\x1b[2J\n',
      'atomic.conf:2: AutomaticUpdatePolicy="\\u001b[2J": expected none, check, stage or apply',
    ],
    [
      'a key before any group',
      'AutomaticUpdatePolicy=stage\n',
      'atomic.conf:1: AutomaticUpdatePolicy= before any group (put it under [Daemon])',
    ],
    ['not key=value', '[Daemon]\nstage\n', 'atomic.conf:2: stage: expected Key=Value, [Group] or a # comment'],
    ['no key', '[Daemon]\n=stage\n', 'atomic.conf:2: =stage: expected Key=Value, [Group] or a # comment'],
    ['a broken header', '[Daemon\n', 'atomic.conf:1: [Daemon: expected a group header such as [Daemon]'],
  ];
  for (const [what, text, summary] of cases) t.throws(() => parse(text), { code: 'input', exitCode: 2, summary }, what);
});

t.test('readAutoPolicy: <sysroot>/etc/atomic/atomic.conf; none when it is not there', async (t) => {
  const root = t.testdir({});
  t.equal(await readAutoPolicy(root), 'none', 'no /etc/atomic');
  mkdirSync(join(root, 'etc/atomic'), { recursive: true });
  t.equal(await readAutoPolicy(root), 'none', 'no atomic.conf');
  writeFileSync(join(root, ATOMIC_CONF), '[Daemon]\nAutomaticUpdatePolicy=stage\nFoo=1\n');
  const warnings: string[] = [];
  t.equal(await readAutoPolicy(root, { warn: (m) => warnings.push(m) }), 'stage');
  t.same(warnings, [`${join(root, ATOMIC_CONF)}:3: unknown key Foo in [Daemon], ignored`]);

  writeFileSync(join(root, ATOMIC_CONF), '[Daemon]\nAutomaticUpdatePolicy=reboot\n');
  await t.rejects(readAutoPolicy(root), {
    code: 'input',
    summary: `${join(root, ATOMIC_CONF)}:2: AutomaticUpdatePolicy=reboot: expected none, check, stage or apply`,
  });

  const dirRoot = t.testdir({ etc: { atomic: { 'atomic.conf': {} } } });
  await t.rejects(readAutoPolicy(dirRoot), {
    code: 'input',
    summary: /atomic\.conf: cannot read atomic configuration: is a directory/,
  });
  const fileRoot = t.testdir({ etc: { atomic: 'a file where a directory should be' } });
  await t.rejects(readAutoPolicy(fileRoot), { code: 'input', summary: /cannot read atomic configuration/ });
  const big = t.testdir({ etc: { atomic: { 'atomic.conf': '#'.repeat(5 << 20) } } });
  await t.rejects(readAutoPolicy(big), { code: 'input', summary: /larger than \d+ bytes, refusing to read it/ });

  // The warnings go to stderr when no warn is given; the policy still comes back.
  const script = `import { readAutoPolicy } from ${JSON.stringify(resolve(import.meta.dirname, '../dist/auto.js'))}; console.log(await readAutoPolicy(process.argv[1]));`;
  writeFileSync(join(root, ATOMIC_CONF), '[Daemon]\nAutomaticUpdatePolicy=check\nFoo=1\n');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, root], { encoding: 'utf8' });
  t.equal(r.stdout, 'check\n');
  t.equal(r.stderr, `atomic: warning: ${join(root, ATOMIC_CONF)}:3: unknown key Foo in [Daemon], ignored\n`);
});

t.test('automaticAction: what `atomic upgrade --automatic` does under each policy', async (t) => {
  const rows = AUTO_POLICIES.map((p) => {
    const a = automaticAction(p);
    return [a.policy, a.upgrade, a.check, a.reboot];
  });
  t.same(rows, [
    ['none', false, false, false],
    ['check', true, true, false],
    ['stage', true, false, false],
    ['apply', true, false, true],
  ]);
  t.equal(
    automaticAction('none').summary,
    'AutomaticUpdatePolicy=none: automatic updates are off (/etc/atomic/atomic.conf)',
  );
  t.equal(automaticAction('apply').summary, 'AutomaticUpdatePolicy=apply: staging the update and rebooting into it');
});

/** A systemd unit file as { "Section.Key": [values] } (comments and blank lines skipped). */
function unitFile(name: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let section = '';
  for (const line of readFileSync(join(DATA, name), 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = m[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    (out[`${section}.${line.slice(0, eq)}`] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

t.test('the shipped atomic.conf: commented defaults, policy none, no warnings', async (t) => {
  const text = readFileSync(join(DATA, 'atomic.conf'), 'utf8');
  t.same(parse(text), { policy: 'none', warnings: [] });
  t.match(text, /^\[Daemon\]\n#AutomaticUpdatePolicy=none\n$/m);
  for (const p of AUTO_POLICIES) {
    t.same(
      parse(text.replace('#AutomaticUpdatePolicy=none', `AutomaticUpdatePolicy=${p}`)),
      { policy: p, warnings: [] },
      `uncommented, set to ${p}`,
    );
  }
});

t.test('the timer and the service, as rpm-ostreed-automatic.{timer,service}', async (t) => {
  const timer = unitFile('atomic-automatic-update.timer');
  t.same(timer['Timer.OnBootSec'], ['1h']);
  t.same(timer['Timer.OnUnitInactiveSec'], ['1d']);
  t.ok(timer['Timer.RandomizedDelaySec'], 'spread over a fleet');
  t.same(timer['Unit.ConditionPathExists'], ['/run/ostree-booted']);
  t.same(timer['Install.WantedBy'], ['timers.target']);

  const service = unitFile('atomic-automatic-update.service');
  t.same(service['Service.Type'], ['oneshot']);
  t.same(service['Service.ExecStart'], ['/usr/bin/atomic upgrade --automatic']);
  t.same(service['Unit.ConditionPathExists'], ['/run/ostree-booted']);
  t.same(service['Service.ProtectSystem'], ['strict']);
  const writable = service['Service.ReadWritePaths']!.join(' ').split(/\s+/);
  for (const dir of ['/sysroot', '/boot', '/run', '-/var/lib/atomic'])
    t.ok(writable.includes(dir), `${dir} stays writable`);
  for (const key of [
    'RestrictSUIDSGID',
    'MemoryDenyWriteExecute',
    'PrivateDevices',
    'ProtectClock',
    'DevicePolicy',
    'DeviceAllow',
    'PrivateNetwork',
  ]) {
    t.notOk(service[`Service.${key}`], `no ${key}= (it would break an upgrade)`);
  }

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (analyze.status !== 0) return t.skip('no systemd-analyze here');
  // verify: the syntax and the settings are systemd's. The binary and the man page are not installed here.
  const v = spawnSync(
    'systemd-analyze',
    ['verify', join(DATA, 'atomic-automatic-update.service'), join(DATA, 'atomic-automatic-update.timer')],
    { encoding: 'utf8' },
  );
  const problems = v.stderr
    .split('\n')
    .filter((l) => l && !/Command \/usr\/bin\/atomic is not executable|Command 'man atomic\(1da\)' failed/.test(l));
  t.same(problems, [], 'systemd-analyze verify: nothing but the missing binary and man page');
});
