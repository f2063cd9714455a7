/** The command line of iso-image: everything given checked first, then one ISO. Returns the exit code. */
import { resolve } from 'node:path';
import { cli, type Io, Progress, refOrCommitRecord, usageError, writeJson } from '@debian-atomic/lib';
import { checkLabel, checkLayout, checkLiveRef, checkOutput, checkRepo, DEFAULT_LABEL } from './args.js';

export const TOOL = 'iso-image';

export async function main(argv: string[], io: Io = process): Promise<number> {
  const args = await cli(
    TOOL,
    `$0 --live-repo REPO --live-ref REF|--live-commit FILE --oci oci:DIR[:TAG] [--config FILE] [--label LABEL] --output FILE.iso\n\nMake a hybrid UEFI installer ISO (Secure Boot: Debian's signed shim and GRUB) without\nloop devices or mounts: the live system (an OSTree commit of variants/treefiles/installer.yaml) as\nLiveOS/squashfs.img for dracut's dmsquash-live, the OCI image to install in /image, and\nthe install config in /install.yaml. The live system runs atomic install to-disk.`,
    argv,
  )
    .option('live-repo', {
      type: 'string',
      demandOption: true,
      describe: 'OSTree repository holding the live (installer) commit',
    })
    .option('live-ref', {
      type: 'string',
      describe: 'Ref (or commit) of the live system, e.g. debian/13/x86_64/installer',
    })
    .option('live-commit', {
      type: 'string',
      requiresArg: true,
      describe: "Instead of --live-ref: the ref of ostree-commit's record (build/installer/commit.json)",
    })
    .option('oci', {
      type: 'string',
      demandOption: true,
      describe: 'The image to install: oci:DIR[:TAG] (an ostree container image, oci-wrap)',
    })
    .option('config', {
      type: 'string',
      describe: 'disk-image config (YAML) for the install; install.device makes it unattended',
    })
    .option('label', {
      type: 'string',
      default: DEFAULT_LABEL,
      describe: 'ISO volume label (the live system finds the CD by it)',
    })
    .option('output', { type: 'string', demandOption: true, describe: 'ISO file to write (replaced atomically)' })
    .example(
      '$0 --live-repo build/repo --live-ref debian/13/x86_64/installer --oci oci:build/base/oci:latest --output build/base/installer.iso',
      '',
    )
    .parseAsync();
  // Everything the user gave is checked before any work: the command line, the config (with its
  // gpg-key file), the repo and the layout directory. Only then is anything read or written.
  const liveRef = await refOrCommitRecord(args['live-ref'], args['live-commit'], {
    ref: '--live-ref',
    commit: '--live-commit',
  });
  if (liveRef === undefined) throw usageError('give --live-ref or --live-commit', `see '${TOOL} --help'`);
  checkLiveRef(liveRef);
  checkLabel(args.label);
  const { parseOciRef } = await import('@debian-atomic/oci-wrap');
  if (!args.oci.startsWith('oci:'))
    throw usageError(
      `--oci ${args.oci}: expected oci:DIR[:TAG]`,
      'a registry image: skopeo copy it to an oci: directory first',
    );
  const { dir, tag } = parseOciRef(args.oci);
  const output = await checkOutput(args.output);
  const { loadConfig } = await import('@debian-atomic/disk-image');
  const config = await loadConfig(args.config);
  await checkRepo(args['live-repo']);
  await checkLayout(dir, args.oci);

  const { resolveCommit } = await import('./live.js');
  const liveCommit = await resolveCommit(args['live-repo'], liveRef);
  const { buildIso } = await import('./build.js');
  const result = await buildIso({
    liveRepo: resolve(args['live-repo']),
    liveRef,
    liveCommit,
    oci: { reference: args.oci, dir: resolve(dir), tag },
    config,
    configFile: args.config,
    label: args.label,
    output,
    progress: new Progress(TOOL, { quiet: args.quiet }),
  });
  writeJson(result, io.stdout);
  return 0;
}
