/**
 * Hostile input, as an attacker or a careless user would give it: each case runs the built
 * hwdetect in its own directory with a time and a memory cap, and must end with a clear
 * answer (exit 0, or exit 2 naming what is wrong), never a hang, a runaway read, an
 * internal error or a line injected into a file the system reads.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostileSuite, type HostileCase, type HostileFile } from '../../lib/test/fixtures/hostile.js';

// Each case is a process start (about 0.3 s, several times that on a loaded machine).
t.setTimeout(300_000);

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** Seconds Node takes here to start hwdetect and print a schema: the floor under every case's time. */
function startupSeconds(): number {
  const start = process.hrtime.bigint();
  spawnSync(process.execPath, [bin, 'schema', 'facts'], { stdio: 'ignore' });
  return Number(process.hrtime.bigint() - start) / 1e9;
}
const STARTUP = startupSeconds();

const NET = {
  address: '0000:00:04.0',
  class: '0x020000',
  vendor: '0x8086',
  device: '0x10d3',
  subsystemVendor: '0x8086',
  subsystemDevice: '0x0000',
  kind: 'ethernet',
  driver: 'e1000e',
  modalias: 'pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00',
};

/** Valid facts for one machine with one network card; `over` replaces top-level keys. */
function facts(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: 1,
    pci: { gpu: [], audio: [], storage: [], network: [NET], other: [] },
    cpu: { vendor: 'intel', vendorId: 'GenuineIntel', model: null, count: 2, flags: [], level: null },
    memory: { totalMiB: 1024 },
    storage: { kinds: [], disks: [] },
    firmware: 'bios',
    virtualization: { type: 'none', evidence: [] },
    dmi: { sysVendor: null, productName: null, chassisType: null },
    iommu: { groups: 0 },
    kernel: { cmdline: [] },
    ...over,
  });
}

/** A valid plan (what 'hwdetect plan' writes); `over` replaces top-level keys. */
function plan(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: 1,
    policy: { name: 'p', spec: {} },
    target: 'machine',
    enabled: false,
    kernelArgs: [],
    modules: [],
    initramfsDrivers: [],
    packages: [],
    components: [],
    skipped: [],
    deferred: [],
    ...over,
  });
}

/** A captured sysfs and procfs with one network card: the smallest real tree probe reads. */
function machine(over: Record<string, HostileFile> = {}): Record<string, HostileFile> {
  const dev = 'sys/bus/pci/devices/0000:00:04.0';
  return {
    [`${dev}/class`]: '0x020000\n',
    [`${dev}/vendor`]: '0x8086\n',
    [`${dev}/device`]: '0x10d3\n',
    [`${dev}/modalias`]: `${NET.modalias}\n`,
    'sys/block/vda/size': '2048\n',
    'proc/cpuinfo': 'processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu hypervisor\n',
    'proc/meminfo': 'MemTotal:  2048000 kB\n',
    'proc/cmdline': 'ro quiet\n',
    ...over,
  };
}
const PROBE = ['probe', '--sysfs', '{dir}/sys', '--proc', '{dir}/proc'];

const policyWithGlob = (glob: string) =>
  `packages:\n  - modalias: ${JSON.stringify(glob)}\n    packages: [nic-firmware]\n`;
const CATASTROPHIC = `pci:${'*?'.repeat(40)}Q`;

/** Facts of `n` PCI devices whose modalias is all zeros, and `globs` globs that scan each modalias again and again. */
function manyDevices(n: number): string {
  const modalias = 'pci:v00000000d00000000sv00000000sd00000000bc00sc00i00';
  const other = Array.from({ length: n }, (_, i) => ({
    ...NET,
    modalias,
    address: `0000:${(i >> 8).toString(16).padStart(2, '0')}:${((i >> 3) & 31).toString(16).padStart(2, '0')}.${i & 7}`,
  }));
  return facts({ pci: { gpu: [], audio: [], storage: [], network: [], other } });
}
function manyGlobs(globs: number): string {
  const rules = Array.from(
    { length: globs / 8 },
    (_, r) =>
      `  - modalias: [${Array.from({ length: 8 }, (_, i) => `"pci:*00000000Q${r * 8 + i}"`).join(', ')}]\n    packages: [xx]\n`,
  );
  return `packages:\n${rules.join('')}`;
}

