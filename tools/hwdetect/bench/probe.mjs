#!/usr/bin/env node
// Time the probe function on the live /sys and /proc (or given trees):
//   node tools/hwdetect/bench/probe.mjs [RUNS] [SYSFS] [PROC]
// Prints the median, min and max wall time in ms. The budget is 100 ms; no test asserts it.
import { performance } from 'node:perf_hooks';
import { probe } from '../dist/probe.js';

const runs = Number(process.argv[2] ?? 50);
const opts = { sysfs: process.argv[3] ?? '/sys', proc: process.argv[4] ?? '/proc' };
probe(opts); // warm-up: module JIT and the dentry cache
const times = [];
for (let i = 0; i < runs; i++) {
  const start = performance.now();
  const { facts } = probe(opts);
  times.push(performance.now() - start);
  if (facts.version !== 1) throw new Error('unexpected facts');
}
times.sort((a, b) => a - b);
const ms = (x) => x.toFixed(2);
const { facts } = probe(opts);
const devices = Object.values(facts.pci).flat().length;
console.log(
  `probe: median ${ms(times[Math.floor(runs / 2)])} ms, min ${ms(times[0])} ms, max ${ms(times[runs - 1])} ms over ${runs} runs (${devices} PCI devices, ${facts.storage.disks.length} disks)`,
);
