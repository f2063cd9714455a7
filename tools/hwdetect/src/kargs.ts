/** Kernel command lines: splitting /proc/cmdline and comparing it with a plan. */

/**
 * Split a kernel command line the way the kernel does (lib/cmdline.c): on
 * whitespace, except inside double quotes. Everything after "--" is for init.
 */
export function splitCmdline(text: string): string[] {
  const args: string[] = [];
  let cur = '';
  let quoted = false;
  let started = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    if (!quoted && /\s/.test(c)) {
      if (started) args.push(cur);
      cur = '';
      started = false;
    } else {
      cur += c;
      started = true;
    }
  }
  if (started) args.push(cur);
  const end = args.indexOf('--');
  return end === -1 ? args : args.slice(0, end);
}

/** The parameter name of an argument; the kernel treats - and _ in names alike. */
export function kargKey(arg: string): string {
  const eq = arg.indexOf('=');
  return (eq === -1 ? arg : arg.slice(0, eq)).replaceAll('-', '_');
}

export interface KargsDiff {
  /** Wanted, and no argument with that name is present. */
  missing: string[];
  /** Wanted, but the name is present with other values only. */
  conflicting: { want: string; have: string[] }[];
}

export function diffKargs(wanted: readonly string[], current: readonly string[]): KargsDiff {
  const diff: KargsDiff = { missing: [], conflicting: [] };
  for (const want of wanted) {
    if (current.includes(want)) continue;
    const have = current.filter((c) => kargKey(c) === kargKey(want));
    if (have.length === 0) diff.missing.push(want);
    else diff.conflicting.push({ want, have });
  }
  return diff;
}

const shellQuote = (s: string) => (/^[A-Za-z0-9_.,:/=@%+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);

/**
 * The commands that would make the booted deployment's arguments match. We only
 * print them: changing kernel arguments is the administrator's decision.
 * `ostree admin kargs edit-in-place --append-if-missing` adds a name that is
 * absent and leaves an existing one alone, so a different value needs set-kargs.
 */
export function kargsCommands(diff: KargsDiff): string[] {
  const cmds: string[] = [];
  if (diff.missing.length > 0) {
    cmds.push(
      ['ostree admin kargs edit-in-place', ...diff.missing.map((a) => shellQuote(`--append-if-missing=${a}`))].join(
        ' ',
      ),
    );
  }
  if (diff.conflicting.length > 0) {
    cmds.push(
      [
        'ostree admin instutil set-kargs --merge',
        ...diff.conflicting.map((c) => shellQuote(`--replace=${c.want}`)),
      ].join(' '),
    );
  }
  return cmds;
}