const unchanged = (file: string, content: string) => (dir: string) => {
  const now = readFileSync(join(dir, file), 'utf8');
  if (now !== content) throw new Error(`${file} was changed: ${now.slice(0, 80)}`);
};

const cases: HostileCase[] = [
  // Catastrophic patterns: globs match in linear time and are validated when the policy is read.
  {
    name: 'glob: *?*?*?…Q, which backtracked for minutes as a RegExp, matches at once',
    args: ['plan', '--policy', 'p.yaml', '--facts', 'facts.json', '--list', 'packages'],
    files: { 'p.yaml': policyWithGlob(CATASTROPHIC), 'facts.json': facts() },
    exit: 0,
    // 5 s on top of Node's start-up (seconds on a loaded machine); the old RegExp ran for over 16 minutes.
    seconds: 5 + 2 * STARTUP,
  },
  {
    name: 'glob: reversed ranges, unterminated brackets, overlong globs are policy errors with their position (they were exit 0 for any hardware)',
    args: ['plan', '--policy', 'p.yaml', '--any-hardware'],
    files: {
      'p.yaml': `packages:\n  - modalias: ["pci:v[z-a]*", "pci:v0000[0-9", "pci:${'?'.repeat(300)}"]\n    packages: [nic-firmware]\n`,
    },
    exit: 2,
    stderr:
      /p\.yaml:2:16: packages\.0\.modalias\.0: invalid modalias glob "pci:v\[z-a\]\*": reversed range "z-a" at character 7[^]*p\.yaml:2:31: .*unterminated bracket expression at character 10[^]*p\.yaml:2:48: .*at most 256 characters/,
  },
  {
    name: 'glob: a reversed range on a machine (it was an internal error)',
    args: ['plan', '--policy', 'p.yaml', '--facts', 'facts.json'],
    files: {
      'p.yaml': `kernel-args:\n  when:\n    - match: {modalias: ["pci:*", "pci:v[9-0]*"]}\n      add: [quiet]\n`,
      'facts.json': facts(),
    },
    exit: 2,
    stderr: /p\.yaml:3:\d+: kernel-args\.when\.0\.match\.modalias\.1: invalid modalias glob .*reversed range "9-0"/,
  },
  {
    name: 'glob: a policy × facts product too large to match is stopped, with a reason',
    args: ['plan', '--policy', 'p.yaml', '--facts', 'facts.json'],
    files: { 'p.yaml': manyGlobs(600), 'facts.json': manyDevices(600) },
    exit: 2,
    stderr: /matching the policy's modalias globs against the 600 PCI devices .* stopped/,
  },
  {
    name: 'facts: a modalias that is not a PCI modalias (a megabyte to match globs against)',
    args: ['plan', '--policy', 'p.yaml', '--facts', 'facts.json'],
    files: {
      'p.yaml': policyWithGlob('pci:*0*0*0*0*0*0*0*0*0*0*Q'),
      'facts.json': facts({
        pci: {
          gpu: [],
          audio: [],
          storage: [],
          network: [{ ...NET, modalias: `pci:${'0'.repeat(1 << 20)}` }],
          other: [],
        },
      }),
    },
    exit: 2,
    stderr: /facts\.json:1:\d+: pci\.network\.0\.modalias: expected a PCI modalias/,
  },

  // Injection: what lands in kargs.d, modules-load.d and dracut.conf.d (shell) is one word, one line.
  {
    name: 'injection: kernel arguments with a NEL (U+0085) or 5000 characters in the policy',
    args: ['plan', '--policy', 'p.yaml', '--any-hardware'],
    files: { 'p.yaml': `kernel-args:\n  always: ["quiet\\u0085init=/bin/sh", a=${'x'.repeat(5000)}]\n` },
    exit: 2,
    stderr:
      /p\.yaml:2:12: kernel-args\.always\.0: a kernel argument must be one word: it contains a control character \(U\+0085\)[^]*kernel-args\.always\.1: a kernel argument is longer than 4096 characters/,
  },
  {
    name: 'injection: a plan whose kernel argument carries init= on a second line is not applied',
    args: ['apply', '--plan', 'plan.json', '--root', 'root'],
    files: {
      'plan.json': plan({ kernelArgs: [{ name: 'quiet\ninit=/bin/sh', because: 'always' }] }),
      root: { dir: true },
    },
    exit: 2,
    stderr: /plan\.json:1:\d+: kernelArgs\.0\.name: a kernel argument must be one word: it contains a newline/,
    after: (dir) => {
      if (existsSync(join(dir, 'root/usr'))) throw new Error('apply wrote into the root');
    },
  },
  {
    name: 'injection: a plan with a second line in a module name or a reason (modules-load.d), shell in its policy name (dracut.conf.d)',
    args: ['apply', '--plan', '-', '--root', 'root'],
    stdin: plan({
      policy: { name: 'p\nadd_drivers+=" $(reboot) "', spec: {} },
      modules: [
        { name: 'overlay\nevil', because: 'always' },
        { name: 'overlay', because: 'x\nevil' },
      ],
      initramfsDrivers: [{ name: 'nvme', because: 'always' }],
    }),
    files: { root: { dir: true } },
    exit: 2,
    stderr:
      /<stdin>:1:\d+: policy\.name: expected a name of letters, digits[^]*modules\.0\.name: expected a kernel module name[^]*modules\.1\.because: a reason must be one line: it contains a newline/,
    after: (dir) => {
      if (existsSync(join(dir, 'root/usr'))) throw new Error('apply wrote into the root');
    },
  },
  {
    name: 'injection: a policy file name that is not a name (it becomes the plan and comment header name)',
    args: ['plan', '--policy', 'my policy.yaml', '--any-hardware'],
    files: { 'my policy.yaml': 'modules: {always: [overlay]}\n' },
    exit: 2,
    stderr: /my policy\.yaml: the policy has no 'name' and its file name "my policy" is not one/,
  },

  // Unbounded reads: probe reads regular files only, each within its bound.
  {
    name: 'read: a FIFO as /proc/cpuinfo (it hung)',
    args: PROBE,
    files: machine({ 'proc/cpuinfo': { fifo: true } }),
    exit: 2,
    stderr: /proc\/cpuinfo: a FIFO, expected a regular file/,
  },
  {
    name: 'read: a FIFO as a sysfs attribute',
    args: PROBE,
    files: machine({ 'sys/bus/pci/devices/0000:00:04.0/class': { fifo: true } }),
    exit: 2,
    stderr: /0000:00:04\.0\/class: a FIFO, expected a regular file/,
  },
  {
    name: 'read: /dev/zero as meminfo (it streamed forever)',
    args: PROBE,
    files: machine({ 'proc/meminfo': { symlink: '/dev/zero' } }),
    exit: 2,
    stderr: /proc\/meminfo: a character device, expected a regular file/,
  },
  {
    name: 'read: a cpuinfo over 64 MiB is refused before it is read',
    args: PROBE,
    files: machine({ 'proc/cpuinfo': Buffer.alloc((64 << 20) + 1, 'a') }),
    exit: 2,
    stderr: /proc\/cpuinfo: larger than 67108864 bytes, refusing to read it/,
  },
  {
    name: 'read: a sysfs attribute over 1 MiB (it went into the facts)',
    args: PROBE,
    files: machine({ 'sys/class/dmi/id/product_name': 'x'.repeat((1 << 20) + 1) }),
    exit: 2,
    stderr: /product_name: larger than 1048576 bytes/,
  },
  {
    name: 'read: facts on stdin over the bound (/dev/zero piped in)',
    args: ['plan', '--policy', 'p.yaml', '--facts', '-'],
    files: { 'p.yaml': '{}\n' },
    stdin: `{"version": 1, "pad": "${' '.repeat(3 << 20)}"}`,
    exit: 2,
    stderr: /<stdin>: larger than 2097152 bytes, refusing to read it/,
  },
  {
    name: 'read: a policy over 512 KiB',
    args: ['plan', '--policy', 'p.yaml', '--any-hardware'],
    files: { 'p.yaml': `# ${'x'.repeat(600 << 10)}\n{}\n` },
    exit: 2,
    stderr: /p\.yaml: file larger than 524288 bytes/,
  },
  {
    name: 'read: a FIFO where apply compares its output (it hung), replaced',
    args: ['apply', '--plan', 'plan.json', '--root', 'root'],
    files: {
      'plan.json': plan({ modules: [{ name: 'overlay', because: 'always' }] }),
      'root/usr/lib/modules-load.d/hwdetect.conf': { fifo: true },
    },
    exit: 0,
    stdout: /"written":\s*\[\s*"usr\/lib\/modules-load\.d\/hwdetect\.conf"/,
    after: (dir) => {
      if (!lstatSync(join(dir, 'root/usr/lib/modules-load.d/hwdetect.conf')).isFile())
        throw new Error('the FIFO is still there');
    },
  },

  // Outputs: a path that cannot take the output is a usage error; the previous output stays.
  {
    name: 'output: -o naming a directory (it was an internal error)',
    args: [...PROBE, '-o', 'out'],
    files: machine({ out: { dir: true } }),
    exit: 2,
    stderr: /-o out: is a directory, expected a file name/,
  },
  {
    name: 'output: -o below a regular file',
    args: ['plan', '--policy', 'p.yaml', '--any-hardware', '-o', 'file/plan.json'],
    files: { 'p.yaml': '{}\n', file: 'not a directory\n' },
    exit: 2,
    stderr: /-o file\/plan\.json: cannot write: a component of the path is not a directory/,
  },
  {
    name: 'output: a policy refused at read leaves the previous -o output as it was',
    args: ['plan', '--policy', 'p.yaml', '--any-hardware', '-o', 'plan.json'],
    files: { 'p.yaml': policyWithGlob('pci:v[z-a]*'), 'plan.json': 'previous\n' },
    exit: 2,
    stderr: /reversed range/,
    after: unchanged('plan.json', 'previous\n'),
  },
  {
    name: 'output: check --state-dir naming a regular file',
    args: ['check', '--policy', 'p.yaml', '--state-dir', 'state', '--sysfs', 'sys', '--proc', 'proc'],
    files: machine({ 'p.yaml': '{}\n', state: 'a file\n' }),
    exit: 2,
    stderr: /--state-dir state: not a directory/,
  },
];

/**
 * probe → plan on hostile captures: whatever a tree says, probe writes facts that
 * `plan --facts` accepts (it leaves out or normalises what no machine reports, with a
 * warning), or refuses the tree. Before, plan refused what probe wrote.
 */
const roundTrip = (files: Record<string, HostileFile>, warnings: RegExp[], name: string): HostileCase => ({
  name: `probe → plan: ${name}`,
  args: [...PROBE, '-o', 'facts.json'],
  files: { ...machine(files), 'p.yaml': policyWithGlob('pci:v00008086d*') },
  exit: 0,
  // Every warning, in any order.
  stderr: new RegExp(warnings.map((w) => `(?=[\\s\\S]*${w.source})`).join('')),
  after: (dir) => {
    const r = spawnSync(
      process.execPath,
      [bin, 'plan', '--policy', 'p.yaml', '--facts', 'facts.json', '--list', 'packages'],
      { cwd: dir, encoding: 'utf8' },
    );
    if (r.status !== 0 || r.stdout !== 'nic-firmware\n')
      throw new Error(`plan refused the facts probe wrote (exit ${r.status}): ${r.stderr}`);
  },
});
const DEV = 'sys/bus/pci/devices/0000:00:04.0';
const pciDevice = (address: string, ids: Record<string, string>) =>
  Object.fromEntries(Object.entries(ids).map(([k, v]) => [`sys/bus/pci/devices/${address}/${k}`, `${v}\n`]));
cases.push(
  roundTrip(
    {
      ...pciDevice('0000:00:05.0', { class: '0x020000', vendor: `0x${'9'.repeat(300)}`, device: '0x1' }),
      ...pciDevice('0000:00:06.0', { class: '0x1020000', vendor: '0x8086', device: '0x1' }),
      ...pciDevice(`${'f'.repeat(200)}:00:00.0`, { class: '0x020000', vendor: '0x8086', device: '0x1' }),
      [`${DEV}/subsystem_vendor`]: '0x123456789\n',
      [`${DEV}/modalias`]: `usb:${'x'.repeat(5000)}\n`,
      [`${DEV}/driver`]: { symlink: '../../drivers/e1000e\nevil' },
    },
    [
      /PCI device 0000:00:05\.0: .*skipped/,
      /PCI device 0000:00:06\.0: .*skipped/,
      /"f+:00:00\.0" is not a PCI address, skipped/,
      /modalias: not a PCI modalias, rebuilt from the ids/,
      /driver \(the driver name\): contains a newline/,
    ],
    'PCI ids of 300 digits, a class over 24 bits, a subsystem id over 16 bits, a directory that is not an address, a modalias that is not PCI, a driver named with a newline',
  ),
  roundTrip(
    {
      'sys/block/vda/size': `${'9'.repeat(40)}\n`,
      'sys/block/vd\nx/size': '8\n',
      'sys/devices/system/cpu/online': '0-3,5-1,0-99999999999\n',
      'proc/meminfo': `MemTotal: ${'9'.repeat(300)} kB\n`,
    },
    [
      /vda\/size: 9+\.\.\. sectors is not a disk size/,
      /disk "vd\\nx"\): contains a newline/,
      /MemTotal is not a number of kB/,
    ],
    'a disk of 10^40 sectors, a disk name with a newline, reversed and impossible CPU ranges, a 300-digit MemTotal',
  ),
  roundTrip(
    {
      'sys/class/dmi/id/chassis_type': `${'9'.repeat(300)}\n`,
      'sys/class/dmi/id/sys_vendor': 'QEMU\u0001\n',
      'proc/cpuinfo': `processor\t: 0\nvendor_id\t: ${'G'.repeat(1000)}\nmodel name\t: ${'m'.repeat(1000)}\nflags\t\t: ${'x'.repeat(70000)}\n`,
      'proc/cmdline': 'ro "a\tb" quiet\n',
    },
    [
      /sys_vendor \(the DMI vendor\): contains a control character/,
      /vendor_id\): longer than 256 characters/,
      /model name\): longer than 256/,
      /the flags line is longer than 65536 characters/,
      /argument .*contains a tab/,
    ],
    'a 300-digit chassis type, a control character in the DMI vendor, a 1000-character CPU vendor and model, a 70 kB flags line, a tab in a quoted kernel argument',
  ),
);

