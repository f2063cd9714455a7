#!/usr/bin/env node
import { runTool } from '@debian-atomic/lib';
import { main, TOOL } from './main.js';

await runTool(TOOL, () => main(process.argv.slice(2)));
