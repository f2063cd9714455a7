#!/usr/bin/env node
import { dirname, resolve } from 'node:path';
import { cli, Progress, runTool, writeJson } from '@debian-atomic/lib';
import { buildDiskImage } from './build.js';
import { loadConfig } from './config.js';
import { FORMATS, type Format } from './disk.js';

const TOOL = 'disk-image';

await runTool(TOOL, async () => {
  const argv = await cli(TOOL, `$0 --repo REPO --ref REF [--config FILE] --format raw|qcow2|vmdk|vdi|vhd --output FILE\n\nMake a bootable GPT disk image (UEFI) from an OSTree commit, without loop devices\nor mounts: a deployed sysroot built with ostree, the root file system made with\nmkfs.ext4 -d, an ESP holding a standalone GRUB that boots ostree's BLS entries.`)
    .option('repo', { type: 'string', demandOption: true, describe: 'OSTree repository holding the commit' })
    .option('ref', { type: 'string', demandOption: true, describe: 'Ref (or commit) to deploy' })
    .option('config', { type: 'string', describe: 'YAML: users, hostname, kernel-args, disk sizes, remote' })
    .option('format', { choices: Object.keys(FORMATS) as Format[], default: 'qcow2' as Format })
    .option('output', { type: 'string', demandOption: true, describe: 'Image file to write (replaced atomically)' })
    .example('$0 --repo build/repo --ref debian/13/x86_64/base --output build/base/disk.qcow2', '')
    .parseAsync();
  const config = await loadConfig(argv.config);
  const result = await buildDiskImage({
    repo: argv.repo,
    ref: argv.ref,
    format: argv.format,
    output: argv.output,
    config,
    configDir: argv.config ? dirname(resolve(argv.config)) : process.cwd(),
    progress: new Progress(TOOL, { quiet: argv.quiet }),
  });
  writeJson(result);
  return 0;
});
