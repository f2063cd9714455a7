import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootCheck, checkKargs } from '../src/check.js';
import { FactsSchema } from '../src/facts.js';
import { makePlan, PlanSchema } from '../src/plan.js';
import { loadPolicy, PolicySchema } from '../src/policy.js';
import { extractCapture, POLICIES_DIR } from './fixtures/capture.js';

t.test('boot check on this machine: reports iommu=pt with the command, writes the state', async (t) => {
  const c = extractCapture(t, 'firecracker-vm');
  const state = join(c.dir, 'run/hwdetect');
  const res = await bootCheck(await loadPolicy(join(POLICIES_DIR, 'hwdetect-server.yaml')), state, c);
  t.same(res.report, {
    policy: 'hwdetect-server',
    wanted: ['iommu=pt'],
    missing: ['iommu=pt'],
    conflicting: [],
    commands: ['ostree admin kargs edit-in-place --append-if-missing=iommu=pt'],
  });
  t.same(res.messages, [
    'kernel arguments missing (policy hwdetect-server): iommu=pt',
    'to apply, run: ostree admin kargs edit-in-place --append-if-missing=iommu=pt',
  ]);
  t.same(res.warnings, []);
  const json = (f: string) => JSON.parse(readFileSync(join(state, f), 'utf8')) as unknown;
  t.ok(FactsSchema.safeParse(json('facts.json')).success);
  t.ok(PlanSchema.safeParse(json('plan.json')).success);
  t.same(json('report.json'), res.report);
});

t.test('nothing to report when the command line has the arguments', async (t) => {
  const c = extractCapture(t, 'qemu-q35-tcg-uefi');
  const loaded = {
    name: 'p',
    policy: PolicySchema.parse({
      'kernel-args': { always: ['quiet', 'console=ttyS0'], when: [{ match: { firmware: 'uefi' }, add: ['panic=-1'] }] },
    }),
  };
  const res = await bootCheck(loaded, undefined, c);
  t.same(res.report.missing, []);
  t.same(res.report.commands, []);
  t.same(res.messages, []);
});

t.test('a different value is a conflict, with set-kargs', async (t) => {
  const loaded = { name: 'p', policy: PolicySchema.parse({ 'kernel-args': { always: ['panic=10', 'quiet'] } }) };
  const c = extractCapture(t, 'qemu-q35-tcg-uefi');
  const res = await bootCheck(loaded, undefined, c);
  t.same(res.report.conflicting, [{ want: 'panic=10', have: ['panic=-1'] }]);
  t.same(res.messages, [
    'kernel argument panic=10 wanted (policy p), booted with panic=-1',
    'to apply, run: ostree admin instutil set-kargs --merge --replace=panic=10',
  ]);
  t.same(checkKargs(makePlan(loaded, null), ['panic=10', 'quiet']).commands, []);
});
