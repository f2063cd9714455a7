export { wrapCommit, presentedPath, COMPONENTS, REF_LABEL, type WrapOptions, type WrapResult } from './wrap.js';
export { importImage, importLayers, safeName, EntryChecker, climbsOut, type ImportOptions, type ImportResult } from './import.js';
export { parseOciRef, readManifest, readConfig, MEDIA } from './oci.js';
export { planLayers, componentOf, COMMIT_LAYER, KERNEL_LAYER } from './chunk.js';
