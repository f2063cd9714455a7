import t from 'tap';
import { componentOf, KERNEL_LAYER, planLayers } from '../src/chunk.js';
import { listPackage, ownersFromLists, treePath } from '../src/packages.js';

const comps = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ name: `p${String(i).padStart(3, '0')}`, size: 1000 - i }));

t.test('each package its own layer while the budget allows', async (t) => {
  const plan = planLayers([...comps(3), { name: KERNEL_LAYER, size: 5 }], 64);
  t.same(plan.layers, [[], [KERNEL_LAYER], ['p000'], ['p001'], ['p002']]);
  t.equal(plan.index.get('p001'), 3);
});

t.test('more packages than layers: the largest alone, the rest share the last layer', async (t) => {
  const plan = planLayers([...comps(10), { name: KERNEL_LAYER, size: 5 }], 6);
  t.equal(plan.layers.length, 6);
  t.same(plan.layers.slice(2, 5), [['p000'], ['p001'], ['p002']]);
  t.same(plan.layers[5], ['p003', 'p004', 'p005', 'p006', 'p007', 'p008', 'p009']);
});

t.test('a first image leaves an eighth of the package layers free for packages added later', async (t) => {
  const first = planLayers([...comps(100), { name: KERNEL_LAYER, size: 5 }], 64);
  t.equal(first.layers.length, 64 - 7, '62 package layers in the budget, 7 left free');
  t.same(first.layers[2], ['p000'], 'the largest package alone');
  t.equal(first.layers.at(-1)!.length, 100 - 54, 'the rest share the last layer');
  const previous = first.layers.slice(1);
  const next = planLayers([...comps(100), { name: 'added', size: 1 }, { name: KERNEL_LAYER, size: 5 }], 64, previous);
  t.same(next.layers.at(-1), ['added'], 'an added package takes a free layer of its own');
  t.same(next.layers.slice(0, -1), first.layers, 'every other layer keeps its packages');
});

t.test('with a previous image the assignment is kept, whatever the sizes now', async (t) => {
  const previous = [[KERNEL_LAYER], ['p005'], ['p001', 'p002'], ['p000', 'p003', 'p004']];
  const now = comps(6).map((c) => ({ ...c, size: c.name === 'p004' ? 1e9 : c.size }));
  const plan = planLayers([...now, { name: 'new', size: 1 }, { name: KERNEL_LAYER, size: 5 }], 6, previous);
  t.same(
    plan.layers,
    [[], [KERNEL_LAYER], ['p005'], ['p001', 'p002'], ['p000', 'p003', 'p004'], ['new']],
    'a new package takes a free layer',
  );
  const full = planLayers([...now, { name: 'new', size: 1 }, { name: KERNEL_LAYER, size: 5 }], 5, previous);
  t.same(full.layers[4], ['new', 'p000', 'p003', 'p004'], 'no free layer: it joins the shared one');
  const gone = planLayers(
    comps(6).filter((c) => c.name !== 'p005'),
    6,
    previous,
  );
  t.same(gone.layers, [[], ['p001', 'p002'], ['p000', 'p003', 'p004']], 'removed packages leave no empty layer');
});

t.test('paths: kernel by location or package, dpkg paths before the /usr merge', async (t) => {
  t.equal(componentOf('usr/lib/modules/6.12/vmlinuz', undefined), KERNEL_LAYER);
  t.equal(componentOf('usr/share/doc/linux-image-6.12/copyright', 'linux-image-6.12-amd64'), KERNEL_LAYER);
  t.equal(componentOf('usr/bin/ls', 'coreutils'), 'coreutils');
  t.equal(componentOf('usr/lib/sysimage/dpkg/status', undefined), undefined);
  t.equal(treePath('/bin/ls'), 'usr/bin/ls');
  t.equal(treePath('/lib64/ld-linux-x86-64.so.2'), 'usr/lib64/ld-linux-x86-64.so.2');
  t.equal(treePath('/etc/passwd'), 'usr/etc/passwd');
  t.equal(treePath('/usr/share/doc'), 'usr/share/doc');
  t.equal(listPackage('libc6:amd64.list'), 'libc6');
  t.equal(listPackage('libstdc++6.list'), 'libstdc++6');
  t.equal(listPackage('libc6.md5sums'), undefined);
  const owners = ownersFromLists(
    new Map([
      ['zz', '/usr/share/doc\n/bin/x\n'],
      ['aa', '/.\n/usr/share/doc\n'],
    ]),
  );
  t.equal(owners.get('usr/share/doc'), 'aa', 'shared paths go to the first package by name');
  t.equal(owners.get('usr/bin/x'), 'zz');
  t.notOk(owners.has(''));
});
