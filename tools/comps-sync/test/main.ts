import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { ToolError } from '@debian-atomic/lib';
import { main, parseArches, seconds } from '../src/main.js';
import { buildMirror, fixture, makeKey, serve } from './fixtures/mirror.js';

const SEED = `# Package groups for the variants, kept in step with Debian's tasksel by
# tools/comps-sync (see its README). Hand edits to the lists are overwritten:
# put exclusions in tasks-exclude.yaml.
tasks:
  # Servers
  ssh-server:
    description: SSH server   # from tasksel
    packages: [openssh-server]

  # Desktops
  gnome-desktop:
    description: GNOME
    packages: [gnome-core]
`;

function stream() {
  const s = new PassThrough();
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString()));
  return { s, text: () => text };
}

async function sync(args: string[]) {
  const out = stream();
  const err = stream();
  const code = await main(args, { stdout: out.s, stderr: err.s });
  return {
    code,
    json: JSON.parse(out.text()) as Record<string, unknown> & { tasks: Record<string, unknown>[] },
    stderr: err.text(),
  };
}

const offline = (suite: string) => [
  '--desc',
  fixture(suite, 'debian-tasks.desc'),
  '--arch',
  'amd64,s390x',
  '--packages',
  fixture(suite, 'Packages-amd64'),
  '--packages',
  fixture(suite, 'Packages-s390x'),
];

