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
 * Every tool's src/main.ts exports TOOL and main(argv, io); its bin.ts runs that main with lib's
 * runTool behind a top-level await, which a CommonJS bundle cannot hold. The bundles' entries
 * are written here instead and start the same main: runTool never returns (it calls
 * process.exit), so nothing needs to wait on it.
 */
const LIB = join(root, 'tools/lib/dist/index.js');
const mainOf = (tool) => join(root, 'tools', tool, 'dist/main.js');

/** The entry of one tool's bundle: esbuild refuses it if main.js does not export main and TOOL. */
function toolSource(tool) {
  return `import { runTool } from ${JSON.stringify(LIB)};
import { main, TOOL } from ${JSON.stringify(mainOf(tool))};
void runTool(TOOL, () => main(process.argv.slice(2)));
`;
}

/**
 * A worker thread started from its own file (`new Worker(new URL('./x.js', import.meta.url))`)
 * has no file in a bundle or a single executable: the worker is bundled on its own and started
 * from its source (`eval: true`, a CommonJS script, which is what the bundle is). Checked: a
 * Worker started any other way fails the build.
 */
const workersFromSource = {
  name: 'workers-from-source',
  setup(b) {
    b.onLoad({ filter: /[\\/]tools[\\/][^\\/]+[\\/]dist[\\/][^\\/]+\.js$/ }, async (args) => {
      let text = await readFile(args.path, 'utf8');
      if (!text.includes('new Worker(')) return undefined;
      const pattern = /new Worker\(new URL\((?:[^()]|\([^()]*\))*?'\.\/([\w-]+)\.js', import\.meta\.url\)\)/g;
      const names = [...text.matchAll(pattern)].map((m) => m[1]);
      if (names.length !== text.split('new Worker(').length - 1)
        throw new Error(
          `${relative(root, args.path)}: a Worker not started as new Worker(new URL('./NAME.js', import.meta.url))`,
        );
      const sources = {};
      for (const name of new Set(names)) {
        const r = await build({
          ...common,
          plugins: [],
          metafile: false,
          write: false,
          entryPoints: [join(dirname(args.path), `${name}.js`)],
          banner: banner(''),
        });
        sources[name] = r.outputFiles[0].text;
      }
      text = text.replace(pattern, (_, name) => `new Worker(${JSON.stringify(sources[name])}, { eval: true })`);
      return { contents: text, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

/** The multi-call entry: `debian-atomic TOOL ARGS...`, or the binary linked or copied as TOOL. */
function multicallSource() {
  const loaders = TOOL_NAMES.map((t) => `  ${JSON.stringify(t)}: () => import(${JSON.stringify(mainOf(t))}),`).join(
    '\n',
  );
  return `import { basename } from 'node:path';
import { runTool } from ${JSON.stringify(LIB)};
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
void TOOLS[name]().then((tool) => runTool(tool.TOOL, () => tool.main(process.argv.slice(2))));
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
  plugins: [workersFromSource],
};
const banner = (shebang) => ({
  js: `${shebang}\n"use strict";\nconst __import_meta_url = require("node:url").pathToFileURL(__filename).href;`,
});

/** npm packages (name, version, license) whose files ended up in a bundle. */
async function bundledPackages(metafile) {
  const found = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    const dir = m
      ? input.slice(0, m.index + m[0].length)
      : /^tools\/[^/]+\//.exec(relative(root, resolve(root, input)))?.[0];
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
    if (!TOOL_NAMES.includes(name))
      throw new Error(`tools/${dir}: command ${name} has no row in packaging/tools.mjs (its Debian Depends)`);
  }
}
// The multi-call entry runs a tool's main under the TOOL it exports: it must be the table's name.
for (const t of TOOL_NAMES) {
  const { TOOL } = await import(mainOf(t));
  if (TOOL !== t)
    throw new Error(`tools/${t}/dist/main.js: exports TOOL ${JSON.stringify(TOOL)}, expected ${JSON.stringify(t)}`);
}
await mkdir(out, { recursive: true });
const jobs = TOOL_NAMES.map((t) => ({
  name: t,
  stdin: { contents: toolSource(t), resolveDir: root, sourcefile: `${t}.js` },
  shebang: '#!/usr/bin/node',
}));
jobs.push({
  name: MULTICALL,
  stdin: { contents: multicallSource(), resolveDir: root, sourcefile: 'multicall.js' },
  shebang: '#!/usr/bin/env node',
});
await Promise.all(
  jobs.map(async ({ name, shebang, ...entry }) => {
    const result = await build({ ...common, ...entry, banner: banner(shebang), outfile: join(out, `${name}.cjs`) });
    await writeFile(
      join(out, `${name}.licenses.json`),
      JSON.stringify(await bundledPackages(result.metafile), null, 2) + '\n',
    );
  }),
);
process.stderr.write(`bundle: ${jobs.length} bundles in ${relative(process.cwd(), out) || '.'}\n`);
