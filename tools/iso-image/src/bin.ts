#!/usr/bin/env node
import { resolve } from 'node:path';
import { cli, Progress, runTool, usageError, writeJson } from '@debian-atomic/lib';
import { checkLabel, checkLayout, checkLiveRef, checkOutput, checkRepo, DEFAULT_LABEL } from './args.js';

const TOOL = 'iso-image';

await runTool(TOOL, async () => {
  const argv = await cli(TOOL, `$0 --live-repo REPO --live-ref REF --oci oci:DIR[:TAG] [--config FILE] [--label LABEL] --output FILE.iso\n\nMake a hybrid UEFI installer ISO (Secure Boot: Debian's signed shim and GRUB) without\nloop devices or mounts: the live system (an OSTree commit of variants/installer.yaml) as\nLiveOS/squashfs.img for dracut's dmsquash-live, the OCI image to install in /image, and\nthe install config in /install.yaml. The live system runs atomic install to-disk.`)
    .option('live-repo', { type: 'string', demandOption: true, describe: 'OSTree repository holding the live (installer) commit' })
    .option('live-ref', { type: 'string', demandOption: true, describe: 'Ref (or commit) of the live system, e.g. debian/13/x86_64/installer' })
    .option('oci', { type: 'string', demandOption: true, describe: 'The image to install: oci:DIR[:TAG] (an ostree container image, oci-wrap)' })
    .option('config', { type: 'string', describe: 'disk-image config (YAML) for the install; install.device makes it unattended' })
    .option('label', { type: 'string', default: DEFAULT_LABEL, describe: 'ISO volume label (the live system finds the CD by it)' })
    .option('output', { type: 'string', demandOption: true, describe: 'ISO file to write (replaced atomically)' })
    .example('$0 --live-repo build/repo --live-ref debian/13/x86_64/installer --oci oci:build/base/oci:latest --output build/base/installer.iso', '')
    .parseAsync();
  // Everything the user gave is checked before any work: the command line, the config (with its
  // gpg-key file), the repo and the layout directory. Only then is anything read or written.
  checkLiveRef(argv['live-ref']);
  checkLabel(argv.label);
  const { parseOciRef } = await import('@debian-atomic/oci-wrap');
  if (!argv.oci.startsWith('oci:')) throw usageError(`--oci ${argv.oci}: expected oci:DIR[:TAG]`, 'a registry image: skopeo copy it to an oci: directory first');
  const { dir, tag } = parseOciRef(argv.oci);
  const output = await checkOutput(argv.output);
  const { loadConfig } = await import('@debian-atomic/disk-image');
  const config = await loadConfig(argv.config);
  await checkRepo(argv['live-repo']);
  await checkLayout(dir, argv.oci);

  const { resolveCommit } = await import('./live.js');
  const liveCommit = await resolveCommit(argv['live-repo'], argv['live-ref']);
  const { buildIso } = await import('./build.js');
  const result = await buildIso({
    liveRepo: resolve(argv['live-repo']),
    liveRef: argv['live-ref'],
    liveCommit,
    oci: { reference: argv.oci, dir: resolve(dir), tag },
    config,
    configFile: argv.config,
    label: argv.label,
    output,
    progress: new Progress(TOOL, { quiet: argv.quiet }),
  });
  writeJson(result);
  return 0;
});
