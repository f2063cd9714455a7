import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { loadPolicy, policyJsonSchema, PolicySchema } from '../src/policy.js';
import { POLICIES, POLICIES_DIR } from './fixtures/capture.js';

interface T {
  testdir(fixture?: object): string;
  equal(found: unknown, wanted: unknown, message?: string): boolean;
}

async function errorsOf(t: T, yaml: string): Promise<string[]> {
  const file = join(t.testdir({}), 'p.yaml');
  writeFileSync(file, yaml);
  try {
    await loadPolicy(file);
  } catch (err) {
    const e = err as { exitCode: number; summary: string; detail?: string };
    t.equal(e.exitCode, 2, 'a bad policy is invalid input');
    return [e.summary.replace('invalid policy: ', ''), ...(e.detail ? e.detail.split('\n') : [])].map((l) =>
      l.replace(file, 'p.yaml'),
    );
  }
  throw new Error('policy was accepted');
}

t.test("the variants' policies are valid", async (t) => {
  for (const name of POLICIES) {
    const { name: loadedName, policy } = await loadPolicy(join(POLICIES_DIR, `${name}.yaml`));
    t.equal(loadedName, name);
    t.equal(policy.enabled, true);
    t.ok(policy.packages.length > 5);
  }
  const server = (await loadPolicy(join(POLICIES_DIR, 'hwdetect-server.yaml'))).policy;
  t.same(server['kernel-args'].always, ['iommu=pt']);
  const ws = (await loadPolicy(join(POLICIES_DIR, 'hwdetect-workstation.yaml'))).policy;
  t.same(ws['allow-components'], ['main', 'non-free-firmware'], 'nvidia-driver (non-free) stays out unless allowed');
});

t.test('defaults fill an empty policy', async (t) => {
  const file = join(t.testdir({ 'e.yaml': '{}\n' }), 'e.yaml');
  const { policy, name } = await loadPolicy(file);
  t.equal(name, 'e');
  t.same(policy, {
    enabled: false,
    'allow-components': ['main'],
    'kernel-args': { always: [], when: [] },
    modules: { always: [], when: [] },
    'initramfs-drivers': { always: [], when: [] },
    packages: [],
  });
  const fromStdin = await loadPolicy('-', Readable.from(['enabled: true\n']));
  t.equal(fromStdin.name, 'stdin');
  t.equal(fromStdin.policy.enabled, true);
  const named = await loadPolicy('-', Readable.from(['name: hwdetect-server\n']));
  t.equal(named.name, 'hwdetect-server', 'a name key names the policy (the image keeps it as policy.json)');
  await t.rejects(loadPolicy('-', Readable.from(['name: two words\n'])), {
    message: /<stdin>:1:7: name: expected a name of letters, digits/,
  });
});

t.test('every problem is positioned, with what was expected and found', async (t) => {
  const errors = await errorsOf(
    t,
    `enabled: yes-please
allow-components: [main, nonfree]
kernel-arg:
  always: [iommu=pt]
kernel-args:
  always: ["bad arg"]
  when:
    - match: {gpu-vendor: nvidea, cpu-vendr: intel}
      add: [x=1]
    - match: {}
      add: [y]
modules:
  when:
    - match: {cpu-vendor: [intel, arm], storage: []}
      add: []
packages:
  - modalias: "pci v10de"
    packages: [Firmware_Bad]
    component: nonfree
  - packages: [ok]
    extra: 1
`,
  );
  t.same(
    errors,
    [
      'p.yaml:1:10: enabled: expected boolean, found the string "yes-please"',
      '  p.yaml:2:26: allow-components.1: expected one of "main", "contrib", "non-free", "non-free-firmware", found the string "nonfree"',
      "  p.yaml:3:1: unknown key 'kernel-arg' (did you mean 'kernel-args'?)",
      '  p.yaml:6:12: kernel-args.always.0: expected one kernel argument: name or name=value, no spaces outside quotes (found the string "bad arg")',
      '  p.yaml:8:27: kernel-args.when.0.match.gpu-vendor: expected a PCI vendor id like 0x10de or one of "nvidia", "amd", "intel" (found the string "nvidea")',
      "  p.yaml:8:35: unknown key 'cpu-vendr' (did you mean 'cpu-vendor'?)",
      '  p.yaml:10:14: kernel-args.when.1.match: a match needs at least one condition',
      '  p.yaml:14:35: modules.when.0.match.cpu-vendor.1: expected one of "intel", "amd", "other" (found the string "arm")',
      '  p.yaml:14:50: modules.when.0.match.storage: an empty list matches nothing (found a list)',
      '  p.yaml:15:12: modules.when.0.add: add at least one item (found a list)',
      '  p.yaml:17:15: packages.0.modalias: expected a modalias glob like pci:v000010DEd*sv*sd*bc03sc*i* (found the string "pci v10de")',
      '  p.yaml:18:16: packages.0.packages.0: expected a Debian package name (found the string "Firmware_Bad")',
      '  p.yaml:19:16: packages.0.component: expected one of "main", "contrib", "non-free", "non-free-firmware", found the string "nonfree"',
      "  p.yaml:21:5: unknown key 'extra'",
    ].map((l, i) => (i === 0 ? l : l.trimStart())),
  );
});

