#!/usr/bin/env node
import { hideBin } from 'yargs/helpers';
import { runTool } from '@debian-atomic/lib';
import { main } from './main.js';

await runTool('comps-sync', () => main(hideBin(process.argv)));
