/**
 * The installer ISO, in the order it is put together, all in a work directory beside --output
 * (renamed into place at the end, removed on failure):
 *   live commit → checkout (+ /etc) → /boot/vmlinuz, /boot/initrd.img, LiveOS/squashfs.img
 *   signed shim + gcdx64 → efiboot.img (El Torito, appended GPT ESP)
 *   --oci image → /image (OCI layout), --config → /install.yaml
 *   /.disk/info, /boot/grub/grub.cfg → xorriso → FILE.iso
 */
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onInterrupt, tempSibling, type Progress } from '@debian-atomic/lib';
import { REF_LABEL } from '@debian-atomic/oci-wrap';
import type { DiskConfig } from '@debian-atomic/disk-image';
import { buildBootImage } from './esp.js';
import { isoGrubConfig, menuTitle } from './grub.js';
import { copyImage } from './image.js';
import { installPlan, writeInstallConfig, type InstallPlan } from './install-config.js';
import { checkoutLive, squash } from './live.js';
import { writeIso } from './xorriso.js';

export interface IsoOptions {
  liveRepo: string;
  liveRef: string;
  liveCommit: string;
  /** The OCI layout and tag of the image to install. */
  oci: { reference: string; dir: string; tag: string };
  config: DiskConfig;
  configFile?: string;
  label: string;
  output: string;
  progress?: Progress;
}

export interface IsoResult extends InstallPlan {
  output: string;
  bytes: number;
  label: string;
  live: { ref: string; commit: string; kernel: string };
  image: { reference: string; digest: string; commit: string };
  seconds: number;
}

export async function buildIso(o: IsoOptions): Promise<IsoResult> {
  const started = Date.now();
  const p = o.progress;
  const epoch = process.env.SOURCE_DATE_EPOCH ?? '0';
  const plan = installPlan(o.config);
  const work = tempSibling(o.output, 'work');
  const cleanup = onInterrupt(() => rm(work, { recursive: true, force: true }));
  try {
    const tree = join(work, 'tree');
    const live = join(work, 'live');
    await mkdir(join(tree, 'boot/grub'), { recursive: true });
    await mkdir(join(tree, 'LiveOS'));
    await mkdir(join(tree, '.disk'));

    p?.step(`copying the image ${o.oci.reference}`);
    const img = await copyImage(o.oci.dir, o.oci.tag, join(tree, 'image'));

    p?.step(`checking out ${o.liveRef} (${o.liveCommit.slice(0, 12)})`);
    const lt = await checkoutLive(o.liveRepo, o.liveCommit, live);
    await copyFile(lt.vmlinuz, join(tree, 'boot/vmlinuz'));
    await copyFile(lt.initrd, join(tree, 'boot/initrd.img'));
    const efiImage = join(work, 'efiboot.img');
    const seed = `${o.liveCommit}:${img.digest}:${o.label}:${epoch}`;
    await buildBootImage(live, efiImage, seed, epoch);
    p?.step('compressing the live system (mksquashfs, zstd)');
    await squash(live, join(tree, 'LiveOS/squashfs.img'), epoch);
    await rm(live, { recursive: true, force: true });

    const title = menuTitle(img.image.labels, img.image.labels[REF_LABEL], o.oci.tag);
    // One line naming the image, as Debian's CDs have (gcdx64's built-in config finds the ISO by it).
    await writeFile(join(tree, '.disk/info'), `${title.replace(/^Install /, '')} installer (${img.digest})\n`);
    await writeFile(
      join(tree, 'boot/grub/grub.cfg'),
      isoGrubConfig({ title, label: o.label, tag: o.oci.tag, finish: plan.finish }),
    );
    if (o.configFile) await writeInstallConfig(o.configFile, o.config, tree);

    p?.step('writing the ISO (xorriso)');
    const iso = join(work, 'installer.iso');
    await writeIso({ tree, efiImage, label: o.label, output: iso, epoch, binds: [work] });
    const bytes = (await stat(iso)).size;
    await rename(iso, o.output);
    return {
      output: o.output,
      bytes,
      label: o.label,
      live: { ref: o.liveRef, commit: o.liveCommit, kernel: lt.kernel },
      image: { reference: o.oci.reference, digest: img.digest, commit: img.image.commit },
      ...plan,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
    cleanup();
  }
}
