import t from 'tap';
import { diffKargs, kargKey, kargsCommands, splitCmdline } from '../src/kargs.js';

t.test('splitCmdline follows the kernel: quotes group, -- ends', async (t) => {
  t.same(splitCmdline('BOOT_IMAGE=/vmlinuz root=UUID=1 ro  quiet\n'), [
    'BOOT_IMAGE=/vmlinuz',
    'root=UUID=1',
    'ro',
    'quiet',
  ]);
  t.same(splitCmdline('a dyndbg="file x.c +p" b'), ['a', 'dyndbg="file x.c +p"', 'b']);
  t.same(splitCmdline('panic=1 -- --init-arg x'), ['panic=1']);
  t.same(splitCmdline(''), []);
});

t.test('kargKey: the name, with - and _ alike', async (t) => {
  t.equal(kargKey('nvidia-drm.modeset=1'), 'nvidia_drm.modeset');
  t.equal(kargKey('quiet'), 'quiet');
});

t.test('diff and the commands that would apply it', async (t) => {
  const diff = diffKargs(
    ['iommu=pt', 'quiet', 'intel_iommu=on', 'nvidia-drm.modeset=1', 'console=tty0'],
    ['quiet', 'intel_iommu=off', 'nvidia_drm.modeset=0', 'console=ttyS0', 'console=tty0'],
  );
  t.same(diff, {
    missing: ['iommu=pt'],
    conflicting: [
      { want: 'intel_iommu=on', have: ['intel_iommu=off'] },
      { want: 'nvidia-drm.modeset=1', have: ['nvidia_drm.modeset=0'] },
    ],
  });
  t.same(kargsCommands(diff), [
    'ostree admin kargs edit-in-place --append-if-missing=iommu=pt',
    'ostree admin instutil set-kargs --merge --replace=intel_iommu=on --replace=nvidia-drm.modeset=1',
  ]);
  t.same(kargsCommands(diffKargs(['a=1'], ['a=1'])), []);
  t.same(kargsCommands(diffKargs(['dyndbg="x +p"'], [])), [
    `ostree admin kargs edit-in-place '--append-if-missing=dyndbg="x +p"'`,
  ]);
});
