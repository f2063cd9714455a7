/** The command line of disk-image: everything given checked first, the image imported if --oci, then one disk. Returns the exit code. */
import { rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  cli,
  type Io,
  onInterrupt,
  Progress,
  refOrCommitRecord,
  tempSibling,
  usageError,
  writeJson,
} from '@debian-atomic/lib';
import { checkOutput, checkRef, checkRepo } from './args.js';
import { annotateImageCache, seedImageCache } from './cache.js';
import { loadConfig } from './config.js';
import { FORMATS, type Format } from './disk.js';

export const TOOL = 'disk-image';

export async function main(argv: string[], io: Io = process): Promise<number> {
  const args = await cli(
    TOOL,
    `$0 (--repo REPO --ref REF|--commit FILE | --oci oci:DIR[:TAG]|docker://...) [--config FILE] --format raw|qcow2|vmdk|vdi|vhd --output FILE\n\nMake a bootable GPT disk image (UEFI) from an OSTree commit, without loop devices\nor mounts: a deployed sysroot built with ostree, the root file system made with\nmkfs.ext4 -d, an ESP holding the commit's Debian-signed shim and GRUB (Secure Boot),
which read the menu of the deployments ostree keeps in /boot/loader/grub.cfg.`,
    argv,
  )
    .option('repo', { type: 'string', describe: 'OSTree repository holding the commit' })
    .option('ref', {
      type: 'string',
      describe: 'Ref (or commit) to deploy (with --oci: the ref to give the imported commit)',
    })
    .option('commit', {
      type: 'string',
      requiresArg: true,
      describe: "Instead of --ref: the ref of ostree-commit's record (build/<variant>/commit.json)",
    })
    .option('oci', {
      type: 'string',
      describe:
        'Deploy the commit of an ostree container image (oci-wrap): oci:DIR[:TAG] or docker://REGISTRY/NAME[:TAG]',
    })
    .option('tls-verify', {
      type: 'boolean',
      default: true,
      describe: "With --oci docker://: verify the registry's TLS (--no-tls-verify for a local HTTP registry)",
    })
    .option('config', {
      type: 'string',
      describe: 'YAML: users, hostname, kernel-args, disk sizes, remote or image (the update origin)',
    })
    .option('format', { choices: Object.keys(FORMATS) as Format[], default: 'qcow2' as Format })
    .option('output', { type: 'string', demandOption: true, describe: 'Image file to write (replaced atomically)' })
    .example('$0 --repo build/repo --ref debian/13/x86_64/base --output build/base/disk.qcow2', '')
    .parseAsync();
  args.ref = await refOrCommitRecord(args.ref, args.commit);
  if (args.oci ? args.repo !== undefined : args.repo === undefined || args.ref === undefined)
    throw usageError('give either --repo and --ref (or --commit), or --oci', `see '${TOOL} --help'`);
  // Everything the user gave is checked before any work: the command line, then the config
  // (with its gpg-key file), then that --repo is a directory. Only then is the repo read.
  if (args.ref !== undefined) checkRef(args.ref);
  await checkOutput(args.output);
  const config = await loadConfig(args.config);
  if (args.repo !== undefined) await checkRepo(args.repo);
  let repo = args.repo!;
  let ref = args.ref!;
  let imported: string | undefined;
  let seeded: string | undefined;
  let pulledDigest: string | undefined;
  const cleanup = onInterrupt(async () => {
    for (const d of [imported, seeded]) if (d) await rm(d, { recursive: true, force: true });
  });
  // The installed system updates from the image it was made from (a registry's), or the config's (the
  // same image as the guest will reach it); the digest is that of the manifest the disk was made from.
  const originImage = config.image ?? (args.oci?.startsWith('docker://') ? args.oci : undefined);
  try {
    if (args.oci) {
      // Imported only when used (as build.js below): a bad command line or config is refused without loading them.
      const { importImage } = await import('@debian-atomic/oci-wrap');
      let source = args.oci;
      if (originImage) {
        // The image as pulled becomes the installed system's layer cache (tools/atomic): its first
        // `atomic upgrade` then downloads only the layers that changed since.
        seeded = tempSibling(resolve(args.output), 'image-cache');
        source = await seedImageCache(args.oci, seeded, originImage, args['tls-verify']);
      }
      imported = tempSibling(resolve(args.output), 'oci-repo');
      ({ ref, digest: pulledDigest } = await importImage({
        source,
        repo: imported,
        ref: args.ref,
        tlsVerify: args['tls-verify'],
        progress: new Progress(TOOL, { quiet: args.quiet }),
      }));
      repo = imported;
      if (seeded && originImage) await annotateImageCache(seeded, originImage, pulledDigest);
    }
    const { buildDiskImage } = await import('./build.js');
    const result = await buildDiskImage({
      image: originImage ? { reference: originImage, digest: pulledDigest, cache: seeded } : undefined,
      repo,
      ref,
      format: args.format,
      output: args.output,
      config,
      configDir: args.config ? dirname(resolve(args.config)) : process.cwd(),
      progress: new Progress(TOOL, { quiet: args.quiet }),
    });
    writeJson(result, io.stdout);
  } finally {
    for (const d of [imported, seeded]) if (d) await rm(d, { recursive: true, force: true });
    cleanup();
  }
  return 0;
}
