import t from 'tap';
import { join } from 'node:path';
import type { Facts } from '../src/facts.js';
import { GlobBudget } from '../src/modalias.js';
import { describeMatch, evaluateMatch, GLOB_STEPS, makePlan, MAX_BECAUSE, PlanSchema, type Plan } from '../src/plan.js';
import { loadPolicy, PolicySchema, type LoadedPolicy } from '../src/policy.js';
import { probe } from '../src/probe.js';
import { CAPTURES, extractCapture, golden, POLICIES, POLICIES_DIR } from './fixtures/capture.js';

const variantPolicy = (name: string) => loadPolicy(join(POLICIES_DIR, `${name}.yaml`));
const inline = (spec: unknown, name = 'test'): LoadedPolicy => ({ name, policy: PolicySchema.parse(spec) });
const names = (entries: { name: string }[]) => entries.map((e) => e.name);
/** What a plan decides, without the embedded policy. */
const decisions = ({ policy: _policy, ...rest }: Plan) => rest;

async function captureFacts(t: Parameters<typeof extractCapture>[0], name: (typeof CAPTURES)[number]): Promise<Facts> {
  return probe(extractCapture(t, name)).facts;
}

t.test('plans for every capture and policy match the golden files', async (t) => {
  for (const capture of CAPTURES) {
    const facts = await captureFacts(t, capture);
    for (const policy of POLICIES) {
      const plan = makePlan(await variantPolicy(policy), facts);
      t.ok(PlanSchema.safeParse(plan).success, `${capture} × ${policy}: a valid plan`);
      const g = golden(`${capture}.${policy}.plan`, decisions(plan));
      t.equal(g.actual, g.expected, `${capture} × ${policy}: as recorded`);
    }
  }
  for (const policy of POLICIES) {
    const plan = makePlan(await variantPolicy(policy), null);
    const g = golden(`any-hardware.${policy}.plan`, decisions(plan));
    t.equal(g.actual, g.expected, `any hardware × ${policy}: as recorded`);
  }
});

t.test('server on this machine (Firecracker/KVM, virtio disk, AMD CPU)', async (t) => {
  const plan = makePlan(await variantPolicy('hwdetect-server'), await captureFacts(t, 'firecracker-vm'));
  t.equal(plan.target, 'machine');
  t.same(plan.kernelArgs, [{ name: 'iommu=pt', because: 'always' }]);
  t.same(names(plan.modules), ['overlay', 'br_netfilter']);
  t.same(names(plan.initramfsDrivers), ['virtio_pci', 'virtio_blk', 'virtio_scsi']);
  t.same(plan.packages, [
    { name: 'nodejs', component: 'main', because: 'enabled: hwdetect runs at boot' },
    { name: 'amd64-microcode', component: 'non-free-firmware', because: 'cpu-vendor amd' },
    { name: 'qemu-guest-agent', component: 'main', because: 'virtualization kvm' },
  ]);
  t.same(plan.components, ['main', 'non-free-firmware']);
  t.same(plan.deferred, []);
});

t.test('server on the QEMU guest: NVMe, SATA and virtio disks', async (t) => {
  const plan = makePlan(await variantPolicy('hwdetect-server'), await captureFacts(t, 'qemu-q35-tcg-uefi'));
  t.same(names(plan.initramfsDrivers), ['nvme', 'ahci', 'sd_mod', 'virtio_pci', 'virtio_blk', 'virtio_scsi']);
  t.same(names(plan.packages), ['nodejs', 'amd64-microcode', 'nvme-cli', 'smartmontools', 'qemu-guest-agent']);
  t.equal(plan.packages.find((p) => p.name === 'nvme-cli')!.because, 'storage nvme');
});

t.test('workstation on the QEMU guest: Bochs VGA is not a GPU vendor the policy knows', async (t) => {
  const plan = makePlan(await variantPolicy('hwdetect-workstation'), await captureFacts(t, 'qemu-q35-tcg-uefi'));
  t.same(plan.kernelArgs, []);
  t.same(
    names(plan.initramfsDrivers),
    ['nvme', 'ahci', 'sd_mod', 'virtio_pci', 'virtio_blk'],
    'no early-KMS driver for bochs',
  );
  t.same(
    names(plan.packages),
    ['nodejs', 'amd64-microcode', 'spice-vdagent', 'qemu-guest-agent'],
    'plain HDA (0403) needs no SOF firmware',
  );
});

