// node --import this: .ts modules load through ts-hooks.mjs (esbuild). See there.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
