export { wrapCommit, presentedPath, COMPONENTS, REF_LABEL, type WrapOptions, type WrapResult } from './wrap.js';
export { importImage, importLayers, readImage, safeName, EntryChecker, climbsOut, IMPORT_LIMITS, type ImportLimits, type ImportOptions, type ImportResult, type OstreeImage } from './import.js';
export * as ociSchema from './oci-schema.js';
export { parseOciRef, readManifest, readConfig, MEDIA } from './oci.js';
export { planLayers, componentOf, COMMIT_LAYER, KERNEL_LAYER } from './chunk.js';
