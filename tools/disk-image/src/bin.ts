#!/usr/bin/env node
import { rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { cli, onInterrupt, Progress, runTool, tempSibling, usageError, writeJson } from '@debian-atomic/lib';
import { checkOutput, checkRef, checkRepo } from './args.js';
import { annotateImageCache, seedImageCache } from './cache.js';
import { loadConfig } from './config.js';
import { FORMATS, type Format } from './disk.js';

const TOOL = 'disk-image';

await runTool(TOOL, async () => {
  const argv = await cli(TOOL, `$0 (--repo REPO --ref REF | --oci oci:DIR[:TAG]|docker://...) [--config FILE] --format raw|qcow2|vmdk|vdi|vhd --output FILE\n\nMake a bootable GPT disk image (UEFI) from an OSTree commit, without loop devices\nor mounts: a deployed sysroot built with ostree, the root file system made with\nmkfs.ext4 -d, an ESP holding the commit's Debian-signed shim and GRUB (Secure Boot),
which read the menu of the deployments ostree keeps in /boot/loader/grub.cfg.`)
    .option('repo', { type: 'string', describe: 'OSTree repository holding the commit' })
    .option('ref', { type: 'string', describe: 'Ref (or commit) to deploy (with --oci: the ref to give the imported commit)' })
    .option('oci', { type: 'string', describe: 'Deploy the commit of an ostree container image (oci-wrap): oci:DIR[:TAG] or docker://REGISTRY/NAME[:TAG]' })
    .option('tls-verify', { type: 'boolean', default: true, describe: 'With --oci docker://: verify the registry\'s TLS (--no-tls-verify for a local HTTP registry)' })
    .option('config', { type: 'string', describe: 'YAML: users, hostname, kernel-args, disk sizes, remote or image (the update origin)' })
    .option('format', { choices: Object.keys(FORMATS) as Format[], default: 'qcow2' as Format })
    .option('output', { type: 'string', demandOption: true, describe: 'Image file to write (replaced atomically)' })
    .example('$0 --repo build/repo --ref debian/13/x86_64/base --output build/base/disk.qcow2', '')
    .parseAsync();
  if (argv.oci ? argv.repo !== undefined : argv.repo === undefined || argv.ref === undefined) throw usageError('give either --repo and --ref, or --oci', `see '${TOOL} --help'`);
  // Everything the user gave is checked before any work: the command line, then the config
  // (with its gpg-key file), then that --repo is a directory. Only then is the repo read.
  if (argv.ref !== undefined) checkRef(argv.ref);
  await checkOutput(argv.output);
  const config = await loadConfig(argv.config);
  if (argv.repo !== undefined) await checkRepo(argv.repo);
  let repo = argv.repo!;
  let ref = argv.ref!;
  let imported: string | undefined;
  let seeded: string | undefined;
  let pulledDigest: string | undefined;
  const cleanup = onInterrupt(async () => {
    for (const d of [imported, seeded]) if (d) await rm(d, { recursive: true, force: true });
  });
  // The installed system updates from the image it was made from (a registry's), or the config's (the
  // same image as the guest will reach it); the digest is that of the manifest the disk was made from.
  const originImage = config.image ?? (argv.oci?.startsWith('docker://') ? argv.oci : undefined);
  try {
    if (argv.oci) {
      // Imported only when used (as build.js below): a bad command line or config is refused without loading them.
      const { importImage } = await import('@debian-atomic/oci-wrap');
      let source = argv.oci;
      if (originImage) {
        // The image as pulled becomes the installed system's layer cache (tools/atomic): its first
        // `atomic upgrade` then downloads only the layers that changed since.
        seeded = tempSibling(resolve(argv.output), 'image-cache');
        source = await seedImageCache(argv.oci, seeded, originImage, argv['tls-verify']);
      }
      imported = tempSibling(resolve(argv.output), 'oci-repo');
      ({ ref, digest: pulledDigest } = await importImage({ source, repo: imported, ref: argv.ref, tlsVerify: argv['tls-verify'], progress: new Progress(TOOL, { quiet: argv.quiet }) }));
      repo = imported;
      if (seeded && originImage) await annotateImageCache(seeded, originImage, pulledDigest);
    }
    const { buildDiskImage } = await import('./build.js');
    const result = await buildDiskImage({
      image: originImage ? { reference: originImage, digest: pulledDigest, cache: seeded } : undefined,
      repo,
      ref,
      format: argv.format,
      output: argv.output,
      config,
      configDir: argv.config ? dirname(resolve(argv.config)) : process.cwd(),
      progress: new Progress(TOOL, { quiet: argv.quiet }),
    });
    writeJson(result);
  } finally {
    for (const d of [imported, seeded]) if (d) await rm(d, { recursive: true, force: true });
    cleanup();
  }
  return 0;
});
