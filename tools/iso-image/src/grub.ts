/**
 * The ISO's GRUB menu, read by Debian's signed GRUB for CDs (gcdx64.efi.signed): its built-in
 * config finds the ISO by /.disk/info and sources /boot/grub/grub.cfg. Under Secure Boot it
 * loads no module from disk, so this menu uses built-in commands only (serial, terminal_*,
 * menuentry, linux, initrd).
 */

export type Finish = 'poweroff' | 'reboot';

export interface MenuOptions {
  /** What the entry is called: "Install Debian Atomic base 13.20260101.0". */
  title: string;
  /** The ISO's volume label: dmsquash-live finds the CD by it. */
  label: string;
  /** The tag of the image in /image (the installer's --source oci:/run/initramfs/live/image:TAG). */
  tag: string;
  finish: Finish;
  timeout?: number;
}

/** Where the installer talks: the screen (a PC), or the first serial port (a server's console, a VM). */
export type Console = 'screen' | 'serial';

/** The kernel command line of the live system; the installer unit reads atomic.installer.*. */
export function liveKernelArgs(
  o: Pick<MenuOptions, 'label' | 'tag' | 'finish'>,
  console: Console = 'screen',
): string[] {
  return [
    `root=live:CDLABEL=${o.label}`,
    'rd.live.image',
    // The squashfs holds the root directory itself: dmsquash-live puts an overlayfs in RAM over it.
    'rd.live.overlay.overlayfs=1',
    `atomic.installer.tag=${o.tag}`,
    `atomic.installer.finish=${o.finish}`,
    // Kernel messages go to both; /dev/console (the installer's terminal) is the last console= given.
    ...(console === 'serial' ? ['console=tty0', 'console=ttyS0,115200'] : ['console=ttyS0,115200', 'console=tty0']),
    // Kernel messages and systemd's status lines would break into the installer's questions.
    'quiet',
  ];
}

/** GRUB quotes: single quotes, a quote inside closed, escaped and reopened. */
function quote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

export function isoGrubConfig(o: MenuOptions): string {
  return [
    "# The installer ISO's menu, written by iso-image.",
    'set default=0',
    `set timeout=${o.timeout ?? 10}`,
    'serial --unit=0 --speed=115200',
    'terminal_input console serial',
    'terminal_output console serial',
    `menuentry ${quote(o.title)} {`,
    `  linux /boot/vmlinuz ${liveKernelArgs(o, 'screen').join(' ')}`,
    '  initrd /boot/initrd.img',
    '}',
    // "s" on the menu (on the screen or the serial line) picks it at once.
    `menuentry ${quote(`${o.title} (serial console ttyS0, press s)`)} --hotkey=s {`,
    `  linux /boot/vmlinuz ${liveKernelArgs(o, 'serial').join(' ')}`,
    '  initrd /boot/initrd.img',
    '}',
    '',
  ].join('\n');
}

/** The menu entry's title from the image's labels: its variant (the ref's last part) and version. */
export function menuTitle(labels: Record<string, string>, ref: string | undefined, tag: string): string {
  const variant = ref?.split('/').at(-1);
  const version = labels['org.opencontainers.image.version'];
  return ['Install Debian Atomic', variant, version ?? (variant ? undefined : tag)].filter(Boolean).join(' ');
}
