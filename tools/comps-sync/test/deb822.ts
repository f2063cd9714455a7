import t from 'tap';
import { ToolError } from '@debian-atomic/lib';
import { DEB822_LIMITS, Deb822Reader, fieldValue, firstLine, parseDeb822 } from '../src/deb822.js';

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
  t.equal(
    fieldValue(st[0]!, 'description'),
    'standard system utilities\nThis task sets up a basic user environment, providing a reasonably\n.\nsmall selection.',
  );
  t.equal(firstLine(fieldValue(st[0]!, 'Description')!), 'standard system utilities');
  t.equal(firstLine('one line'), 'one line');
  t.equal(fieldValue(st[0]!, 'KEY'), '\ntask-ssh-server');
  const section = st[1]!.fields.get('section')!;
  t.same(section, { name: 'Section', value: 'server', line: 13, col: 12 });
  t.equal(fieldValue(st[1]!, 'nope'), undefined);
});

t.test('CRLF line ends and a missing final newline', async (t) => {
  const st = parseDeb822('Package: a\r\nVersion: 1\r\n\r\nPackage: b', 'p');
  t.same(
    st.map((s) => fieldValue(s, 'package')),
    ['a', 'b'],
  );
  t.equal(fieldValue(st[0]!, 'version'), '1');
});

t.test('keep: only the named fields are stored', async (t) => {
  const st = parseDeb822('Package: a\nTag: x, y\n z\nDepends: b\nDepends-Extra: c\n', 'p', {
    keep: new Set(['package', 'depends']),
  });
  t.same([...st[0]!.fields.keys()], ['package', 'depends']);
  t.equal(fieldValue(st[0]!, 'depends'), 'b');
  // a stanza that starts with a skipped field still counts
  t.equal(parseDeb822('Tag: x\nPackage: a\n', 'p', { keep: new Set(['package']) })[0]!.line, 1);
});

t.test('malformed input gives positioned errors', async (t) => {
  const cases: [string, string][] = [
    ['Package: a\nno colon here\n', 'p:2:1: expected \'Field: value\', found "no colon here"'],
    [' leading continuation\n', 'p:1:1: continuation line outside a field (a field line must come first)'],
    ['Package: a\nVersion: 1\npackage: b\n', "p:3:1: duplicate field 'package' (first at line 1)"],
    ['Package: a\nBad Name: x\n', 'p:2:1: expected \'Field: value\', found "Bad Name: x"'],
    [': value\n', 'p:1:1: expected \'Field: value\', found ": value"'],
  ];
  for (const [text, message] of cases) {
    const e = err(() => parseDeb822(text, 'p'));
    t.equal(e.summary, message);
    t.equal(e.exitCode, 2);
  }
  const long = err(() => parseDeb822('x'.repeat(60) + '\n', 'p'));
  t.match(long.summary, /x{40}…"$/);
});

t.test('streamed: the same stanzas however the text is cut', async (t) => {
  const text =
    'Package: a\r\nDescription: one\r\n two\r\n\r\n# c\r\nPackage: b\nDepends: x,\n y\n\n\nPackage: ü\nVersion: 1';
  const whole = parseDeb822(text, 'p');
  for (const size of [1, 2, 3, 5, 8, 13, 64]) {
    const got: unknown[] = [];
    const r = new Deb822Reader('p', (s) => got.push(s));
    for (let i = 0; i < text.length; i += size) r.push(text.slice(i, i + size));
    r.end();
    t.same(got, whole, `chunks of ${size}`);
  }
  t.equal(whole.length, 3);
  t.equal(fieldValue(whole[1]!, 'depends'), 'x,\ny');
});

t.test('limits: a long line, a long field, refused as they pass', async (t) => {
  const opts = { maxLine: 20, maxField: 30 };
  t.equal(
    err(() => parseDeb822(`Package: a\nDescription: ${'x'.repeat(30)}\n`, 'p', opts)).summary,
    'p:2:1: line longer than 20 characters (is this a deb822 file?)',
  );
  t.equal(
    err(() => parseDeb822(`Package: a\nDescription: d\n ${'y'.repeat(15)}\n ${'z'.repeat(15)}\n`, 'p', opts)).summary,
    "p:2:1: field 'Description' longer than 30 characters",
  );
  // A line that never ends (a bomb of zeros) is refused while it streams in, not at its end.
  const r = new Deb822Reader('p', () => undefined, opts);
  r.push('Package: a\n');
  r.push('\0'.repeat(15));
  t.equal(err(() => r.push('\0'.repeat(15))).summary, 'p:2:1: line longer than 20 characters (is this a deb822 file?)');
  // Skipped (not kept) fields are bounded by the line limit only.
  t.equal(
    parseDeb822(`Package: a\nTag: ${'t'.repeat(10)}\n ${'t'.repeat(18)}\n ${'t'.repeat(18)}\n`, 'p', {
      ...opts,
      keep: new Set(['package']),
    }).length,
    1,
  );
  t.equal(DEB822_LIMITS.line, 4 << 20);
});
