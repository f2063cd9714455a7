/**
 * Bounded, streaming reads of the large inputs: a Packages index (plain or xz) and the
 * data.tar of a .deb. Local files must be regular files (a FIFO or /dev/zero is refused
 * before a byte is read); decompressed output is handed on chunk by chunk and counted,
 * and the decompressor is killed as soon as a bound is passed, so a bomb costs
 * milliseconds and a few MiB, not gigabytes.
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { inputError, openRegularFile, ToolError } from '@debian-atomic/lib';

/** Bytes, from a local file (by path) or already in memory (a download, a cache entry). */
export type Source = { file: string } | { data: Uint8Array; name: string };

export const sourceName = (s: Source): string => ('file' in s ? s.file : s.name);

/** Read a regular file chunk by chunk; more than maxBytes is refused, not truncated. */
export async function streamFile(
  file: string,
  what: string,
  maxBytes: number,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  const fh = await openRegularFile(file, what);
  try {
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(1 << 16);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      total += bytesRead;
      if (total > maxBytes) throw inputError(`${file}: ${what} larger than ${maxBytes} bytes, refusing to read it`);
      onChunk(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}

export interface CommandResult {
  /** Exit status; null when it was killed (see stopped). */
  code: number | null;
  /** The caller had what it needed and the command was stopped early. */
  stopped: boolean;
  /** Its stderr (the first 64 kB). */
  stderr: string;
}

/**
 * Run a filter (xz -dc, dpkg-deb --fsys-tarfile -) on a source and hand its stdout to
 * onChunk as it comes. onChunk returns true when it has what it needs, or throws; either
 * way the command is killed at once. A local file is the command's stdin as is (never
 * read into memory here); in-memory data is written to it.
 */
export async function streamCommand(
  cmd: string,
  args: readonly string[],
  source: Source,
  opts: { providedBy: string; what: string },
  onChunk: (chunk: Buffer) => boolean | void,
): Promise<CommandResult> {
  const fh = 'file' in source ? await openRegularFile(source.file, opts.what) : undefined;
  try {
    return await new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: [fh ? fh.fd : 'pipe', 'pipe', 'pipe'] });
      const stdout = child.stdout!;
      let stderr = '';
      let stopped = false;
      let failure: { err: unknown } | undefined;
      const stop = () => {
        if (stopped) return;
        stopped = true;
        stdout.destroy();
        child.kill('SIGKILL');
      };
      child.on('error', (err: NodeJS.ErrnoException) => {
        failure ??= {
          err:
            err.code === 'ENOENT'
              ? new ToolError('missing-command', `${cmd}: command not found (${opts.what})`, {
                  hint: `install it: apt-get install ${opts.providedBy} (or run 'make deps')`,
                })
              : err,
        };
        stop();
      });
      child.stderr!.on('data', (d: Buffer) => {
        if (stderr.length < 1 << 16) stderr += d.toString('utf8');
      });
      if (!fh) {
        child.stdin!.on('error', () => undefined); // EPIPE when it was stopped early
        child.stdin!.end((source as { data: Uint8Array }).data);
      }
      stdout.on('data', (chunk: Buffer) => {
        if (stopped) return;
        try {
          if (onChunk(chunk)) stop();
        } catch (err) {
          failure ??= { err };
          stop();
        }
      });
      child.on('close', (code) => {
        if (failure) reject(failure.err);
        else resolve({ code: stopped ? null : code, stopped, stderr });
      });
    });
  } finally {
    await fh?.close();
  }
}

/** The last meaningful line of a command's stderr, without the command's own prefix. */
export function commandMessage(stderr: string, prefix: RegExp): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  return (lines[lines.length - 1] ?? 'failed').replace(prefix, '').trim();
}

/**
 * Decompress xz data, handing the text on as it comes (UTF-8 decoded across chunk
 * boundaries). More than maxBytes of output is refused as a bomb; data that is not
 * xz, or is cut short, is an input error naming the source.
 */
export async function xzText(
  source: Source,
  what: string,
  maxBytes: number,
  onText: (text: string) => void,
): Promise<void> {
  const name = sourceName(source);
  const decoder = new StringDecoder('utf8');
  let total = 0;
  const res = await streamCommand('xz', ['-dc'], source, { providedBy: 'xz-utils', what }, (chunk) => {
    total += chunk.length;
    if (total > maxBytes)
      throw inputError(`${name}: ${what} decompresses to more than ${maxBytes} bytes, refusing it`, {
        hint: 'a decompression bomb, or not the file you meant',
      });
    onText(decoder.write(chunk));
  });
  if (res.code !== 0) throw inputError(`${name}: not xz data (${commandMessage(res.stderr, /^xz: \(stdin\): /)})`);
  const rest = decoder.end();
  if (rest) onText(rest);
}

/** Text from a plain file (streamed) or an .xz one (decompressed), at most maxBytes of it. */
export async function streamText(
  file: string,
  what: string,
  maxBytes: number,
  onText: (text: string) => void,
): Promise<void> {
  if (file.endsWith('.xz')) return xzText({ file }, what, maxBytes, onText);
  const decoder = new StringDecoder('utf8');
  await streamFile(file, what, maxBytes, (chunk) => onText(decoder.write(chunk)));
  const rest = decoder.end();
  if (rest) onText(rest);
}
