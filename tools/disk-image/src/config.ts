/**
 * --config: what the installed system needs beyond the commit, like
 * bootc-image-builder's config.toml: users, hostname, kernel arguments, disk
 * sizes, and the remote it updates from. YAML, validated with positions.
 */
import { z } from 'zod';
import { formatDiagnostic, inputError, readYamlFile, schemaDiagnostics, syntaxDiagnostics, ToolError, zodObjectKeys } from '@debian-atomic/lib';

const SIZE = /^\d+(\.\d+)?\s*([KMGT]i?B?)?$/i;
const size = z.union([z.number().int().positive(), z.string().regex(SIZE, { error: 'expected a size like 512M, 4G or a number of bytes' })]);

export const userSchema = z.strictObject({
  name: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: 'not a valid user name' }),
  'password-hash': z.string().regex(/^(\$[0-9a-z]+\$[^:\n]+|!|\*)$/, { error: 'expected a crypt(3) hash like $6$... or $y$..., or ! to lock' }).optional(),
  'ssh-keys': z.array(z.string().regex(/^(ssh-|ecdsa-|sk-)\S+ \S+/, { error: 'expected an OpenSSH public key line' })).optional(),
  groups: z.array(z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: 'not a valid group name' })).optional(),
  shell: z.string().startsWith('/').optional(),
  uid: z.number().int().min(1000).max(59999).optional(),
});

export const configSchema = z.strictObject({
  users: z.array(userSchema).optional(),
  hostname: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,62})$/i, { error: 'not a valid hostname' }).optional(),
  'kernel-args': z.array(z.string().min(1)).optional(),
  disk: z
    .strictObject({
      size: size.optional().describe('Whole disk; the root partition takes what the ESP leaves'),
      'esp-size': size.optional(),
      'free-space': size.optional().describe('Free space in the root file system beyond the content (default: as much as the content, at least 1G, for a second deployment)'),
    })
    .optional(),
  remote: z
    .strictObject({
      name: z.string().regex(/^[A-Za-z0-9_-]+$/).optional(),
      url: z.url({ protocol: /^(https?|file)$/ }),
      'gpg-verify': z.boolean().optional(),
      'gpg-key': z.string().optional().describe('ASCII-armored public key file (relative to the config file)'),
    })
    .optional(),
});
export type DiskConfig = z.infer<typeof configSchema>;

export function parseSize(v: number | string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT])?/i.exec(v)!;
  const unit = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[(m[2] ?? '').toUpperCase() as 'K'] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

export async function loadConfig(file: string | undefined): Promise<DiskConfig> {
  if (!file) return {};
  const y = await readYamlFile(file);
  const syntax = syntaxDiagnostics(y);
  if (syntax.length) throw configError(syntax.map(formatDiagnostic));
  if (y.doc.contents === null) return {};
  const { data, diagnostics } = schemaDiagnostics(y, configSchema, (p) => zodObjectKeys(configSchema, p));
  if (diagnostics.length) throw configError(diagnostics.map(formatDiagnostic));
  if (!data) throw inputError(`${file}: not a disk-image config`);
  return data;
}

function configError(lines: string[]): ToolError {
  return new ToolError('bad-config', lines[0]!, { detail: lines.length > 1 ? lines.slice(1).join('\n') : undefined, exitCode: 2 });
}
