/**
 * One file out of a .deb, without unpacking it: `dpkg-deb --fsys-tarfile -` streams the
 * data.tar (whatever its compression) and TarScanner picks the member out as it goes by,
 * refusing a symlink, a hard link or a `..` path (see tar.ts). dpkg-deb is killed as soon
 * as the member has been read or a bound is passed.
 */
import { inputError, ToolError } from '@debian-atomic/lib';
import { commandMessage, sourceName, streamCommand, type Source } from './stream.js';
import { TarScanner, type TarLimits } from './tar.js';

export async function debMember(source: Source, member: string, limits: TarLimits): Promise<Buffer> {
  const name = sourceName(source);
  const scanner = new TarScanner(name, member, limits);
  const res = await streamCommand(
    'dpkg-deb',
    ['--fsys-tarfile', '-'],
    source,
    { providedBy: 'dpkg', what: 'tasksel-data package' },
    (chunk) => scanner.push(chunk),
  );
  if (scanner.found) return scanner.found;
  if (scanner.ended)
    throw new ToolError('desc', `${name}: has no /${member.replace(/^\.?\//, '')} (is it tasksel-data?)`, {
      exitCode: 2,
    });
  if (res.code !== 0) {
    // dpkg-deb names its input '-': say which file it was.
    throw inputError(
      `${name}: not a .deb (dpkg-deb: ${commandMessage(res.stderr, /^dpkg-deb: (error: )?/)
        .replaceAll("'-'", 'it')
        .replace(/ in -$/, '')})`,
    );
  }
  throw inputError(`${name}: damaged data.tar (it ends before its end-of-archive blocks)`);
}
