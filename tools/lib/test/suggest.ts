import t from 'tap';
import { levenshtein, suggest } from '../src/suggest.js';

t.test('levenshtein', async (t) => {
  t.equal(levenshtein('kitten', 'sitting'), 3);
  t.equal(levenshtein('', 'abc'), 3);
  t.equal(levenshtein('same', 'same'), 0);
});

t.test('suggest picks a close candidate or nothing', async (t) => {
  const keys = ['packages', 'exclude-packages', 'ref', 'units', 'kernel-args'];
  t.equal(suggest('pakages', keys), 'packages');
  t.equal(suggest('kernel-arg', keys), 'kernel-args');
  t.equal(suggest('Units', keys), 'units');
  t.equal(suggest('completely-different', keys), undefined);
});