t.test(
  'an image for any hardware: conditional drivers and packages in, conditional kargs and modules deferred',
  async (t) => {
    const server = makePlan(await variantPolicy('hwdetect-server'), null);
    t.equal(server.target, 'any-hardware');
    t.same(names(server.kernelArgs), ['iommu=pt']);
    t.same(server.deferred, [
      { section: 'kernel-args', items: ['intel_iommu=on'], when: 'cpu-vendor intel and virtualization none' },
    ]);
    t.same(names(server.initramfsDrivers), ['nvme', 'ahci', 'sd_mod', 'virtio_pci', 'virtio_blk', 'virtio_scsi']);
    t.ok(names(server.packages).includes('intel-microcode') && names(server.packages).includes('amd64-microcode'));
    t.equal(
      server.packages.find((p) => p.name === 'firmware-realtek')!.because,
      'any hardware: when modalias pci:v000010ECd*sv*sd*bc02sc00i*',
    );

    const ws = makePlan(await variantPolicy('hwdetect-workstation'), null);
    t.same(ws.skipped, [
      {
        packages: ['nvidia-driver'],
        component: 'non-free',
        because:
          'any hardware: when modalias pci:v000010DEd*sv*sd*bc03sc*i* (component non-free not in allow-components)',
      },
    ]);
    t.same(ws.deferred, [
      { section: 'kernel-args', items: ['nvidia-drm.modeset=1', 'nvidia-drm.fbdev=1'], when: 'gpu-vendor nvidia' },
    ]);
    t.same(names(ws.initramfsDrivers).slice(0, 2), ['amdgpu', 'i915']);
    t.same(ws.components, ['main', 'non-free-firmware']);
  },
);

t.test('an NVIDIA GPU (the QEMU capture with its VGA swapped for an RTX 4090)', async (t) => {
  const facts = await captureFacts(t, 'qemu-q35-tcg-uefi');
  facts.pci.gpu[0] = {
    ...facts.pci.gpu[0]!,
    vendor: '0x10de',
    device: '0x2684',
    driver: 'nouveau',
    modalias: 'pci:v000010DEd00002684sv00001043sd000088E2bc03sc00i00',
  };
  const loaded = await variantPolicy('hwdetect-workstation');
  const plan = makePlan(loaded, facts);
  t.same(names(plan.kernelArgs), ['nvidia-drm.modeset=1', 'nvidia-drm.fbdev=1']);
  t.equal(plan.kernelArgs[0]!.because, 'gpu-vendor nvidia (0000:00:01.0)');
  t.ok(names(plan.packages).includes('firmware-nvidia-graphics'));
  t.same(
    plan.skipped.map((s) => s.packages),
    [['nvidia-driver']],
  );
  const allowed = {
    ...loaded,
    policy: { ...loaded.policy, 'allow-components': [...loaded.policy['allow-components'], 'non-free' as const] },
  };
  const withNonFree = makePlan(allowed, facts);
  t.same(withNonFree.skipped, []);
  t.same(
    withNonFree.packages.find((p) => p.name === 'nvidia-driver'),
    {
      name: 'nvidia-driver',
      component: 'non-free',
      because: 'modalias pci:v000010DEd*sv*sd*bc03sc*i* (0000:00:01.0)',
    },
  );
  t.same(withNonFree.components, ['main', 'non-free', 'non-free-firmware']);
});

t.test('each match condition', async (t) => {
  const facts = await captureFacts(t, 'qemu-q35-tcg-uefi');
  const holds = (match: object) => evaluateMatch(match, facts);
  t.same(
    holds({ 'cpu-vendor': 'amd', firmware: 'uefi' }),
    ['cpu-vendor amd', 'firmware uefi'],
    'all conditions must hold',
  );
  t.equal(holds({ 'cpu-vendor': 'amd', firmware: 'bios' }), undefined);
  t.same(holds({ 'cpu-flag': ['vmx', 'svm'] }), ['cpu-flag svm'], 'a list is any of');
  t.equal(holds({ 'cpu-flag': 'vmx' }), undefined);
  t.same(holds({ virtualization: 'vm' }), ['virtualization qemu'], 'vm: any hypervisor');
  t.equal(holds({ virtualization: 'none' }), undefined);
  t.same(holds({ storage: ['nvme', 'usb'] }), ['storage nvme']);
  t.equal(holds({ storage: 'usb' }), undefined);
  t.same(holds({ driver: 'snd-hda-intel' }), ['driver snd-hda-intel (0000:00:02.0)'], '- and _ alike in driver names');
  t.equal(holds({ driver: 'nouveau' }), undefined);
  t.same(holds({ 'gpu-vendor': '0x1234' }), ['gpu-vendor 0x1234 (0000:00:01.0)']);
  t.equal(holds({ 'gpu-vendor': ['amd', 'intel'] }), undefined);
  t.same(holds({ modalias: 'pci:v00008086d*bc02*' }), ['modalias pci:v00008086d*bc02* (0000:00:04.0)']);
  t.equal(holds({ modalias: 'usb:*' }), undefined);
  t.equal(describeMatch({ 'gpu-vendor': ['amd', 'intel'], storage: 'nvme' }), 'gpu-vendor amd|intel and storage nvme');
});