t.test('trixie: report, save, then in sync; forky: the real change only', async (t) => {
  const dir = t.testdir({
    'tasks.yaml': SEED,
    'tasks-exclude.yaml': '# the installer front-end, not content\npackages: [tasksel]\n',
  });
  const file = join(dir, 'tasks.yaml');

  const check = await sync([...offline('trixie'), '--task', 'japanese-gnome-desktop,standard', file]);
  t.equal(check.code, 1, 'drift: exit 1');
  t.equal(readFileSync(file, 'utf8'), SEED, 'without --save nothing is written');
  t.equal(
    check.stderr,
    `Syncing task ssh-server: +1, -0
  + openssh-client (default, tasks: ssh-server, standard, arches: all)
Syncing task gnome-desktop: +2, -0
  + task-desktop (mandatory, tasks: gnome-desktop, arches: all)
  + gnome (default, tasks: gnome-desktop, arches: all)
Syncing task japanese-gnome-desktop: +4, -0 (new)
  + ibus-anthy (default, tasks: japanese-gnome-desktop, arches: s390x)
  + ibus-mozc | ibus-anthy (default, tasks: japanese-gnome-desktop, arches: amd64)
  + thunderbird (default, tasks: japanese-gnome-desktop, arches: amd64)
  + thunderbird-l10n-ja (default, tasks: japanese-gnome-desktop, arches: all)
  ~ description: "Japanese GNOME desktop"
  ! thunderbird (default, not available on: s390x)
Syncing task standard: +5, -0 (new)
  + bash (mandatory, tasks: standard, arches: all)
  + dmidecode (mandatory, tasks: standard, arches: amd64)
  + less (mandatory, tasks: standard, arches: all)
  + openssh-client (mandatory, tasks: ssh-server, standard, arches: all)
  + s390-tools (mandatory, tasks: standard, arches: s390x)
  ~ description: "standard system utilities"
`,
  );
  t.match(check.json, {
    file,
    exclude: join(dir, 'tasks-exclude.yaml'),
    arches: ['amd64', 's390x'],
    drift: true,
    saved: false,
    source: { desc: fixture('trixie', 'debian-tasks.desc') },
  });
  t.match(check.json.tasks[0], {
    task: 'ssh-server',
    status: 'drift',
    added: [
      { entry: 'openssh-client', kind: 'default', arches: ['amd64', 's390x'], tasks: ['ssh-server', 'standard'] },
    ],
    removed: [],
    excluded: [
      { relation: 'tasksel (= 3.81)', kind: 'mandatory', reason: 'excluded: tasksel', arches: ['amd64', 's390x'] },
    ],
  });

  const save = await sync([
    ...offline('trixie'),
    '--task',
    'japanese-gnome-desktop',
    '--task',
    'standard',
    '--save',
    file,
  ]);
  t.equal(save.code, 0, '--save: exit 0');
  t.match(save.stderr, new RegExp(`\\nWrote ${file}\\n$`));
  t.match(save.json, { drift: true, saved: true });
  const synced = `# Package groups for the variants, kept in step with Debian's tasksel by
# tools/comps-sync (see its README). Hand edits to the lists are overwritten:
# put exclusions in tasks-exclude.yaml.
tasks:
  # Servers
  ssh-server:
    description: SSH server # from tasksel
    packages: [openssh-server]
    recommends: [openssh-client]

  # Desktops
  gnome-desktop:
    description: GNOME
    packages: [gnome-core, task-desktop]
    recommends: [gnome]
  japanese-gnome-desktop:
    description: Japanese GNOME desktop
    recommends: [thunderbird-l10n-ja]
    recommends-amd64: [ibus-mozc | ibus-anthy, thunderbird]
    recommends-s390x: [ibus-anthy]
  standard:
    description: standard system utilities
    packages: [bash, less, openssh-client]
    packages-amd64: [dmidecode]
    packages-s390x: [s390-tools]
`;
  t.equal(readFileSync(file, 'utf8'), synced);

  const mtime = statSync(file).mtimeMs;
  const again = await sync([...offline('trixie'), '--save', file]);
  t.equal(again.code, 0);
  t.equal(again.json.drift, false, 'second run: no drift');
  t.equal(again.json.saved, false);
  t.match(again.json.tasks, [{ new: false }, { new: false }, { new: false }, { new: false }]);
  t.equal(statSync(file).mtimeMs, mtime, 'and nothing rewritten');
  t.equal(
    again.stderr,
    'Syncing task ssh-server: +0, -0\nSyncing task gnome-desktop: +0, -0\nSyncing task japanese-gnome-desktop: +0, -0\n  ! thunderbird (default, not available on: s390x)\nSyncing task standard: +0, -0\n',
  );
  t.equal((await sync([...offline('trixie'), file])).code, 0, 'check mode agrees: exit 0');

  // forky: gnome-core moves from Depends to Recommends; thunderbird is built for s390x there.
  const forky = await sync([...offline('forky'), '--save', file]);
  t.match(
    forky.stderr,
    /^Syncing task gnome-desktop: \+1, -1\n  - gnome-core \(mandatory, arches: all\)\n  \+ gnome-core \(default, tasks: gnome-desktop, arches: all\)\n/m,
  );
  t.match(
    forky.stderr,
    /^Syncing task japanese-gnome-desktop: \+0, -2\n  - thunderbird \(default, arches: amd64\)\n  - thunderbird-l10n-ja \(default, arches: all\)\n/m,
  );
  const after = readFileSync(file, 'utf8');
  t.match(
    after,
    '  gnome-desktop:\n    description: GNOME\n    packages: [task-desktop]\n    recommends: [gnome, gnome-core]\n',
  );
  t.match(
    after,
    '  japanese-gnome-desktop:\n    description: Japanese GNOME desktop\n    recommends-amd64: [ibus-mozc | ibus-anthy]\n    recommends-s390x: [ibus-anthy]\n',
  );
  t.equal((await sync([...offline('forky'), file])).code, 0, 'forky: in sync after save');
});

