/**
 * Who signed a PE/COFF (EFI) binary: the common names of the certificates in its
 * Authenticode signature (the PE security directory, a PKCS#7 blob). Enough to refuse,
 * at build time, a kernel shim would refuse at boot; the firmware chain does the real check.
 */

/** Common names (X.509 CN) of the certificates in the binary's signature; [] when it has none. */
export function peSigners(buf: Buffer): string[] {
  return certificateNames(peSignatureBlob(buf));
}

/** The security directory's bytes (WIN_CERTIFICATE entries), or an empty buffer; throws on a file that is not PE. */
export function peSignatureBlob(buf: Buffer): Buffer {
  if (buf.length < 0x40 || buf.toString('latin1', 0, 2) !== 'MZ')
    throw new Error('not a PE/COFF binary (no MZ header)');
  const pe = buf.readUInt32LE(0x3c);
  if (pe + 26 > buf.length || buf.toString('latin1', pe, pe + 4) !== 'PE\0\0')
    throw new Error('not a PE/COFF binary (no PE header)');
  const opt = pe + 24;
  const magic = buf.readUInt16LE(opt);
  // Data directories start at 96 (PE32) or 112 (PE32+); the security directory is the 5th (index 4).
  const dirs = magic === 0x20b ? opt + 112 : magic === 0x10b ? opt + 96 : -1;
  if (dirs < 0) throw new Error(`not a PE/COFF binary (optional header magic 0x${magic.toString(16)})`);
  if (dirs + 5 * 8 > buf.length) throw new Error('not a PE/COFF binary (truncated optional header)');
  const count = buf.readUInt32LE(dirs - 4);
  if (count < 5) return Buffer.alloc(0);
  const offset = buf.readUInt32LE(dirs + 4 * 8);
  const size = buf.readUInt32LE(dirs + 4 * 8 + 4);
  if (size === 0) return Buffer.alloc(0);
  if (offset + size > buf.length)
    throw new Error(
      `its signature table (${size} bytes at ${offset}) lies past the end of the file (${buf.length} bytes)`,
    );
  return buf.subarray(offset, offset + size);
}

/** The CN attribute values in DER: OID 2.5.4.3 (06 03 55 04 03) then a string (UTF8, Printable, IA5, T61, BMP). */
export function certificateNames(der: Buffer): string[] {
  const names = new Set<string>();
  const oid = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]);
  for (let i = der.indexOf(oid); i >= 0 && i + 7 <= der.length; i = der.indexOf(oid, i + 1)) {
    const tag = der[i + 5]!;
    const len = der[i + 6]!;
    if (len > 0x7f || i + 7 + len > der.length) continue;
    const value = der.subarray(i + 7, i + 7 + len);
    if (tag === 0x0c || tag === 0x13 || tag === 0x16 || tag === 0x14)
      names.add(value.toString(tag === 0x0c ? 'utf8' : 'latin1'));
    else if (tag === 0x1e) names.add(Buffer.from(value).swap16().toString('utf16le'));
  }
  return [...names];
}

/** Debian's Secure Boot signing certificates are named "Debian Secure Boot Signer …" under "Debian Secure Boot CA". */
export function signedByDebian(signers: readonly string[]): boolean {
  return signers.some((n) => /^Debian Secure Boot (Signer|CA)\b/.test(n));
}
