/**
 * Modalias patterns as isenkram and Debian's `XB-Modaliases` fields use them:
 * fnmatch(3) globs (`*`, `?`, `[...]`, `[!...]`) over the whole modalias string,
 * e.g. pci:v000010DEd*sv*sd*bc03sc*i* = any NVIDIA display controller.
 * Case-insensitive: the kernel prints hex in upper case, people often do not.
 */
const cache = new Map<string, RegExp>();

export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const negate = pattern[i + 1] === '!' || pattern[i + 1] === '^';
      const start = i + 1 + (negate ? 1 : 0);
      // A ']' right after '[' or '[!' is a member, not the end.
      const end = pattern.indexOf(']', start + 1);
      if (end === -1) {
        re += '\\[';
        continue;
      }
      const body = pattern.slice(start, end);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'is');
}

export function matchModalias(pattern: string, modalias: string): boolean {
  let re = cache.get(pattern);
  if (!re) {
    re = globToRegExp(pattern);
    cache.set(pattern, re);
  }
  return re.test(modalias);
}
