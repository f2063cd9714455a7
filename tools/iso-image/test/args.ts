import t from 'tap';
import { checkLabel, checkLayout, checkLiveRef } from '../src/args.js';

t.test('--label: an ISO volume label that fits on the kernel command line', async (t) => {
  for (const l of ['DEBIAN_ATOMIC', 'a', 'X-1.2', 'A'.repeat(32)]) t.doesNotThrow(() => checkLabel(l), l);
  for (const l of ['', '-x', '.x', 'a b', 'a\nb', 'a=b', 'A'.repeat(33), 'é'])
    t.throws(() => checkLabel(l), { exitCode: 2, message: /not a volume label/ }, JSON.stringify(l));
});

t.test('--oci: a directory with an index.json', async (t) => {
  const dir = t.testdir({ layout: { 'index.json': '{}' }, empty: {} });
  await t.resolves(checkLayout(`${dir}/layout`, 'oci:layout'));
  await t.rejects(checkLayout(`${dir}/empty`, 'oci:empty'), { exitCode: 2, message: /not an OCI layout/ });
  await t.rejects(checkLayout(`${dir}/missing`, 'oci:missing'), { exitCode: 2 });
});

t.test("--live-ref: disk-image's ref check, naming --live-ref", async (t) => {
  t.doesNotThrow(() => checkLiveRef('debian/13/x86_64/installer'));
  t.throws(() => checkLiveRef('a b'), { exitCode: 2, message: /^--live-ref "a b": not an ostree ref/ });
});