t.test('package rules: top-level modalias and match both hold; dedup keeps the first reason', async (t) => {
  const facts = await captureFacts(t, 'qemu-q35-tcg-uefi');
  const loaded = inline({
    'allow-components': ['main', 'contrib'],
    packages: [
      { packages: ['always-there'] },
      { modalias: 'pci:v00008086d*bc02*', match: { virtualization: 'qemu' }, packages: ['e1000e-in-qemu'] },
      { modalias: 'pci:v00008086d*bc02*', match: { virtualization: 'kvm' }, packages: ['e1000e-in-kvm'] },
      { match: { storage: 'nvme' }, packages: ['always-there', 'nvme-tool'], component: 'contrib' },
    ],
    modules: { always: ['a', 'a'], when: [{ match: { firmware: 'uefi' }, add: ['a', 'efi_pstore'] }] },
  });
  const plan = makePlan(loaded, facts);
  t.same(plan.packages, [
    { name: 'always-there', component: 'main', because: 'always' },
    {
      name: 'e1000e-in-qemu',
      component: 'main',
      because: 'modalias pci:v00008086d*bc02* (0000:00:04.0); virtualization qemu',
    },
    { name: 'nvme-tool', component: 'contrib', because: 'storage nvme' },
  ]);
  t.same(plan.modules, [
    { name: 'a', because: 'always' },
    { name: 'efi_pstore', because: 'firmware uefi' },
  ]);
  t.equal(plan.enabled, false);
  t.same(plan.components, ['main', 'contrib']);
  const any = makePlan(loaded, null);
  t.equal(any.packages[1]!.because, 'any hardware: when modalias pci:v00008086d*bc02* and virtualization qemu');
  t.same(any.deferred, [{ section: 'modules', items: ['a', 'efi_pstore'], when: 'firmware uefi' }]);
});

t.test('bounded: a reason is cut, the glob matching has a budget', async (t) => {
  const facts = await captureFacts(t, 'qemu-q35-tcg-uefi');
  const globs = Array.from({ length: 40 }, (_, i) => `pci:v00008086d*bc02*${'*'.repeat(i % 3)}`);
  const plan = makePlan(inline({ packages: [{ modalias: globs, packages: ['e1000e-tool'] }] }), facts);
  const because = plan.packages[0]!.because;
  t.equal(because.length, MAX_BECAUSE, 'a reason naming 40 globs is cut');
  t.match(because, /^modalias pci:v00008086d\*bc02\*\|.*\.\.\.$/);
  t.ok(PlanSchema.safeParse(plan).success);
  t.throws(() => evaluateMatch({ modalias: 'pci:*' }, facts, new GlobBudget(10)), {
    exitCode: 2,
    message: /modalias globs against the \d+ PCI devices of the facts takes more than/,
  });
  t.ok(evaluateMatch({ modalias: 'pci:*' }, facts, new GlobBudget(GLOB_STEPS)));
});

t.test('a plan read back names what apply writes with the grammar of its file', async (t) => {
  const plan = makePlan(inline({ 'kernel-args': { always: ['quiet'] }, modules: { always: ['overlay'] } }), null);
  t.ok(PlanSchema.safeParse(plan).success);
  const bad: [string, unknown][] = [
    ['kernelArgs', [{ name: 'quiet\ninit=/bin/sh', because: 'always' }]],
    ['kernelArgs', [{ name: 'two words', because: 'always' }]],
    ['modules', [{ name: 'overlay\nevil', because: 'always' }]],
    ['modules', [{ name: 'overlay', because: 'always\nevil' }]],
    ['initramfsDrivers', [{ name: 'nvme"; reboot; "', because: 'always' }]],
    ['packages', [{ name: 'Bad_Name', component: 'main', because: 'always' }]],
    ['policy', { name: 'p\nadd_drivers+=x', spec: {} }],
  ];
  for (const [key, value] of bad)
    t.notOk(PlanSchema.safeParse({ ...plan, [key]: value }).success, `${key}: ${JSON.stringify(value)}`);
});
