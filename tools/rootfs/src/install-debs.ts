/**
 * `rootfs install-debs --root DIR DEB...`: this run's .debs (make debs) into a tree rootfs built,
 * with the tree's own dpkg (lib's installDebs). A step of its own, so it runs on an existing tree.
 */
import { cli, installDebs, usageError, writeJson } from '@debian-atomic/lib';

export async function installDebsMain(
  argv: string[],
  tool: string,
  stdout: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const args = await cli(
    tool,
    `$0 install-debs --root DIR DEB...\n\nInstall .debs built in this run into a root filesystem made by rootfs, with the tree's\nown dpkg run inside it (bubblewrap): its database records them and checks their Depends\nagainst the variant's packages. Before usr-unify (which moves the dpkg database to /usr).`,
    argv,
  )
    // DEB... are positionals: unknown options are still refused.
    .strict(false)
    .strictOptions()
    .option('root', {
      type: 'string',
      requiresArg: true,
      demandOption: true,
      describe: 'Root filesystem (rootfs --output)',
    })
    .example('$0 install-debs --root build/base/rootfs debs/debian-atomic-atomic_0.1.0_all.deb', '')
    .parseAsync();
  const debs = args._.map(String);
  if (debs.length === 0) throw usageError('install-debs: no DEB given', `see '${tool} install-debs --help'`);
  writeJson(await installDebs(args.root, debs), stdout);
  return 0;
}
