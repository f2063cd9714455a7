/**
 * Where a Debian Atomic tree keeps what Debian keeps elsewhere: usr-unify puts a built tree's
 * content there, oci-wrap a derived image's layers.
 */

/** The dpkg database; /var/lib/dpkg is a tmpfiles.d link to it. */
export const DPKG_DB = 'usr/lib/sysimage/dpkg';
/** /var's directories and symlinks as tmpfiles.d lines (its files go to /usr/share/factory/var). */
export const TMPFILES_CONF = 'usr/lib/tmpfiles.d/debian-atomic-var.conf';
/** The system users and groups of /etc/passwd and /etc/group. */
export const SYSUSERS_CONF = 'usr/lib/sysusers.d/debian-atomic.conf';
/** Regenerable content under /var that is not worth copying back at boot. */
export const VAR_DROP: readonly RegExp[] = [
  /^var\/log\/./,
  /^var\/cache\/./,
  /^var\/tmp\/./,
  /^var\/lib\/apt\/lists\/./,
  /^var\/lib\/dpkg\//,
];