t.test('single mistakes', async (t) => {
  const cases: [string, string][] = [
    [
      'kernel-args:\n  when:\n    - match: {virtualization: 3}\n      add: [a]\n',
      'p.yaml:3:31: kernel-args.when.0.match.virtualization: expected one of "none", "kvm", "qemu", "xen", "vmware", "microsoft", "oracle", "amazon", "google", "vm-other", "vm", or a list of them (found number 3)',
    ],
    [
      'kernel-args:\n  when:\n    - match: {cpu-flag: vmz}\n      add: [a]\n',
      'p.yaml:3:25: kernel-args.when.0.match.cpu-flag: expected one of "hypervisor", "vmx", "svm", "aes", "avx", "avx2", "avx512f", "sse4_2", "sha_ni", "rdrand", "nx", "pdpe1gb" (found the string "vmz")',
    ],
    ['modules: [a]\n', 'p.yaml:1:10: modules: expected object, found a list'],
    [
      'a: [\n',
      'p.yaml:2:1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
    ['enabled: true\nenabled: false\n', 'p.yaml:2:1: YAML syntax: Map keys must be unique'],
  ];
  for (const [yaml, want] of cases) t.same((await errorsOf(t, yaml))[0], want, yaml);
  const typo = await errorsOf(t, 'packages:\n  - packges: [a]\n');
  t.ok(
    typo.includes("p.yaml:2:5: unknown key 'packges' (did you mean 'packages'?)"),
    'a misspelt key is named, next to the missing one',
  );
  await t.rejects(loadPolicy(join(t.testdir({}), 'missing.yaml')), {
    exitCode: 2,
    message: /cannot read: no such file/,
  });
});

t.test('the schema is JSON Schema', async (t) => {
  const schema = policyJsonSchema() as { properties: Record<string, unknown>; additionalProperties: boolean };
  t.equal(schema.additionalProperties, false, 'unknown keys are errors');
  t.same(Object.keys(schema.properties).sort(), Object.keys(PolicySchema.shape).sort());
  t.match(JSON.stringify(schema), /"pattern":"\^\(intel\|amd\|other\)\$"/);
});

t.test('globs, kernel arguments and names are checked when the policy is read', async (t) => {
  const cases: [string, RegExp][] = [
    [
      'packages:\n  - modalias: "pci:v[z-a]*"\n    packages: [xx]\n',
      /^p\.yaml:2:15: packages\.0\.modalias: invalid modalias glob "pci:v\[z-a\]\*": reversed range "z-a" at character 7/,
    ],
    [
      'packages:\n  - modalias: ["pci:*", "pci:v[0-9"]\n    packages: [xx]\n',
      /^p\.yaml:2:25: packages\.0\.modalias\.1: invalid modalias glob "pci:v\[0-9": unterminated bracket expression at character 6/,
    ],
    [
      `packages:\n  - modalias: "pci:${'?'.repeat(300)}"\n    packages: [xx]\n`,
      /^p\.yaml:2:15: packages\.0\.modalias: invalid modalias glob "pci:\?{76}\.\.\.": a modalias glob is at most 256 characters/,
    ],
    [
      'packages:\n  - modalias: "pci:v\\u0085*"\n    packages: [xx]\n',
      /^p\.yaml:2:15: packages\.0\.modalias: a modalias glob must not contain a control character \(U\+0085\)/,
    ],
    [
      'kernel-args:\n  always: ["quiet\\ninit=/bin/sh"]\n',
      /^p\.yaml:2:12: kernel-args\.always\.0: a kernel argument must be one word: it contains a newline \(U\+000A\)$/,
    ],
    ['kernel-args:\n  always: [""]\n', /^p\.yaml:2:12: kernel-args\.always\.0: a kernel argument must not be empty$/],
    [
      `kernel-args:\n  always: [a=${'x'.repeat(5000)}]\n`,
      /kernel-args\.always\.0: a kernel argument is longer than 4096 characters$/,
    ],
    [
      "kernel-args:\n  always: ['a=\"b']\n",
      /kernel-args\.always\.0: expected one kernel argument: name or name=value, no spaces outside quotes/,
    ],
    [`modules:\n  always: [${'m'.repeat(65)}]\n`, /modules\.always\.0: a kernel module name is at most 64 characters/],
    [
      `packages:\n  - packages: [${Array.from({ length: 2049 }, (_, i) => `p${i}`).join(', ')}]\n`,
      /^p\.yaml:1:1: \(top level\): a policy lists at most 2048 names in all .* this one has 2049/,
    ],
  ];
  for (const [yaml, want] of cases) {
    const errors = await errorsOf(t, yaml);
    t.equal(errors.length, 1, `one error for ${yaml.slice(0, 60)}`);
    t.match(errors[0], want);
  }
});

t.test('a policy without a name needs a file name that is one', async (t) => {
  const dir = t.testdir({ 'my policy.yaml': '{}\n', 'ok.yaml': '{}\n', 'named policy.yaml': 'name: named\n' });
  await t.rejects(loadPolicy(join(dir, 'my policy.yaml')), {
    exitCode: 2,
    message: /the policy has no 'name' and its file name "my policy" is not one/,
  });
  t.equal((await loadPolicy(join(dir, 'ok.yaml'))).name, 'ok');
  t.equal((await loadPolicy(join(dir, 'named policy.yaml'))).name, 'named');
  await t.rejects(loadPolicy('-', Readable.from([Buffer.alloc(600 << 10, ' ')])), {
    exitCode: 2,
    message: /<stdin>: larger than 524288 bytes/,
  });
});
