export { wrapCommit, presentedPath, COMPONENTS, REF_LABEL, type WrapOptions, type WrapResult } from './wrap.js';
export {
  importImage,
  importLayers,
  readImage,
  safeName,
  EntryChecker,
  climbsOut,
  IMPORT_LIMITS,
  type ImportLayersOptions,
  type ImportLimits,
  type ImportOptions,
  type ImportResult,
  type LayersImported,
  type ObjectKind,
  type OstreeImage,
} from './import.js';
export * as ociSchema from './oci-schema.js';
export { parseOciRef, readManifest, readConfig, MEDIA } from './oci.js';
export { planLayers, componentOf, COMMIT_LAYER, KERNEL_LAYER } from './chunk.js';
export { CACHE_DIR, IMAGE_ANNOTATION, DIGEST_ANNOTATION, cacheTag } from './cache.js';
export {
  derivedPath,
  finishDerivedTree,
  DERIVED_TMPFILES,
  BASE_KEY,
  LAYERS_KEY,
  MANIFEST_DIGEST_KEY,
  DERIVED_SUBJECT,
  type FinishOptions,
} from './derived.js';
