// Module hooks that load the tests' TypeScript through esbuild (a devDependency already, the
// bundler of packaging/). Registered by ts-import.mjs, which every test process imports (node-arg
// in tools.taprc), in place of @tapjs/typescript's ts-node, which loads the whole TypeScript
// compiler into each test process (about 2 s of CPU a test file, and megabytes of coverage).
// Type-stripping only, as ts-node was set up (tap's typecheck off).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const relative = (s) => s.startsWith('./') || s.startsWith('../') || s.startsWith('/') || s.startsWith('file:');

/** `import './x.js'` names the compiled file; in a test, and in src/ seen from a test, it is ./x.ts. */
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !relative(specifier) || !/\.m?js$/.test(specifier)) throw e;
    try {
      return await next(specifier.replace(/js$/, 'ts'), context);
    } catch {
      throw e;
    }
  }
}

/** .ts and .mts outside node_modules: ES modules (every package here is "type": "module"). */
export async function load(url, context, next) {
  const u = new URL(url);
  if (u.protocol !== 'file:' || !/\.m?ts$/.test(u.pathname) || u.pathname.includes('/node_modules/'))
    return next(url, context);
  const file = fileURLToPath(u);
  const { code } = await transform(await readFile(file, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcefile: file,
    sourcemap: 'inline',
    // tsconfig.base.json's target ES2022: class fields are defined, as tsc emits them.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: true } },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
