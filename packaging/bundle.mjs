#!/usr/bin/env node
// Bundle the compiled tools (tools/*/dist, run `npx tsc -b` first) with esbuild into
// CommonJS scripts Node runs without node_modules:
//   OUT/<tool>.cjs           one tool, `#!/usr/bin/node` (the .deb installs it as /usr/bin/<tool>)
//   OUT/debian-atomic.cjs    every tool, dispatching on its name or first argument (the SEA's script)
//   OUT/<name>.licenses.json the npm packages inside each bundle, with their licenses (debian/copyright)
// CommonJS because Node 20's SEA embeds exactly one CommonJS script; the .debs use the same
// bundles so what is tested as a .deb is what the single executables run.
// Usage: node packaging/bundle.mjs [OUT]   (default build/packaging/bundle)
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { MULTICALL, TOOL_NAMES } from './tools.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'build/packaging/bundle'));

/**
 * Each tools/<tool>/src/bin.ts ends in `await runTool(...)`: top-level await, which a CommonJS
 * bundle cannot hold. runTool never returns (it calls process.exit), so nothing waits on it:
 * starting it without `await` behaves the same. The rewrite is checked to hit exactly once,
 * so a bin.ts that changes shape fails the build instead of bundling something else.
 * (A bin.ts that says `void runTool(...)` itself needs no rewrite.)
 */
const binWithoutTopLevelAwait = {
  name: 'bin-without-top-level-await',
  setup(b) {
    b.onLoad({ filter: /[\\/]tools[\\/][^\\/]+[\\/]dist[\\/]bin\.js$/ }, async (args) => {
      const text = (await readFile(args.path, 'utf8')).replace(/^#!.*\n/, '');
      const hits = text.match(/^await runTool\(/gm)?.length ?? 0;
      const started = text.match(/^void runTool\(/gm)?.length ?? 0;
      if (hits + started !== 1) throw new Error(`${relative(root, args.path)}: expected one top-level 'await runTool(' (or 'void runTool('), found ${hits + started}`);
      return { contents: text.replace(/^await runTool\(/m, 'void runTool('), loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

/**
 * A worker thread started from its own file (`new Worker(new URL('./x.js', import.meta.url))`)
 * has no file in a bundle or a single executable: the worker is bundled on its own and started
 * from its source (`eval: true`, a CommonJS script, which is what the bundle is). Checked like
 * the bin rewrite: a Worker started any other way fails the build.
 */
const workersFromSource = {
  name: 'workers-from-source',
  setup(b) {
    b.onLoad({ filter: /[\\/]tools[\\/][^\\/]+[\\/]dist[\\/][^\\/]+\.js$/ }, async (args) => {
      let text = await readFile(args.path, 'utf8');
      if (args.path.endsWith('/bin.js') || !text.includes('new Worker(')) return undefined;
      const pattern = /new Worker\(new URL\((?:[^()]|\([^()]*\))*?'\.\/([\w-]+)\.js', import\.meta\.url\)\)/g;
      const names = [...text.matchAll(pattern)].map((m) => m[1]);
      if (names.length !== text.split('new Worker(').length - 1) throw new Error(`${relative(root, args.path)}: a Worker not started as new Worker(new URL('./NAME.js', import.meta.url))`);
      const sources = {};
      for (const name of new Set(names)) {
        const r = await build({ ...common, plugins: [], metafile: false, write: false, entryPoints: [join(dirname(args.path), `${name}.js`)], banner: banner('') });
        sources[name] = r.outputFiles[0].text;
      }
      text = text.replace(pattern, (_, name) => `new Worker(${JSON.stringify(sources[name])}, { eval: true })`);
      return { contents: text, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

/** The multi-call entry: `debian-atomic TOOL ARGS...`, or the binary linked or copied as TOOL. */
function multicallSource() {
  const loaders = TOOL_NAMES.map((t) => `  ${JSON.stringify(t)}: () => import(${JSON.stringify(join(root, 'tools', t, 'dist/bin.js'))}),`).join('\n');
  return `import { basename } from 'node:path';
const TOOLS = {
${loaders}
};
const usage = \`usage: ${MULTICALL} TOOL [ARGS...]   (or run it through a link named TOOL)
tools: \${Object.keys(TOOLS).join(', ')}
'${MULTICALL} TOOL --help' describes each one.\\n\`;
let name = basename(process.argv0 || process.argv[0]);
if (!Object.hasOwn(TOOLS, name)) {
  name = process.argv[2];
  if (name === '--help' || name === '-h') { process.stdout.write(usage); process.exit(0); }
  if (name === undefined || !Object.hasOwn(TOOLS, name)) {
    process.stderr.write(name === undefined ? usage : \`${MULTICALL}: \${name}: no such tool\\n\${usage}\`);
    process.exit(2);
  }
  // The tools read process.argv.slice(2): drop the tool name as if it were the program.
  process.argv.splice(2, 1);
}
void TOOLS[name]();
`;
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
  metafile: true,
  legalComments: 'none',
  // yargs 18 and the tools are ESM and use import.meta.url; in CommonJS it is the script's own URL.
  define: { 'import.meta.url': '__import_meta_url' },
  plugins: [binWithoutTopLevelAwait, workersFromSource],
};
const banner = (shebang) => ({ js: `${shebang}\n"use strict";\nconst __import_meta_url = require("node:url").pathToFileURL(__filename).href;` });

/** npm packages (name, version, license) whose files ended up in a bundle. */
async function bundledPackages(metafile) {
  const found = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    const dir = m ? input.slice(0, m.index + m[0].length) : /^tools\/[^/]+\//.exec(relative(root, resolve(root, input)))?.[0];
    if (!dir || found.has(dir)) continue;
    const pkg = JSON.parse(await readFile(resolve(root, dir, 'package.json'), 'utf8'));
    found.set(dir, { name: pkg.name, version: pkg.version, license: pkg.license ?? 'UNKNOWN' });
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

// A new tool must say what it needs from Debian before it can ship.
for (const dir of await readdir(join(root, 'tools'))) {
  const pkg = JSON.parse(await readFile(join(root, 'tools', dir, 'package.json'), 'utf8').catch(() => '{}'));
  for (const name of Object.keys(pkg.bin ?? {})) {
    if (!TOOL_NAMES.includes(name)) throw new Error(`tools/${dir}: command ${name} has no row in packaging/tools.mjs (its Debian Depends)`);
  }
}
await mkdir(out, { recursive: true });
const jobs = TOOL_NAMES.map((t) => ({ name: t, entryPoints: [join(root, 'tools', t, 'dist/bin.js')], shebang: '#!/usr/bin/node' }));
jobs.push({ name: MULTICALL, stdin: { contents: multicallSource(), resolveDir: root, sourcefile: 'multicall.js' }, shebang: '#!/usr/bin/env node' });
await Promise.all(
  jobs.map(async ({ name, shebang, ...entry }) => {
    const result = await build({ ...common, ...entry, banner: banner(shebang), outfile: join(out, `${name}.cjs`) });
    await writeFile(join(out, `${name}.licenses.json`), JSON.stringify(await bundledPackages(result.metafile), null, 2) + '\n');
  }),
);
process.stderr.write(`bundle: ${jobs.length} bundles in ${relative(process.cwd(), out) || '.'}\n`);
