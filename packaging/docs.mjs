#!/usr/bin/env node
// Generate, from a bundled tool's own --help (so they never drift from the code):
//   bash completion:  node packaging/docs.mjs completion TOOL BUNDLE.cjs > completions/TOOL
//   help2man include: node packaging/docs.mjs man-include TOOL BUNDLE.cjs > TOOL.h2m
// The completion is static (options and subcommands from --help, files otherwise): the tools
// do not enable yargs' `.completion()`, which would call back into node on every <Tab>.
import { execFileSync } from 'node:child_process';

const [what, tool, bundle] = process.argv.slice(2);
if (!what || !tool || !bundle) {
  process.stderr.write('usage: docs.mjs completion|man-include TOOL BUNDLE.cjs\n');
  process.exit(2);
}
const help = (...args) =>
  execFileSync(process.execPath, [bundle, ...args, '--help'], {
    encoding: 'utf8',
    env: { ...process.env, COLUMNS: '100' },
  });

/** `tool sub ...` lines of a "Commands:" section → the subcommand names. */
function subcommands(text) {
  const section = /^Commands:\n((?:  .*\n)+)/m.exec(text)?.[1] ?? '';
  return [...section.matchAll(new RegExp(`^  ${tool.replace(/[-]/g, '\\-')} ([a-z][\\w-]*)`, 'gm'))].map((m) => m[1]);
}
/** Option names from the lines that start with one ("  -q, --quiet  ..."), not from descriptions. */
const options = (text) =>
  [...text.matchAll(/^ {2,}(?:(-[a-zA-Z]), )?(--[\w-]+)/gm)].flatMap((m) => (m[1] ? [m[1], m[2]] : [m[2]]));

const top = help();
const subs = subcommands(top);
const perSub = Object.fromEntries(subs.map((s) => [s, help(s)]));

if (what === 'completion') {
  const fn = `_${tool.replace(/-/g, '_')}`;
  const cases = subs.map((s) => `    ${s}) opts=${JSON.stringify(options(perSub[s]).join(' '))} ;;`).join('\n');
  process.stdout.write(`# bash completion for ${tool} (generated from '${tool} --help' by packaging/docs.mjs)
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} sub= opts=${JSON.stringify(options(top).join(' '))} i
${
  subs.length
    ? `  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in ${subs.join('|')}) sub=\${COMP_WORDS[i]}; break ;; esac
  done
  case $sub in
${cases}
    '') if [[ $cur != -* ]]; then COMPREPLY=($(compgen -W ${JSON.stringify(subs.join(' '))} -- "$cur")); return; fi ;;
  esac
`
    : ''
}  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
    compopt -o filenames 2>/dev/null
  fi
}
complete -F ${fn} ${tool}
`);
} else if (what === 'man-include') {
  // help2man puts the top-level --help in DESCRIPTION/OPTIONS; each subcommand's goes in its own section.
  let out = `[ENVIRONMENT]
.TP
.B SOURCE_DATE_EPOCH
Timestamp used for reproducible output where the tool records one.
.TP
.B DEBIAN_ATOMIC_TOOLBOX
A trixie tree to run ostree, mkfs and GRUB tools from through bubblewrap, or
.B none
to use the host's (what this package does on trixie when no toolbox exists).
.TP
.B DEBIAN_ATOMIC_CACHE
Cache directory (default: ~/.cache/debian-atomic).

[EXIT STATUS]
0 success, 1 failure or findings, 2 usage error or unreadable input, 130 interrupted.
`;
  if (subs.length) {
    out += '\n[COMMANDS]\n';
    for (const s of subs)
      out += `.SS "${tool} ${s}"\n.nf\n${perSub[s].replace(/\\/g, '\\e').replace(/^([.'])/gm, '\\&$1')}.fi\n`;
  }
  out += `\n[SEE ALSO]\nREADME.md of the Debian Atomic sources: the pipeline and every tool.\n`;
  process.stdout.write(out);
} else {
  process.stderr.write(`docs.mjs: ${what}: unknown\n`);
  process.exit(2);
}
