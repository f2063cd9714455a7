import t from 'tap';
import { parseYamlText } from '@debian-atomic/lib';
import { detectIndentSeq, renderTasksFile } from '../src/save.js';
import type { TaskEntry } from '../src/tasksfile.js';

const render = (text: string, updates: [string, TaskEntry][]) =>
  renderTasksFile(parseYamlText('t.yaml', text), new Map(updates));

const FILE = `# Package groups: synced with tasksel by comps-sync.
# Edit the exclude file, not the lists.

tasks:
  # servers
  ssh-server:
    description: SSH server          # tasksel's name
    packages: [openssh-server]       # mandatory
    # defaults
    recommends:
      - openssh-client   # keeps the client
      - old-thing

  gnome-desktop: {}   # filled by comps-sync
  empty:
  untouched:
    description: x     # aligned   comment
    packages: [a,   b]
`;

t.test('only changed tasks are rewritten; comments survive', async (t) => {
  const out = render(FILE, [
    [
      'ssh-server',
      { description: 'SSH server', packages: ['openssh-server', 'tasksel'], recommends: ['openssh-client'] },
    ],
    ['gnome-desktop', { description: 'GNOME', packages: ['task-desktop', 'gnome-core'], recommends: ['gnome'] }],
    ['empty', { description: 'E', recommends: Array.from({ length: 8 }, (_, i) => `package-number-${i}`) }],
  ]);
  t.equal(
    out,
    `# Package groups: synced with tasksel by comps-sync.
# Edit the exclude file, not the lists.

tasks:
  # servers
  ssh-server:
    description: SSH server # tasksel's name
    packages: [openssh-server, tasksel] # mandatory
    # defaults
    recommends:
      - openssh-client # keeps the client

  gnome-desktop:
    # filled by comps-sync
    description: GNOME
    packages: [gnome-core, task-desktop]
    recommends: [gnome]
  empty:
    description: E
    recommends:
      - package-number-0
      - package-number-1
      - package-number-2
      - package-number-3
      - package-number-4
      - package-number-5
      - package-number-6
      - package-number-7
  untouched:
    description: x     # aligned   comment
    packages: [a,   b]
`,
  );
  t.equal(render(FILE, []), FILE, 'no update: the same bytes');
});

t.test('list styles: block stays block, flow becomes block when too long, alternatives quoted as needed', async (t) => {
  const text = 'tasks:\n  a:\n    packages:\n      - x\n    recommends: [y]\n';
  t.equal(
    render(text, [
      [
        'a',
        {
          packages: ['x', 'w'],
          recommends: ['y', 'ibus-mozc | ibus-anthy', ...'abcdefghijklmnop'.split('').map((c) => `${c}${c}${c}${c}`)],
        },
      ],
    ]),
    'tasks:\n  a:\n    packages:\n      - w\n      - x\n    recommends:\n' +
      [
        'aaaa',
        'bbbb',
        'cccc',
        'dddd',
        'eeee',
        'ffff',
        'gggg',
        'hhhh',
        'ibus-mozc | ibus-anthy',
        'iiii',
        'jjjj',
        'kkkk',
        'llll',
        'mmmm',
        'nnnn',
        'oooo',
        'pppp',
        'y',
      ]
        .map((e) => `      - ${e}\n`)
        .join(''),
  );
  t.equal(
    render('tasks:\n  a: {}\n', [['a', { recommends: ['ibus-mozc | ibus-anthy'] }]]),
    'tasks:\n  a:\n    recommends: [ibus-mozc | ibus-anthy]\n',
  );
  t.equal(
    render('tasks:\n  a:\n    packages: [a|b]\n    description: moved\n', [
      ['a', { description: 'moved', packages: ['a | b'] }],
    ]),
    'tasks:\n  a:\n    description: moved\n    packages: [a | b]\n',
  );
});

t.test('files without a final newline, with unindented sequences, and flow mappings', async (t) => {
  t.equal(render('tasks:\n  a:\n    packages: [x]', [['a', { packages: ['y'] }]]), 'tasks:\n  a:\n    packages: [y]\n');
  t.equal(
    render('tasks:\n  a: null # later\n  b: {}\n', [['a', { packages: ['y'] }]]),
    'tasks:\n  a:\n    # later\n    packages: [y]\n  b: {}\n',
  );
  t.equal(
    render('tasks:\n  a:\n    packages:\n    - x\n', [
      ['a', { packages: Array.from({ length: 9 }, (_, i) => `long-package-name-${i}`) }],
    ]),
    'tasks:\n  a:\n    packages:\n' + Array.from({ length: 9 }, (_, i) => `    - long-package-name-${i}\n`).join(''),
  );
  t.equal(
    render('# head\ntasks: {a: {packages: [x]}, b: {}}\n', [['a', { packages: ['y'] }]]),
    '# head\ntasks:\n  a:\n    packages: [y]\n  b: {}\n',
  );
  t.equal(render('tasks:\n', [['a', { packages: ['y'] }]]), 'tasks:\n  a:\n    packages: [y]\n');
});

t.test('new tasks (--task) go after the last one', async (t) => {
  t.equal(
    render('# head\ntasks:\n  a:\n    description: A   # kept\n    packages: [x]\n# trailing\n', [
      ['b', { description: 'B', packages: ['y'] }],
      ['c', { description: 'C' }],
    ]),
    '# head\ntasks:\n  a:\n    description: A   # kept\n    packages: [x]\n  b:\n    description: B\n    packages: [y]\n  c:\n    description: C\n# trailing\n',
  );
  t.equal(
    render('tasks:\n    a:\n        description: A', [['b', { description: 'B' }]]),
    'tasks:\n    a:\n        description: A\n    b:\n      description: B\n',
  );
  t.equal(
    render('tasks:\n  a: {description: A}\n', [['b', { description: 'B' }]]),
    'tasks:\n  a: {description: A}\n  b:\n    description: B\n',
  );
  t.equal(render('tasks: {}\n', [['b', { description: 'B' }]]), 'tasks:\n  b:\n    description: B\n');
});

t.test('sequence indentation is detected from the file', async (t) => {
  t.equal(detectIndentSeq('a:\n  - x\n'), true);
  t.equal(detectIndentSeq('a:\n- x\n'), false);
  t.equal(detectIndentSeq('tasks:\n  a:\n    packages: # why\n    # more\n    - x\n'), false);
  t.equal(detectIndentSeq('a: [x]\n'), true);
});
