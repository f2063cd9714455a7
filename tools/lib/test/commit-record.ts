import t from 'tap';
import { join } from 'node:path';
import { ToolError } from '../src/errors.js';
import { readCommitRecord, refOrCommitRecord } from '../src/contracts/commit-record.js';

const COMMIT = '9e25aaefdfb817f2a8ebba8ce1d8dd7e579c82d71801d41c22df5159c4c09e72';
// ostree-commit's output as make commit writes it (build/base/commit.json).
const record = {
  changed: true,
  commit: COMMIT,
  delta: null,
  mode: 'archive',
  parent: null,
  ref: 'debian/13/x86_64/base',
  repo: '/srv/repo',
  signed: false,
  timestamp: 1796624523,
  version: '13.20261207.1',
};

t.test('the ref and commit of an ostree-commit record', async (t) => {
  const dir = t.testdir({ 'commit.json': JSON.stringify(record) });
  const r = await readCommitRecord(join(dir, 'commit.json'));
  t.equal(r.ref, 'debian/13/x86_64/base');
  t.equal(r.commit, COMMIT);
  t.equal(r.version, '13.20261207.1', 'other fields pass through');
  t.equal(await refOrCommitRecord(undefined, join(dir, 'commit.json')), 'debian/13/x86_64/base');
  t.equal(await refOrCommitRecord('a/b', undefined), 'a/b');
  t.equal(await refOrCommitRecord(undefined, undefined), undefined);
});

t.test('bad records and both options are refused with exit 2, naming the file', async (t) => {
  const dir = t.testdir({
    'text.json': 'debian/13',
    'short.json': JSON.stringify({ ...record, commit: 'abc' }),
    'noref.json': JSON.stringify({ commit: COMMIT }),
  });
  const fail = async (p: Promise<unknown>, re: RegExp) => {
    const e = await p.catch((e: unknown) => e);
    t.ok(e instanceof ToolError);
    t.equal((e as ToolError).exitCode, 2);
    t.match((e as ToolError).summary, re);
  };
  await fail(readCommitRecord(join(dir, 'text.json')), /text\.json: not JSON/);
  await fail(
    readCommitRecord(join(dir, 'short.json')),
    /short\.json: invalid commit record: commit: not an ostree commit checksum/,
  );
  await fail(readCommitRecord(join(dir, 'noref.json')), /noref\.json: invalid commit record: ref/);
  await fail(readCommitRecord(join(dir, 'missing.json')), /missing\.json/);
  await fail(
    refOrCommitRecord('a/b', join(dir, 'short.json'), { ref: '--live-ref', commit: '--live-commit' }),
    /give --live-ref or --live-commit, not both/,
  );
});
