/**
 * Automatic updates, as rpm-ostreed's: /etc/atomic/atomic.conf `[Daemon] AutomaticUpdatePolicy=`
 * says what `atomic upgrade --automatic` (run by atomic-automatic-update.timer) does.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTROL_CHARS, inputError, readBoundedText, READ_LIMITS, suggest } from '@debian-atomic/lib';

export const AUTO_POLICIES = ['none', 'check', 'stage', 'apply'] as const;
export type AutoPolicy = (typeof AUTO_POLICIES)[number];

/** The configuration file, relative to the root of the system (`--sysroot`, default /). */
export const ATOMIC_CONF = 'etc/atomic/atomic.conf';

const GROUP = 'Daemon';
const KEYS = ['AutomaticUpdatePolicy'] as const;

export interface ReadAutoPolicyOptions {
  /** Where warnings go (unknown groups and keys: ignored, as rpm-ostreed does, but said). Default: stderr. */
  warn?: (message: string) => void;
}

const shown = (s: string) => (CONTROL_CHARS.test(s) || s.length > 60 ? JSON.stringify(s.slice(0, 60)) : s);

/**
 * The policy a GKeyFile-style text sets: `[Daemon]` then `AutomaticUpdatePolicy=none|check|stage|apply`.
 * No such key (or no file) is none; the last one wins, as in GKeyFile. Errors name file:line.
 */
export function parseAutoPolicy(text: string, file: string, o: ReadAutoPolicyOptions = {}): AutoPolicy {
  const warn = o.warn ?? ((m: string) => void process.stderr.write(`atomic: warning: ${m}\n`));
  let policy: AutoPolicy = 'none';
  let group: string | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const at = `${file}:${i + 1}`;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      const m = /^\[([^\][\x00-\x1f\x7f]+)\]$/.exec(line);
      if (!m) throw inputError(`${at}: ${shown(line)}: expected a group header such as [${GROUP}]`);
      group = m[1];
      if (group !== GROUP) warn(`${at}: unknown group [${shown(group!)}], ignored (atomic reads [${GROUP}])`);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw inputError(`${at}: ${shown(line)}: expected Key=Value, [Group] or a # comment`);
    const key = line.slice(0, eq).trimEnd();
    const value = line.slice(eq + 1).trimStart();
    if (group === undefined) throw inputError(`${at}: ${shown(key)}= before any group (put it under [${GROUP}])`);
    if (group !== GROUP) continue;
    if (key !== 'AutomaticUpdatePolicy') {
      const near = suggest(key, KEYS);
      warn(`${at}: unknown key ${shown(key)} in [${GROUP}], ignored${near ? ` (did you mean ${near}?)` : ''}`);
      continue;
    }
    if (!(AUTO_POLICIES as readonly string[]).includes(value)) {
      throw inputError(`${at}: AutomaticUpdatePolicy=${shown(value)}: expected none, check, stage or apply`);
    }
    policy = value as AutoPolicy;
  }
  return policy;
}

/** The automatic update policy of the system at `sysroot` (its /etc/atomic/atomic.conf); no file is none. */
export async function readAutoPolicy(sysroot: string, o: ReadAutoPolicyOptions = {}): Promise<AutoPolicy> {
  const file = join(sysroot, ATOMIC_CONF);
  try {
    await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    // Anything else (EACCES, ENOTDIR) is said by the read below, with the file's name.
  }
  return parseAutoPolicy(
    await readBoundedText(file, { maxBytes: READ_LIMITS.config, what: 'atomic configuration' }),
    file,
    o,
  );
}

/** What `atomic upgrade --automatic` does under a policy: the options of a plain `atomic upgrade`. */
export interface AutomaticAction {
  policy: AutoPolicy;
  /** false (policy none): nothing to fetch, the run ends here. */
  upgrade: boolean;
  /** Only say whether an update is available (`atomic upgrade --check`). */
  check: boolean;
  /**
   * Reboot once a new deployment is staged (never when there was no update). An automatic
   * reboot should honour `systemd-inhibit` as rpm-ostree's does: AUTOMATIC_REBOOT_COMMAND.
   */
  reboot: boolean;
  /** One line for the journal: what this run does and why. */
  summary: string;
}

/**
 * `systemctl reboot` from a timer skips inhibitor checks unless asked (--check-inhibitors=auto
 * checks on a terminal only); --no-block: the service is stopped by the shutdown it asked for.
 */
export const AUTOMATIC_REBOOT_COMMAND = ['systemctl', 'reboot', '--check-inhibitors=yes', '--no-block'] as const;

export function automaticAction(policy: AutoPolicy): AutomaticAction {
  const why = `AutomaticUpdatePolicy=${policy}`;
  switch (policy) {
    case 'none':
      return {
        policy,
        upgrade: false,
        check: false,
        reboot: false,
        summary: `${why}: automatic updates are off (/${ATOMIC_CONF})`,
      };
    case 'check':
      return { policy, upgrade: true, check: true, reboot: false, summary: `${why}: checking for an update` };
    case 'stage':
      return {
        policy,
        upgrade: true,
        check: false,
        reboot: false,
        summary: `${why}: staging the update for the next boot`,
      };
    case 'apply':
      return {
        policy,
        upgrade: true,
        check: false,
        reboot: true,
        summary: `${why}: staging the update and rebooting into it`,
      };
  }
}
