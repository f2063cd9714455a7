/** The command line: subcommands named as bootc and rpm-ostree name them, lazily imported implementations. */
import { cli, usageError } from '@debian-atomic/lib';
import type { Argv } from 'yargs';
import type { Io } from './commands.js';

export const TOOL = 'atomic';

const commands = () => import('./commands.js');

/** Every command works on a sysroot (default the running system) and one stateroot in it. */
function target<T>(y: Argv<T>) {
  return y
    .option('sysroot', { type: 'string', default: '/', requiresArg: true, describe: 'The OSTree sysroot to work on' })
    .option('os', {
      type: 'string',
      requiresArg: true,
      describe: 'The stateroot (osname); default: the booted one, or the only one',
    });
}

/** The options of install PKG, uninstall and override: the target, the packages, -r, --json. */
function layering<T>(y: Argv<T>, packages: string) {
  return target(y)
    .positional('packages', { type: 'string', array: true, describe: packages })
    .option('reboot', reboot)
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'JSON on stdout: the new commit, its base, the requests and the packages added and removed',
    });
}

const espOption = (describe: string) => ({ type: 'string', requiresArg: true, describe }) as const;

// No defaults on options in conflicts(): yargs counts a default false as given.
const reboot = {
  alias: 'r',
  type: 'boolean',
  describe: 'Reboot into the new default deployment once it is in place',
} as const;

