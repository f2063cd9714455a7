import t from 'tap';
import { isoGrubConfig, liveKernelArgs, menuTitle } from '../src/grub.js';

t.test(
  'the menu: the screen entry, the serial entry (hotkey s), the live kernel command line, built-in commands only',
  async (t) => {
    const cfg = isoGrubConfig({
      title: 'Install Debian Atomic base 13.1',
      label: 'DEBIAN_ATOMIC',
      tag: 'latest',
      finish: 'reboot',
    });
    t.match(cfg, /^menuentry 'Install Debian Atomic base 13\.1' \{$/m);
    t.match(
      cfg,
      /^ {2}linux \/boot\/vmlinuz root=live:CDLABEL=DEBIAN_ATOMIC rd\.live\.image .*atomic\.installer\.tag=latest atomic\.installer\.finish=reboot/m,
    );
    t.match(cfg, /^ {2}initrd \/boot\/initrd\.img$/m);
    t.match(cfg, /^serial --unit=0 --speed=115200$/m);
    t.equal(cfg.match(/^menuentry /gm)?.length, 2);
    t.match(cfg, /^menuentry 'Install Debian Atomic base 13\.1 \(serial console ttyS0, press s\)' --hotkey=s \{$/m);
    const [screen, serial] = cfg
      .split(/^menuentry /m)
      .slice(1)
      .map((e) => e.match(/console=\S+/g));
    t.same(screen, ['console=ttyS0,115200', 'console=tty0'], 'the default entry talks on the screen');
    t.same(serial, ['console=tty0', 'console=ttyS0,115200'], 'the second on the serial port');
    t.match(cfg, /^set timeout=10$/m);
    // Under Secure Boot the signed GRUB loads no module from disk.
    t.notMatch(cfg, /insmod/);
  },
);

t.test('the console the installer talks on is the last console= (/dev/console)', async (t) => {
  const args = liveKernelArgs({ label: 'X', tag: 't', finish: 'poweroff' }, 'serial');
  t.equal(args.filter((a) => a.startsWith('console=')).at(-1), 'console=ttyS0,115200');
  t.equal(
    liveKernelArgs({ label: 'X', tag: 't', finish: 'poweroff' })
      .filter((a) => a.startsWith('console='))
      .at(-1),
    'console=tty0',
    'the screen by default',
  );
  t.ok(args.includes('quiet'), 'no kernel messages in the middle of the questions');
});

t.test('a title with a quote stays one GRUB word', async (t) => {
  t.match(isoGrubConfig({ title: "it's", label: 'X', tag: 't', finish: 'poweroff' }), /^menuentry 'it'\\''s' \{$/m);
});

t.test('the title: variant from the ref, version from the image label, else the tag', async (t) => {
  t.equal(
    menuTitle({ 'org.opencontainers.image.version': '13.20260101.0' }, 'debian/13/x86_64/base', 'latest'),
    'Install Debian Atomic base 13.20260101.0',
  );
  t.equal(menuTitle({}, 'debian/13/x86_64/server', 'latest'), 'Install Debian Atomic server');
  t.equal(menuTitle({}, undefined, 'v2'), 'Install Debian Atomic v2');
});