t.test('excluded tasks are left as written; stale excludes warn', async (t) => {
  const dir = t.testdir({
    'tasks.yaml': 'tasks:\n  standard:\n    description: mine\n    packages: [hand-picked]\n',
    'ex.yaml': 'tasks: [standard]\npackages: [no-such-package]\nper-task:\n  ssh-server:\n    patterns: [openssh-.*]\n',
  });
  const r = await sync([
    ...offline('trixie'),
    '--exclude',
    join(dir, 'ex.yaml'),
    join(dir, 'tasks.yaml'),
    '--save',
    '--task=ssh-server',
  ]);
  t.equal(r.code, 0);
  t.equal(
    r.stderr,
    `Skipping task standard (listed under 'tasks' in ${join(dir, 'ex.yaml')})
Syncing task ssh-server: +1, -0 (new)
  + tasksel (mandatory, tasks: ssh-server, arches: all)
  ~ description: "SSH server"
comps-sync: warning: ${join(dir, 'ex.yaml')}: package no-such-package excludes nothing (stale?)
Wrote ${join(dir, 'tasks.yaml')}
`,
  );
  t.equal(
    readFileSync(join(dir, 'tasks.yaml'), 'utf8'),
    'tasks:\n  standard:\n    description: mine\n    packages: [hand-picked]\n  ssh-server:\n    description: SSH server\n    packages: [tasksel]\n',
  );
  t.match(r.json.tasks[0], { task: 'standard', status: 'skipped' });
  const quiet = await sync([
    ...offline('trixie'),
    '--quiet',
    '--exclude',
    join(dir, 'ex.yaml'),
    join(dir, 'tasks.yaml'),
  ]);
  t.notMatch(quiet.stderr, /warning/);
});

t.test('a task missing on every arch; an unsorted file is drift', async (t) => {
  const dir = t.testdir({
    'tasks.yaml':
      'tasks:\n  japanese:\n    description: japanese\n  ssh-server:\n    description: SSH server\n    packages: [tasksel, openssh-server]\n    recommends: [openssh-client]\n',
  });
  const r = await sync([...offline('trixie'), join(dir, 'tasks.yaml')]);
  t.equal(r.code, 1);
  t.match(
    r.stderr,
    'Syncing task japanese: +0, -0\n  ! task not available on: amd64, s390x (its Key package is not in the index)\n',
  );
  t.match(r.stderr, 'Syncing task ssh-server: +0, -0\n  ~ sorted/normalised (same packages)\n');
  t.match(r.json.tasks[1], { reformat: true, status: 'drift' });
});

t.test('input errors are positioned; usage errors exit 2', async (t) => {
  const dir = t.testdir({
    'tasks.yaml':
      'tasks:\n  ssh-server:\n    description: S\n  gnome-destkop:\n    description: G\n  kde:\n    description: K\n',
    'bad.yaml': 'tasks:\n  a:\n    description: A\n    pakages: []\n',
  });
  const usage = (args: string[]) => sync(args).catch((e: unknown) => e as ToolError);
  const unknown = (await sync([...offline('trixie'), join(dir, 'tasks.yaml')]).catch((e: unknown) => e)) as ToolError;
  t.equal(
    unknown.summary,
    `${join(dir, 'tasks.yaml')}:4:3: task 'gnome-destkop' is not in ${fixture('trixie', 'debian-tasks.desc')} (did you mean 'gnome-desktop'?)`,
  );
  t.equal(
    unknown.detail,
    `${join(dir, 'tasks.yaml')}:6:3: task 'kde' is not in ${fixture('trixie', 'debian-tasks.desc')}`,
  );
  t.equal(unknown.exitCode, 2);
  const bad = (await sync([...offline('trixie'), join(dir, 'bad.yaml')]).catch((e: unknown) => e)) as ToolError;
  t.equal(bad.summary, `${join(dir, 'bad.yaml')}:4:5: unknown key 'pakages' (did you mean 'packages'?)`);
  const fresh = join(t.testdir({ 't.yaml': 'tasks: {}\n' }), 't.yaml');
  t.match(await usage([...offline('trixie'), '--task', 'gnome-dekstop', fresh]), {
    summary: `--task: task 'gnome-dekstop' is not in ${fixture('trixie', 'debian-tasks.desc')} (did you mean 'gnome-desktop'?)`,
    exitCode: 2,
  });
  t.match(await usage([...offline('trixie'), '--task', 'Bad', fresh]), {
    summary: "--task Bad: not a task name (lower-case letters, digits and '-')",
    exitCode: 2,
  });
  t.match(await usage(['--desc', 'x', join(dir, 'tasks.yaml')]), {
    summary: '--desc and --packages go together (offline mode needs both)',
    exitCode: 2,
  });
  t.match(await usage(['--arch', 'amd46', join(dir, 'tasks.yaml')]), {
    summary: "--arch: unknown architecture 'amd46' (did you mean 'amd64'?)",
    exitCode: 2,
  });
  t.match(await usage([]), { exitCode: 2 });
  t.same(parseArches(['amd64,arm64', 'amd64', ' s390x ']), ['amd64', 'arm64', 's390x']);
  t.throws(() => parseArches([',']), { message: '--arch: no architecture given' });
});

