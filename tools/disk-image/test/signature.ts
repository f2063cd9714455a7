import t from 'tap';
import { certificateNames, peSignatureBlob, peSigners, signedByDebian } from '../src/signature.js';
import { DEBIAN_SIGNED, fakePe } from './fixtures/commit.js';

t.test('the signers of a PE binary, from its security directory', async (t) => {
  t.same(peSigners(fakePe(DEBIAN_SIGNED)), DEBIAN_SIGNED);
  t.ok(signedByDebian(peSigners(fakePe(DEBIAN_SIGNED))));
  t.same(peSigners(fakePe([])), [], 'no signature table: no signers');
  t.notOk(signedByDebian(['Microsoft Corporation UEFI CA 2011']), "Microsoft's signature is shim's, not a kernel's");
  t.notOk(signedByDebian(['Not Debian Secure Boot Signer']), 'the name must start the common name');
});

t.test('common names in DER: the string types X.509 uses, lengths checked', async (t) => {
  const cn = (tag: number, value: Buffer) =>
    Buffer.concat([Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03, tag, value.length]), value]);
  const bmp = Buffer.from('Bmp Name', 'utf16le').swap16();
  const der = Buffer.concat([
    cn(0x13, Buffer.from('Printable')),
    cn(0x0c, Buffer.from('Ütf8')),
    cn(0x1e, bmp),
    cn(0x04, Buffer.from('octets')),
  ]);
  t.same(certificateNames(der), ['Printable', 'Ütf8', 'Bmp Name'], 'octet strings are not names');
  t.equal(
    bmp.toString('hex'),
    Buffer.from('Bmp Name', 'utf16le').swap16().toString('hex'),
    'the input is not modified',
  );
  t.same(
    certificateNames(Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x50, 0x41])),
    [],
    'a length past the end is skipped',
  );
  t.same(certificateNames(Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03])), [], 'a cut-off attribute is skipped');
});

t.test('what is not a PE binary says so, never reads past the end', async (t) => {
  t.throws(() => peSignatureBlob(Buffer.from('not really a kernel')), /no MZ header/);
  const noPe = Buffer.alloc(0x80);
  noPe.write('MZ');
  noPe.writeUInt32LE(0x40, 0x3c);
  t.throws(() => peSignatureBlob(noPe), /no PE header/);
  const farPe = Buffer.from(noPe);
  farPe.writeUInt32LE(0xfffffff0, 0x3c);
  t.throws(() => peSignatureBlob(farPe), /no PE header/);
  const good = fakePe(DEBIAN_SIGNED);
  t.throws(() => peSignatureBlob(good.subarray(0, 0x40 + 30)), /truncated optional header/);
  const badMagic = Buffer.from(good);
  badMagic.writeUInt16LE(0x1234, 0x40 + 24);
  t.throws(() => peSignatureBlob(badMagic), /optional header magic 0x1234/);
  const past = Buffer.from(good);
  past.writeUInt32LE(1 << 30, 0x40 + 24 + 112 + 36);
  t.throws(() => peSignatureBlob(past), /lies past the end of the file/);
  const fewDirs = Buffer.from(good);
  fewDirs.writeUInt32LE(4, 0x40 + 24 + 108);
  t.equal(peSignatureBlob(fewDirs).length, 0, 'fewer than five data directories: no security directory');
});
