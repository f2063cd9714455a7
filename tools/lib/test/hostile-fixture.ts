import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCase } from './fixtures/hostile.js';

// The hostile suites' cap counts CPU time: a spinning tool is killed, a waiting one is not, so a
// loaded machine (a VM beside the suites) fails no case by the wall clock.
t.test('the time cap is CPU time', async (t) => {
  const dir = t.testdir({});
  const spin = join(dir, 'spin.js');
  writeFileSync(spin, 'for (;;);\n');
  const sleep = join(dir, 'sleep.js');
  writeFileSync(sleep, 'setTimeout(() => process.exit(0), 2500);\n');
  const spun = await runCase(spin, { name: 'spin', args: [], exit: 0, seconds: 1 }, dir);
  t.equal(spun.killed, 'time', 'a process spinning past 1 s of CPU is killed');
  t.ok(spun.cpuSeconds > 1, `it had used ${spun.cpuSeconds} s of CPU`);
  const slept = await runCase(sleep, { name: 'sleep', args: [], exit: 0, seconds: 1 }, dir);
  t.equal(slept.killed, null, 'a process waiting 2.5 s with little CPU is not');
  t.equal(slept.code, 0);
  t.ok(slept.seconds >= 2.4, `it ran its 2.5 s (${slept.seconds.toFixed(2)} s)`);
});