t.test('from a (local, signed) mirror', async (t) => {
  const key = await makeKey();
  t.teardown(() => key.close());
  const root = t.testdir({ 'tasks.yaml': 'tasks: {}\n' });
  await buildMirror(join(root, 'm'), key, { validUntil: 'Fri, 06 Nov 2020 08:08:01 UTC' });
  const served = await serve(join(root, 'm'));
  t.teardown(() => served.close());
  const saved = process.env.DEBIAN_ATOMIC_CACHE;
  process.env.DEBIAN_ATOMIC_CACHE = join(root, 'cache');
  t.teardown(() => {
    if (saved === undefined) delete process.env.DEBIAN_ATOMIC_CACHE;
    else process.env.DEBIAN_ATOMIC_CACHE = saved;
  });
  const args = [
    '--mirror',
    served.url,
    '--keyring',
    key.keyring,
    '--arch',
    's390x',
    '--task',
    'ssh-server',
    join(root, 'tasks.yaml'),
  ];
  const expired = (await sync(args).catch((e: unknown) => e)) as ToolError;
  t.equal(expired.code, 'expired');
  const r = await sync([...args, '--allow-expired']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^comps-sync: warning: .*InRelease: expired on Fri, 06 Nov 2020/);
  t.match(r.stderr, /\+ openssh-server \(mandatory, tasks: ssh-server, arches: all\)/);
  t.match(r.json.source, { suite: 'trixie', taskselData: { version: '3.81' } });
});

t.test('the built tool: exit codes, stdout JSON, stderr summary', async (t) => {
  const bin = resolve(import.meta.dirname, '../dist/bin.js');
  const dir = t.testdir({ 'tasks.yaml': 'tasks:\n  ssh-server:\n    description: SSH server\n' });
  const res = spawnSync('node', [bin, ...offline('trixie'), join(dir, 'tasks.yaml')], { encoding: 'utf8' });
  t.equal(res.status, 1);
  t.match(JSON.parse(res.stdout), { drift: true });
  t.match(res.stderr, /^Syncing task ssh-server: \+3, -0\n/);
  const help = spawnSync('node', [bin, '--help'], { encoding: 'utf8' });
  t.equal(help.status, 0);
  t.match(help.stdout, /comps-sync \[--save\]/);
  writeFileSync(join(dir, 'broken.yaml'), 'tasks: [\n');
  const broken = spawnSync('node', [bin, ...offline('trixie'), join(dir, 'broken.yaml')], { encoding: 'utf8' });
  t.equal(broken.status, 2);
  t.match(broken.stderr, /^comps-sync: .*broken\.yaml:2:1: YAML syntax: /);
  t.equal(broken.stdout, '');
});

t.test('--timeout: a number of seconds, or a usage error', async (t) => {
  t.equal(seconds('120'), 120);
  t.equal(seconds(['5', '0.5']), 0.5, 'the last one given wins');
  for (const bad of ['soon', '', '0', '-1', 'NaN', '1e9']) {
    t.throws(() => seconds(bad), {
      summary: `--timeout ${bad}: expected a number of seconds greater than 0 (at most 86400)`,
      exitCode: 2,
    });
  }
});
