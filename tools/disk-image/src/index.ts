/**
 * What atomic install to-disk shares with disk-image: the same config, the same installed system
 * (prepareSysroot: deployment, origin, users, boot chain, menu), the same GPT layout and ESP.
 */
export { bootloaderState, prepareSysroot, ROOT_LABEL, type PrepareOptions } from './build.js';
export { blockDevice, loadConfig, parseSize, type DiskConfig } from './config.js';
export { fillEsp, makeEspFs, planLayout, sfdiskScript, ESP_TYPE, MiB, ROOT_TYPE_X86_64, type Layout } from './disk.js';
export { writeBootloaderState } from './grub.js';
export type { UserResult } from './customize.js';
export { commitInfo } from './sysroot.js';
export { annotateImageCache, seedImageCache } from './cache.js';
export { checkOutput, checkRef, checkRepo } from './args.js';
