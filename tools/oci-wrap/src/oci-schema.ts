/** The OCI documents (index, manifest, config, oci-layout) are a stage contract: defined in lib, read by oci-wrap, atomic and disk-image. */
export * from '@debian-atomic/lib/contracts/oci';
