// The shipped tools and what each needs from Debian at run time: one table drives the
// bundles, the .debs (Depends, descriptions), the man pages and the multi-call SEA binary.
// Every workspace package with a `bin` must have a row (packaging/bundle.mjs checks).
// nodejs (>= 20) is added to every package. Essential packages (dpkg, coreutils) are not listed:
// Debian forbids depending on them without a version. tools/lib (a library) and tools/e2e (tests) ship nothing.
export const TOOLS = {
  'treefile-lint': { depends: [] },
  rootfs: { depends: ['mmdebstrap', 'bubblewrap'] },
  'usr-unify': { depends: ['bubblewrap'] },
  'ostree-commit': { depends: ['ostree (>= 2025)'] },
  // skopeo: only for --oci docker://... (an image in a registry).
  'disk-image': {
    depends: ['ostree (>= 2025)', 'dosfstools', 'mtools', 'e2fsprogs', 'fdisk', 'qemu-utils'],
    recommends: ['skopeo'],
  },
  // The installer ISO: ostree checkout, mksquashfs, mkfs.vfat + mtools (the El Torito EFI image), xorriso.
  // skopeo: to copy a registry image into an oci: directory first (iso-image reads oci: layouts only).
  'iso-image': {
    depends: ['ostree (>= 2025)', 'xorriso', 'squashfs-tools', 'mtools', 'dosfstools'],
    recommends: ['skopeo'],
  },
  'oci-wrap': { depends: ['ostree (>= 2025)', 'skopeo'] },
  'comps-sync': { depends: ['xz-utils', 'gpgv', 'debian-archive-keyring'] },
  hwdetect: { depends: [] },
  // The build report: reads JSON, writes JSON and a self-contained HTML page (chromium only in its test).
  report: { depends: [] },
  // On every image: the update client (status, upgrade and switch from OSTree remotes and registries).
  // mount: `atomic bootloader update` mounts the ESP when it is not (findmnt is util-linux, essential);
  // dosfstools: it repairs the ESP (fsck.fat -a) before mounting it, as a cut can leave the FAT dirty.
  // bubblewrap, apt: `atomic install PKG` (package layering) resolves with apt and runs dpkg and maintainer scripts in bwrap.
  // fdisk, mtools, e2fsprogs, efibootmgr: `atomic install to-disk` (sfdisk, the ESP's files, mkfs.ext4, the firmware boot entry).
  atomic: {
    depends: ['ostree (>= 2025)', 'skopeo', 'systemd', 'mount', 'dosfstools', 'bubblewrap', 'apt'],
    recommends: ['fdisk', 'mtools', 'e2fsprogs', 'efibootmgr'],
  },
};
export const TOOL_NAMES = Object.keys(TOOLS);
/** The multi-call SEA binary's own name: `debian-atomic TOOL ARGS...` or a link named TOOL. */
export const MULTICALL = 'debian-atomic';
