/** Through a real registry: push with skopeo, pull back, import: the same commit. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { importImage } from '../src/import.js';
import { startRegistry } from './fixtures/registry.js';
import { ociWrap, ostreeIn, REF, tinyCommit } from './fixtures/tiny.js';

t.test('skopeo copy to docker-registry and back; import from docker:// gives the same commit', async (t) => {
  const dir = t.testdir({ storage: {} });
  const repo = join(dir, 'repo');
  const commit = await tinyCommit(dir, repo);
  t.equal(ociWrap(['--repo', repo, '--ref', REF, '--output', `oci:${dir}/image:v1`]).status, 0);
  const registry = await startRegistry(join(dir, 'storage'));
  t.teardown(registry.stop);
  const remote = `docker://${registry.host}/debian-atomic/tiny:v1`;
  const push = spawnSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${dir}/image:v1`, remote], {
    encoding: 'utf8',
  });
  t.equal(push.status, 0, push.stderr);
  const pull = spawnSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', remote, `oci:${dir}/pulled:v1`], {
    encoding: 'utf8',
  });
  t.equal(pull.status, 0, pull.stderr);
  const inspect = JSON.parse(
    spawnSync('skopeo', ['inspect', '--tls-verify=false', remote], { encoding: 'utf8' }).stdout,
  );
  t.equal(inspect.Labels['ostree.commit'], commit);

  const fromLayout = await importImage({ source: `oci:${dir}/pulled:v1`, repo: join(dir, 'a') });
  t.equal(fromLayout.commit, commit, 'pulled layout → same commit');
  const fromRegistry = await importImage({ source: remote, repo: join(dir, 'b'), tlsVerify: false, ref: 'test/ref' });
  t.same(
    [fromRegistry.commit, fromRegistry.ref],
    [commit, 'test/ref'],
    'docker:// → same commit, under the ref asked for',
  );
  t.equal((await ostreeIn(join(dir, 'b'), 'rev-parse', 'test/ref')).trim(), commit);
});
