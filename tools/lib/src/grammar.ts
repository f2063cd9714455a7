/**
 * The grammar of every line-oriented file a tool writes a user's string into, in one place:
 * /etc/passwd, group and shadow fields, authorized_keys lines, kernel arguments (BLS `options`,
 * kargs.d, GRUB), hostnames, APT sources fields. Each is a zod schema anchored at both ends and
 * bounded in length, so no value can carry a newline, a field separator or a megabyte into a
 * file where it would start a second record (a second uid-0 account, a second key, `init=`).
 */
import { z } from 'zod';

/** Control characters (C0, DEL, C1) and the Unicode line/paragraph separators. */
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** The first control character of a string, named for a message ("a newline (U+000A)"). */
export function controlCharName(s: string): string | null {
  const m = CONTROL_CHARS.exec(s);
  if (!m) return null;
  const c = m[0];
  const code = `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  const names: Record<string, string> = {
    '\n': 'a newline',
    '\r': 'a carriage return',
    '\t': 'a tab',
    '\0': 'a NUL byte',
  };
  return `${names[c] ?? 'a control character'} (${code})`;
}

/** A string with no control characters and at most `max` characters: what any single line may hold. */
export function lineText(max: number, what: string) {
  return z
    .string()
    .max(max, { error: `${what} is longer than ${max} characters` })
    .superRefine((s, ctx) => {
      const c = controlCharName(s);
      if (c) ctx.addIssue({ code: 'custom', message: `${what} must be one line: it contains ${c}` });
    });
}

/** useradd's default NAME_REGEX (Debian's adduser is stricter still), at most 32 characters. */
export const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
export const userName = z.string().regex(USER_NAME, {
  error:
    'not a valid user name (lowercase letters, digits, "_", "-"; at most 32 characters, not starting with a digit or "-")',
});
export const groupName = z
  .string()
  .regex(USER_NAME, { error: 'not a valid group name (lowercase letters, digits, "_", "-"; at most 32 characters)' });

/** A passwd(5) field: one line, no ":" (the field separator). */
export const passwdField = (what: string, max = 256) =>
  lineText(max, what).refine((s) => !s.includes(':'), {
    error: `${what} must not contain ":" (the passwd field separator)`,
  });

/** A login shell or home directory: an absolute path, one passwd field, no white space. */
export const passwdPath = (what: string) =>
  passwdField(what, 4096)
    .refine((s) => s.startsWith('/'), { error: `${what} must be an absolute path` })
    .refine((s) => !/\s/.test(s), { error: `${what} must not contain white space` });

/** shadow(5)'s password field: a crypt(3) hash ($id$...), or "!" / "*" to lock. */
export const cryptHash = z
  .string()
  .max(512, { error: 'a password hash is longer than 512 characters' })
  .regex(/^(\$[0-9a-z]+\$[./0-9A-Za-z$=,]+|!|\*)$/, {
    error: 'expected a crypt(3) hash like $6$... or $y$..., or ! to lock',
  });

/** Key types sshd accepts in authorized_keys (sshd(8) AUTHORIZED_KEYS FILE FORMAT). */
const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ssh-dss',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
];
const SSH_KEY = new RegExp(
  `^(${SSH_KEY_TYPES.map((t) => t.replace(/[.@]/g, '\\$&')).join('|')}) [A-Za-z0-9+/]+={0,3}( [^\\s][^\\n\\r]*)?$`,
);

/** One OpenSSH public key line: type, base64 key, optional comment; no options, one line. */
export const sshPublicKey = lineText(16384, 'an SSH public key').pipe(
  z.string().regex(SSH_KEY, {
    error: `expected an OpenSSH public key line: "TYPE BASE64 [comment]", TYPE one of ${SSH_KEY_TYPES.join(', ')}`,
  }),
);

/**
 * One kernel command line argument: printable, no white space outside double quotes
 * (`foo="a b"` is one argument, as the kernel and ostree split them), at most 4096 characters
 * (the whole x86 command line is 2048 by default; COMMAND_LINE_SIZE can be larger).
 */
export function kernelArgProblem(arg: string): string | null {
  if (arg.length === 0) return 'a kernel argument must not be empty';
  if (arg.length > 4096) return 'a kernel argument is longer than 4096 characters';
  const c = controlCharName(arg);
  if (c) return `a kernel argument must be one word: it contains ${c}`;
  let quoted = false;
  for (const ch of arg) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && /\s/.test(ch))
      return `"${arg}" is more than one kernel argument: white space outside quotes (list each argument on its own)`;
  }
  if (quoted) return `"${arg}": unbalanced double quote`;
  return null;
}
export const kernelArg = z.string().superRefine((s, ctx) => {
  const p = kernelArgProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

/** A hostname: RFC 1123 labels of letters, digits and "-", at most 253 characters in all. */
export const hostname = z
  .string()
  .max(253, { error: 'a hostname is at most 253 characters' })
  .regex(/^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$/, {
    error: 'not a valid hostname (letters, digits and "-" in dot-separated labels of at most 63 characters)',
  });

/** A URL written into an APT sources file or an ostree remote: one token, no white space or control characters. */
export const sourcesUrl = (protocols: RegExp, error: string) =>
  z
    .string()
    .max(2048, { error: 'a URL is longer than 2048 characters' })
    .regex(/^[^\s\u0000-\u001f\u007f]+$/, {
      error: `${error}: a URL must not contain white space or control characters`,
    })
    .pipe(z.url({ protocol: protocols, error }));

/** Disk sizes: bytes or a number with a K/M/G/T suffix; the caller bounds the result. */
export const SIZE = /^\d{1,15}(\.\d{1,6})?\s*([KMGT]i?B?)?$/i;

// Container image references as skopeo takes them, the transports an update origin may name.
// docker://: distribution's reference grammar (domain[:port]/path[:tag][@digest]), lowercase path.
const DOCKER_PATH = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*';
const DOCKER_DOMAIN =
  '(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\\d{1,5})?|\\[[0-9A-Fa-f:]+\\](?::\\d{1,5})?)';
const DOCKER_REFERENCE = new RegExp(
  `^docker://(?:${DOCKER_DOMAIN}/)?${DOCKER_PATH}(?::[\\w][\\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`,
);
// oci: and oci-archive:: an absolute path (no ':' — skopeo would read the rest as the tag), an optional tag.
const LAYOUT_REFERENCE = /^(oci|oci-archive):(\/[^:\s\u0000-\u001f\u007f]*)(?::([\w][\w.-]{0,127}))?$/;

