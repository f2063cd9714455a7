import t from 'tap';
import { ToolError } from '@debian-atomic/lib';
import { fieldValue, firstLine, parseDeb822 } from '../src/deb822.js';

const err = (f: () => unknown): ToolError => {
  try {
    f();
  } catch (e) {
    if (e instanceof ToolError) return e;
    throw e;
  }
  throw new Error('expected an error');
};

t.test('stanzas, continuation lines, positions', async (t) => {
  const text = [
    'Task: standard',
    'Relevance: 9',
    'Description: standard system utilities',
    ' This task sets up a basic user environment, providing a reasonably',
    ' .',
    '\tsmall selection.',
    'Key: ',
    '  task-ssh-server',
    '',
    '   ',
    '# a comment line',
    'Task: ssh-server',
    'Section:   server',
    '',
  ].join('\n');
  const st = parseDeb822(text, 'x.desc');
  t.equal(st.length, 2);
  t.equal(st[0]!.line, 1);
  t.equal(st[1]!.line, 12);
  t.equal(fieldValue(st[0]!, 'description'), 'standard system utilities\nThis task sets up a basic user environment, providing a reasonably\n.\nsmall selection.');
  t.equal(firstLine(fieldValue(st[0]!, 'Description')!), 'standard system utilities');
  t.equal(firstLine('one line'), 'one line');
  t.equal(fieldValue(st[0]!, 'KEY'), '\ntask-ssh-server');
  const section = st[1]!.fields.get('section')!;
  t.same(section, { name: 'Section', value: 'server', line: 13, col: 12 });
  t.equal(fieldValue(st[1]!, 'nope'), undefined);
});

t.test('CRLF line ends and a missing final newline', async (t) => {
  const st = parseDeb822('Package: a\r\nVersion: 1\r\n\r\nPackage: b', 'p');
  t.same(st.map((s) => fieldValue(s, 'package')), ['a', 'b']);
  t.equal(fieldValue(st[0]!, 'version'), '1');
});

t.test('keep: only the named fields are stored', async (t) => {
  const st = parseDeb822('Package: a\nTag: x, y\n z\nDepends: b\nDepends-Extra: c\n', 'p', { keep: new Set(['package', 'depends']) });
  t.same([...st[0]!.fields.keys()], ['package', 'depends']);
  t.equal(fieldValue(st[0]!, 'depends'), 'b');
  // a stanza that starts with a skipped field still counts
  t.equal(parseDeb822('Tag: x\nPackage: a\n', 'p', { keep: new Set(['package']) })[0]!.line, 1);
});

t.test('malformed input gives positioned errors', async (t) => {
  const cases: [string, string][] = [
    ['Package: a\nno colon here\n', "p:2:1: expected 'Field: value', found \"no colon here\""],
    [' leading continuation\n', 'p:1:1: continuation line outside a field (a field line must come first)'],
    ['Package: a\nVersion: 1\npackage: b\n', "p:3:1: duplicate field 'package' (first at line 1)"],
    ['Package: a\nBad Name: x\n', "p:2:1: expected 'Field: value', found \"Bad Name: x\""],
    [': value\n', "p:1:1: expected 'Field: value', found \": value\""],
  ];
  for (const [text, message] of cases) {
    const e = err(() => parseDeb822(text, 'p'));
    t.equal(e.summary, message);
    t.equal(e.exitCode, 2);
  }
  const long = err(() => parseDeb822('x'.repeat(60) + '\n', 'p'));
  t.match(long.summary, /x{40}…"$/);
});