t.test('hostile input', async (t) => {
  await hostileSuite(t, bin, cases);
});

/** CPU time and state of a process (/proc/PID/stat), or null when it is gone. */
function cpu(pid: number): { ticks: number; state: string } | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /s, '')
      .split(' ');
    return { state: fields[0]!, ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null;
  }
}

/** Until the process sleeps without using CPU for a while: hwdetect is up and waiting for its input. */
async function idle(pid: number): Promise<void> {
  let last = -1;
  for (let i = 0, still = 0; i < 300 && still < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = cpu(pid);
    if (now === null) return;
    still = now.state === 'S' && now.ticks === last ? still + 1 : 0;
    last = now.ticks;
  }
}

/** Ctrl-C (130) or SIGTERM while hwdetect waits for its input: it stops at once. */
t.test('signals: interrupted while reading stdin', async (t) => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const child = spawn(
      process.execPath,
      [
        bin,
        'plan',
        '--policy',
        fileURLToPath(new URL('../../../variants/hardware/hwdetect-server.yaml', import.meta.url)),
        '--facts',
        '-',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.write('{"version": 1,');
    await idle(child.pid!);
    const sent = Date.now();
    child.kill(signal);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    t.equal(code, 130, `${signal}: exit 130`);
    t.ok(Date.now() - sent < 2000, `${signal}: within 2 s`);
    t.match(stderr, new RegExp(`interrupted \\(${signal}\\)`));
  }
});
