import t from 'tap';
import { globToRegExp, matchModalias } from '../src/modalias.js';

const nvidiaGpu = 'pci:v000010DEd00002684sv00001043sd000088E2bc03sc00i00';

t.test('isenkram-style globs over the whole modalias', async (t) => {
  t.ok(matchModalias('pci:v000010DEd*sv*sd*bc03sc*i*', nvidiaGpu));
  t.ok(matchModalias('pci:v000010ded*sv*sd*bc03sc*i*', nvidiaGpu), 'case does not matter');
  t.notOk(matchModalias('pci:v00001002d*sv*sd*bc03sc*i*', nvidiaGpu));
  t.notOk(matchModalias('pci:v000010DEd*', 'xpci:v000010DEd1'), 'anchored at the start');
  t.notOk(matchModalias('pci:v000010DEd*bc03', nvidiaGpu), 'anchored at the end');
  t.ok(matchModalias('pci:v000010DEd0000268?sv*', nvidiaGpu), '? is one character');
  t.ok(matchModalias('pci:v000010DEd0000268[0-4]sv*', nvidiaGpu), 'ranges');
  t.notOk(matchModalias('pci:v000010DEd0000268[!4]sv*', nvidiaGpu), 'negated class');
  t.ok(matchModalias('pci:v000010DEd0000268[^5]sv*', nvidiaGpu), '^ negates too');
  t.ok(matchModalias('a[]]b', 'a]b'), '] first in a class is a member');
  t.ok(matchModalias('a[b', 'a[b'), 'an unclosed [ is literal');
  t.ok(matchModalias('usb:v1D6Bp0002d*dc09dsc00dp03ic09isc00ip00in00', 'usb:v1D6Bp0002d0610dc09dsc00dp03ic09isc00ip00in00'));
  t.ok(matchModalias('of:N*T*Cfoo.bar(x)+', 'of:NxTyCfoo.bar(x)+'), 'regex characters are literal');
  t.equal(globToRegExp('a*b').source, '^a.*b$');
});
