import t from 'tap';
import {
  alternativesOn,
  joinAlternatives,
  normaliseEntry,
  parseRelations,
  RelationSyntaxError,
} from '../src/relations.js';

t.test('versions, qualifiers and profiles are dropped; alternatives kept in order', async (t) => {
  const rels = parseRelations(
    'tasksel (= 3.81), debconf (>= 0.5) | debconf-2.0, perl:any, libfoo1 (>> 1:2.0~rc1-3+b1) <!nocheck>, ibus-mozc | ibus-anthy',
  );
  t.same(
    rels.map((r) => r.alternatives.map((a) => a.name)),
    [['tasksel'], ['debconf', 'debconf-2.0'], ['perl'], ['libfoo1'], ['ibus-mozc', 'ibus-anthy']],
  );
  t.equal(rels[1]!.text, 'debconf (>= 0.5) | debconf-2.0');
  t.same(parseRelations(''), []);
  t.same(
    parseRelations('a,\n b').map((r) => r.text),
    ['a', 'b'],
  );
});

t.test('architecture restrictions are honoured per arch', async (t) => {
  const [rel] = parseRelations('grub-efi-amd64 [amd64] | grub-efi-arm64 [arm64] | s390-tools [!amd64 !arm64]');
  t.same(alternativesOn(rel!, 'amd64'), ['grub-efi-amd64']);
  t.same(alternativesOn(rel!, 'arm64'), ['grub-efi-arm64']);
  t.same(alternativesOn(rel!, 's390x'), ['s390-tools']);
  t.same(alternativesOn(parseRelations('a')[0]!, 'riscv64'), ['a']);
});

t.test('malformed relations report the offset of the item', async (t) => {
  const cases: [string, RegExp, number][] = [
    ['a, b (>= 1', /malformed relation "b \(>= 1"/, 3],
    ['a,, b', /empty relation/, 2],
    ['a, Bad', /malformed relation "Bad"/, 3],
    ['a [amd64 !s390x]', /malformed architecture restriction/, 0],
    ['a []', /malformed architecture restriction/, 0],
    ['a | | b', /malformed relation "a \| \| b"/, 0],
  ];
  for (const [value, message, offset] of cases) {
    const e = t.throws(() => parseRelations(value)) as unknown as RelationSyntaxError;
    t.ok(e instanceof RelationSyntaxError, value);
    t.match(e.message, message, value);
    t.equal(e.offset, offset, value);
  }
});

t.test('entries are written and normalised as "a | b"', async (t) => {
  t.equal(joinAlternatives(['a', 'b']), 'a | b');
  t.equal(normaliseEntry('a|b'), 'a | b');
  t.equal(normaliseEntry(' a  |  b '), 'a | b');
  t.equal(normaliseEntry('a'), 'a');
});
