import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Excludes, loadExcludes } from '../src/exclude.js';

t.test('a valid exclude file', async (t) => {
  const dir = t.testdir({
    'x.yaml': `# why each one is excluded
packages: [tasksel]        # the installer front-end, not content
patterns: ['fonts-.*']
tasks: [standard]
per-task:
  kde-desktop:
    packages: [gimp]
  gnome-desktop:
`,
  });
  const ex = await loadExcludes(join(dir, 'x.yaml'));
  t.same([...ex.tasks], ['standard']);
  t.equal(ex.reason('ssh-server', 'tasksel'), 'excluded: tasksel');
  t.equal(ex.reason('ssh-server', 'fonts-noto'), 'excluded by /fonts-.*/');
  t.equal(ex.reason('ssh-server', 'xfonts-noto'), undefined, 'patterns match the whole name');
  t.equal(ex.reason('kde-desktop', 'gimp'), 'excluded for kde-desktop: gimp');
  t.equal(ex.reason('gnome-desktop', 'gimp'), undefined);
  t.same(ex.unused(['kde-desktop', 'gnome-desktop']), []);
  t.equal(ex.file, join(dir, 'x.yaml'));
});

t.test('rules that match nothing are reported (stale or misspelt)', async (t) => {
  const ex = new Excludes({
    packages: ['a'],
    patterns: ['b.*'],
    'per-task': { t1: { packages: ['c'], patterns: ['d'] }, t2: { packages: ['e'] } },
  });
  ex.reason('t1', 'a');
  t.same(ex.unused(['t1']), ['pattern /b.*/', 't1: package c', 't1: pattern /d/']);
});

t.test('an empty file excludes nothing', async (t) => {
  const dir = t.testdir({ 'e.yaml': '# nothing yet\n' });
  const ex = await loadExcludes(join(dir, 'e.yaml'));
  t.equal(ex.reason('x', 'y'), undefined);
});

t.test('malformed exclude files give positioned errors', async (t) => {
  const dir = t.testdir({});
  const cases: [string, string, string?][] = [
    ['pakages: [a]\n', "x.yaml:1:1: unknown key 'pakages' (did you mean 'packages'?)"],
    ['packages: a\n', 'x.yaml:1:11: packages: expected array, found the string "a"'],
    ["patterns: ['ok', '(unclosed']\n", 'x.yaml:1:18: invalid regular expression /(unclosed/: Unterminated group'],
    [
      "per-task:\n  kde:\n    patterns: ['[z-a]']\n",
      'x.yaml:3:16: invalid regular expression /[z-a]/: Range out of order in character class',
    ],
    ['packages: [a\n', 'x.yaml:2:1: YAML syntax: '],
    [
      'tasks: [a]\nper-task:\n  k:\n    packges: []\nfoo: 1\n',
      "x.yaml:4:5: unknown key 'packges' (did you mean 'packages'?)",
      "x.yaml:5:1: unknown key 'foo'",
    ],
  ];
  for (const [text, first, detail] of cases) {
    const file = join(dir, 'x.yaml');
    writeFileSync(file, text);
    const e = (await loadExcludes(file).catch((e: unknown) => e)) as {
      summary: string;
      detail?: string;
      exitCode: number;
    };
    const summary = e.summary.replace(dir + '/', '');
    if (first.endsWith(': ')) t.ok(summary.startsWith(first), summary);
    else t.equal(summary, first, text);
    if (detail) t.equal(e.detail?.replace(dir + '/', ''), detail);
    t.equal(e.exitCode, 2);
  }
  const missing = (await loadExcludes(join(dir, 'nope.yaml')).catch((e: unknown) => e)) as { summary: string };
  t.match(missing.summary, /nope\.yaml: cannot read: no such file/);
});
