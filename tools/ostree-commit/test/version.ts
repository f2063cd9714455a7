import t from 'tap';
import { dateStamp, nextVersion } from '../src/version.js';

t.test('automatic versions count up within a day and restart on a new day or prefix', async (t) => {
  const day = Date.UTC(2026, 10, 22, 12) / 1000;
  t.equal(dateStamp(day), '20261122');
  t.equal(nextVersion('13', day, null), '13.20261122.0');
  t.equal(nextVersion('13', day, '13.20261122.0'), '13.20261122.1');
  t.equal(nextVersion('13', day, '13.20261122.9'), '13.20261122.10');
  t.equal(nextVersion('13', day + 86400, '13.20261122.4'), '13.20261123.0');
  t.equal(nextVersion('14', day, '13.20261122.4'), '14.20261122.0');
  t.equal(nextVersion('13', day, '13.20261122.x'), '13.20261122.0');
});
