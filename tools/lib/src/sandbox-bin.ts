#!/usr/bin/env node
import { runTool } from './cli.js';
import { sandboxMain } from './sandbox-cli.js';

await runTool('debian-atomic-sandbox', () => sandboxMain(process.argv.slice(2)));