/** Why a string is not an image reference an origin can name (docker://…, oci:/DIR[:TAG], oci-archive:/FILE[:TAG]), or null. */
export function imageReferenceProblem(ref: string): string | null {
  if (ref.length > 1024) return 'an image reference is longer than 1024 characters';
  if (ref.startsWith('docker://')) {
    return DOCKER_REFERENCE.test(ref)
      ? null
      : `${JSON.stringify(ref.slice(0, 200))} is not a registry image reference: expected docker://HOST[:PORT]/NAME[:TAG][@sha256:DIGEST] (lowercase name)`;
  }
  if (/^(oci|oci-archive):/.test(ref)) {
    const m = LAYOUT_REFERENCE.exec(ref);
    if (!m)
      return `${JSON.stringify(ref.slice(0, 200))} is not a layout reference: expected ${ref.startsWith('oci:') ? 'oci:/ABSOLUTE/DIR' : 'oci-archive:/ABSOLUTE/FILE'}[:TAG] (an absolute path without ':' or white space)`;
    if (m[2]!.split('/').includes('..')) return `${JSON.stringify(ref.slice(0, 200))}: the path must not contain '..'`;
    return null;
  }
  return `${JSON.stringify(ref.slice(0, 200))} is not an image reference: expected docker://…, oci:/DIR[:TAG] or oci-archive:/FILE[:TAG]`;
}

export const imageReference = z.string().superRefine((s, ctx) => {
  const problem = imageReferenceProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