/** Run the tool on argv; returns the exit code; throws ToolError for failures. */
export async function main(argv: string[], io?: Partial<Io>): Promise<number> {
  let code = 0;
  const c = async () => {
    const m = await commands();
    return { m, io: m.defaultIo(io) };
  };
  await cli(TOOL, '$0 <command> [options]', argv)
    .command(
      ['status', '$0'],
      'The deployments: booted, staged, rollback — version, commit, origin, pinned, kernel arguments',
      (y) =>
        target(y)
          .option('json', {
            type: 'boolean',
            default: false,
            describe: "JSON on stdout, as 'atomic status --json-schema' describes",
          })
          .option('json-schema', {
            type: 'boolean',
            default: false,
            describe: 'Print the JSON Schema of --json and exit',
          })
          .option('booted', { type: 'boolean', default: false, describe: 'Only the booted deployment' }),
      async (a) => {
        const { m, io } = await c();
        code = await m.statusCommand(a, io);
      },
    )
    .command(
      'upgrade',
      "Fetch the newest commit or image of the booted deployment's origin and stage it",
      (y) =>
        target(y)
          .option('check', { type: 'boolean', describe: 'Only say whether an update is available (exit 0 either way)' })
          .option('download-only', { type: 'boolean', describe: 'Fetch the update without deploying it' })
          .option('reboot', { ...reboot, alias: ['r', 'apply'] })
          .option('automatic', {
            type: 'boolean',
            describe: 'Follow AutomaticUpdatePolicy in /etc/atomic/atomic.conf (the timer)',
          })
          .conflicts('check', 'download-only')
          .conflicts('check', 'reboot')
          .conflicts('download-only', 'reboot')
          .conflicts('automatic', ['check', 'download-only', 'reboot']),
      async (a) => {
        const { m, io } = await c();
        code = await m.upgradeCommand(a, io);
      },
    )
    .command(
      'switch <target>',
      'Deploy another image or OSTree branch and follow it from now on (bootc switch, rpm-ostree rebase)',
      (y) =>
        target(y)
          .positional('target', {
            type: 'string',
            demandOption: true,
            describe: 'docker://REGISTRY/NAME[:TAG], oci:DIR[:TAG], oci-archive:FILE[:TAG], or REMOTE:REF',
          })
          .option('reboot', reboot),
      async (a) => {
        const { m, io } = await c();
        code = await m.switchCommand(a, io);
      },
    )
    .command(
      'rollback',
      'Make the previous deployment the default (cancels a pending update)',
      (y) => target(y).option('reboot', reboot),
      async (a) => {
        const { m, io } = await c();
        code = await m.rollbackCommand(a, io);
      },
    )
    .command(
      'kargs',
      'Print the kernel arguments, or stage a deployment with them edited',
      (y) =>
        target(y)
          .option('append', { type: 'string', array: true, requiresArg: true, describe: 'Add KEY[=VALUE]' })
          .option('delete', {
            type: 'string',
            array: true,
            requiresArg: true,
            describe: 'Remove KEY[=VALUE] (KEY alone: if it is the only one of its name)',
          })
          .option('replace', {
            type: 'string',
            array: true,
            requiresArg: true,
            describe: 'Replace KEY=VALUE (or KEY=OLD=NEW)',
          })
          .option('image', {
            type: 'boolean',
            describe: "Print the arguments the deployment's image brings (usr/lib/bootc/kargs.d), one a line",
          })
          .option('reboot', reboot)
          .conflicts('image', ['append', 'delete', 'replace']),
      async (a) => {
        const { m, io } = await c();
        code = await m.kargsCommand(a, io);
      },
    )
    .command('db', 'The Debian packages of deployments and commits', (y) =>
      y
        .command(
          'diff [from] [to]',
          'Packages added, removed, upgraded and downgraded between two deployments or commits',
          (y) =>
            target(y)
              .positional('from', {
                type: 'string',
                describe: 'Commit, ref or deployment index (default: booted, or rollback)',
              })
              .positional('to', {
                type: 'string',
                describe: 'Commit, ref or deployment index (default: staged/pending, or booted)',
              })
              .option('json', { type: 'boolean', default: false, describe: 'JSON on stdout' }),
          async (a) => {
            const { m, io } = await c();
            code = await m.dbDiffCommand(a, io);
          },
        )
        .command(
          'list [commit]',
          'The installed packages of a deployment or commit',
          (y) =>
            target(y)
              .positional('commit', { type: 'string', describe: 'Commit, ref or deployment index (default: booted)' })
              .option('json', { type: 'boolean', default: false, describe: 'JSON on stdout' }),
          async (a) => {
            const { m, io } = await c();
            code = await m.dbListCommand(a, io);
          },
        )
        .demandCommand(1, 'a db command is needed (diff, list)'),
    )
    .command(
      'install',
      'Layer packages on the image (atomic install PKG…, as rpm-ostree install), or install onto a disk (atomic install to-disk)',
      (y) =>
        y
          .command(
            'to-disk [device]',
            "Partition a whole disk (GPT: ESP + root, as disk-image makes them) and install a commit or image on it, with Debian's signed shim and GRUB",
            (y) =>
              y
                .positional('device', {
                  type: 'string',
                  describe:
                    "The disk (/dev/vda, /dev/nvme0n1, /dev/disk/by-id/…); default: the config's install.device, else asked on the terminal",
                })
                .option('source', {
                  type: 'string',
                  requiresArg: true,
                  describe:
                    'What to install: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker://REGISTRY/NAME[:TAG] or REMOTE:REF (default: the booted deployment)',
                })
                .option('config', {
                  type: 'string',
                  requiresArg: true,
                  describe:
                    "disk-image's config (YAML): users, SSH keys, hostname, kernel-args, disk.esp-size, remote or image (the update origin), install.device, install.wipe",
                })
                .option('wipe', {
                  type: 'boolean',
                  describe: 'Erase the disk even if it holds partitions or file systems',
                })
                .option('target-imgref', {
                  type: 'string',
                  requiresArg: true,
                  describe:
                    "The image the installed system updates from (default: the config's image, or a docker:// source)",
                })
                .option('tls-verify', {
                  type: 'boolean',
                  default: true,
                  describe:
                    "With docker:// sources: verify the registry's TLS (--no-tls-verify for a local HTTP registry)",
                })
                .option('sysroot', {
                  type: 'string',
                  default: '/',
                  requiresArg: true,
                  describe: 'The running system (default source, REMOTE:REF)',
                })
                .option('json', {
                  type: 'boolean',
                  default: false,
                  describe: 'JSON on stdout: the disk, the partitions, the commit, the origin',
                }),
            async (a) => {
              const { m, io } = await c();
              code = await m.installToDiskCommand(a, io);
            },
          )
          .command(
            '$0 <packages..>',
            "Layer packages (names from the system's apt sources, or ./FILE.deb) on the base image: a new staged deployment",
            (y) => layering(y, 'Package names or local .deb files (./FILE.deb)'),
            async (a) => {
              const { m, io } = await c();
              code = await m.packagesCommand({ ...a, edit: { op: 'install', args: a.packages ?? [] } }, io);
            },
          ),
    )
    .command(
      'uninstall <packages..>',
      'Take layered packages out again: a new staged deployment without them',
      (y) => layering(y, 'Layered packages (atomic status lists them)'),
      async (a) => {
        const { m, io } = await c();
        code = await m.packagesCommand({ ...a, edit: { op: 'uninstall', args: a.packages ?? [] } }, io);
      },
    )
    .command('override', 'Take packages of the base image out locally, or put them back (rpm-ostree override)', (y) =>
      y
        .command(
          'remove <packages..>',
          'A new staged deployment without these base packages',
          (y) => layering(y, 'Packages of the base image'),
          async (a) => {
            const { m, io } = await c();
            code = await m.packagesCommand({ ...a, edit: { op: 'override-remove', args: a.packages ?? [] } }, io);
          },
        )
        .command(
          'reset [packages..]',
          'Put removed base packages back (--all: every one)',
          (y) =>
            layering(y, 'Base packages removed by an override').option('all', {
              type: 'boolean',
              default: false,
              describe: 'Every override',
            }),
          async (a) => {
            const packages = a.packages ?? [];
            if (!a.all && packages.length === 0) throw usageError('override reset: name the packages, or --all');
            const { m, io } = await c();
            code = await m.packagesCommand({ ...a, edit: { op: 'override-reset', args: packages, all: a.all } }, io);
          },
        )
        .demandCommand(1, 'an override command is needed (remove, reset)'),
    )
    .command(
      'bootloader',
      "The boot loader on the ESP (shim, GRUB, MokManager) against the booted image's: bootupd's job",
      (y) =>
        y
          .command(
            'status',
            "Compare the ESP's shim, GRUB and MokManager (the state file on /boot) with the booted image's",
            (y) =>
              target(y)
                .option(
                  'esp',
                  espOption('Check the files on this mounted ESP too (default: where the ESP is mounted, if it is)'),
                )
                .option('json', {
                  type: 'boolean',
                  default: false,
                  describe: "JSON on stdout, as 'atomic bootloader status --json-schema' describes",
                })
                .option('json-schema', {
                  type: 'boolean',
                  default: false,
                  describe: 'Print the JSON Schema of --json and exit',
                }),
            async (a) => {
              const { m, io } = await c();
              code = await m.bootloaderStatusCommand(a, io);
            },
          )
          .command(
            'update',
            "Copy the booted image's shim, GRUB and MokManager to the ESP: new files beside the old, then renamed in a safe order",
            (y) =>
              target(y)
                .option(
                  'esp',
                  espOption(
                    'The mounted ESP to update (default: the partition the state file names, mounted on /run/atomic if it is not)',
                  ),
                )
                .option('allow-downgrade', {
                  type: 'boolean',
                  describe: "Replace the ESP's boot loader even when its packages are newer than the image's",
                })
                .option('json', { type: 'boolean', default: false, describe: 'JSON on stdout: what was written' }),
            async (a) => {
              const { m, io } = await c();
              code = await m.bootloaderUpdateCommand(a, io);
            },
          )
          .demandCommand(1, 'a bootloader command is needed (status, update)'),
    )
    .command('container', 'Commands run inside a container build (a Containerfile FROM a Debian Atomic image)', (y) =>
      y
        .command(
          'lint',
          "What in the image's tree would break or be lost once it is imported and booted (run it as the Containerfile's last RUN)",
          (y) =>
            y
              .option('rootfs', {
                type: 'string',
                default: '/',
                requiresArg: true,
                describe: "The tree to check (default: the container's own root)",
              })
              .option('json', {
                type: 'boolean',
                default: false,
                describe: 'JSON on stdout: [{lint, level, message, paths}]',
              })
              .option('list', { type: 'boolean', default: false, describe: 'Print the lints and exit' })
              .option('fatal-warnings', { type: 'boolean', default: false, describe: 'Fail on warnings too' })
              .option('truncate', {
                type: 'boolean',
                default: true,
                describe: 'At most five paths a finding (--no-truncate: every path)',
              })
              .option('skip', {
                type: 'string',
                array: true,
                requiresArg: true,
                describe: 'A lint not to run (repeatable)',
              }),
          async (a) => {
            const { m, io } = await c();
            code = await m.containerLintCommand(a, io);
          },
        )
        .demandCommand(1, 'a container command is needed (lint)'),
    )
    .parseAsync();
  return code;
}
