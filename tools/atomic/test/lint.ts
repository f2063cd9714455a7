/** `atomic container lint` on trees made here: a clean one says nothing, each problem its finding. */
import t from 'tap';
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { formatFindings, lintRoot, LINTS, MAX_PATHS } from '../src/lint.js';
import { main } from '../src/main.js';

async function lint(args: string[]) {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await main(['container', 'lint', ...args], { stdout });
  return { code, out };
}

const STATUS = [
  'Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 13.8\n',
  'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 2.41\n',
  'Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n',
].join('\n');

/** A tree as a derived image's last RUN sees it, with nothing to say about it. */
async function cleanTree(t: Parameters<Parameters<typeof t.test>[1]>[0]): Promise<string> {
  const root = t.testdir({
    boot: {},
    usr: {
      lib: {
        modules: { '6.12.48-amd64': { vmlinuz: 'kernel', 'initramfs.img': 'initrd' } },
        sysimage: {
          dpkg: {
            status: STATUS,
            info: {
              'base-files.list': '/etc/debian_version\n',
              'libc6:amd64.list': '/usr/lib\n',
              'gone.conffiles': '',
            },
          },
        },
        'sysusers.d': {
          'debian-atomic.conf':
            'g _svc 120\nu _svc 120:_svc "Service" /nonexistent /usr/sbin/nologin\ng adm 4\n# a comment\n',
        },
      },
    },
    etc: {
      passwd:
        'root:x:0:0:root:/root:/bin/sh\n_svc:x:120:120:Service:/nonexistent:/usr/sbin/nologin\nalice:x:1000:1000::/var/home/alice:/bin/sh\n',
      group: 'root:x:0:\nadm:x:4:\n_svc:x:120:\nalice:x:1000:\n',
    },
    var: { lib: { foo: {} }, cache: { apt: { 'lock-empty': '' } } },
  });
  await symlink('../../usr/lib/sysimage/dpkg', join(root, 'var/lib/dpkg'));
  await symlink('../run', join(root, 'var/run'));
  return root;
}

t.test('a clean tree: nothing to say, exit 0', async (t) => {
  const root = await cleanTree(t);
  t.same(await lintRoot(root), []);
  t.same(await lint(['--rootfs', root]), { code: 0, out: '' });
  t.same(JSON.parse((await lint(['--rootfs', root, '--json'])).out), []);
});

t.test('--list names every lint with its level', async (t) => {
  const r = await lint(['--list']);
  t.equal(r.code, 0);
  for (const l of LINTS) t.match(r.out, new RegExp(`^${l.name} +${l.level} +\\S`, 'm'), l.name);
  t.ok(
    LINTS.some((l) => l.name === 'kernel' && l.level === 'error') &&
      LINTS.some((l) => l.name === 'var-tmpfiles' && l.level === 'warning'),
  );
});

t.test('kernels: none, two, one without its initramfs', async (t) => {
  const root = await cleanTree(t);
  const modules = join(root, 'usr/lib/modules');
  await mkdir(join(modules, '6.13.0-amd64'));
  await writeFile(join(modules, '6.13.0-amd64/vmlinuz'), 'k2');
  let r = await lint(['--rootfs', root]);
  t.equal(r.code, 1, 'an error fails');
  t.match(r.out, /^error: kernel: 2 kernels in \/usr\/lib\/modules: a deployment boots exactly one/m);
  t.match(
    r.out,
    /^ {2}\/usr\/lib\/modules\/6\.12\.48-amd64\/vmlinuz\n {2}\/usr\/lib\/modules\/6\.13\.0-amd64\/vmlinuz$/m,
  );
  await rm(modules, { recursive: true });
  t.match(await lintRoot(root), [
    { lint: 'kernel', level: 'error', message: /^no kernel in \/usr\/lib\/modules/, paths: [] },
  ]);
  await mkdir(join(modules, '6.13.0-amd64'), { recursive: true });
  await writeFile(join(modules, '6.13.0-amd64/vmlinuz'), 'k2');
  t.match(await lintRoot(root), [
    {
      lint: 'kernel',
      message: /no \/usr\/lib\/modules\/6\.13\.0-amd64\/initramfs\.img beside the kernel/,
      paths: ['/usr/lib/modules/6.13.0-amd64/initramfs.img'],
    },
  ]);
});

t.test('/boot content, /var/run, /etc with /usr/etc', async (t) => {
  const root = await cleanTree(t);
  await writeFile(join(root, 'boot/vmlinuz-6.12.48-amd64'), 'k');
  await rm(join(root, 'var/run'));
  await mkdir(join(root, 'var/run/x'), { recursive: true });
  await mkdir(join(root, 'usr/etc'));
  const f = await lintRoot(root);
  t.match(f, [
    { lint: 'nonempty-boot', level: 'warning', paths: ['/boot/vmlinuz-6.12.48-amd64'] },
    { lint: 'var-run', level: 'error', paths: ['/var/run'] },
    { lint: 'etc-usretc', level: 'error', paths: ['/usr/etc'] },
  ]);
  t.equal(f.length, 3, "nothing else: /var/run's content is not counted as /var content");
});

t.test('/var content: dropped or copied only where absent; a warning, exit 0 unless --fatal-warnings', async (t) => {
  const root = await cleanTree(t);
  await mkdir(join(root, 'var/log/apt'), { recursive: true });
  await writeFile(join(root, 'var/log/apt/history.log'), 'Start-Date: …\n');
  await writeFile(join(root, 'var/log/empty.log'), '');
  await mkdir(join(root, 'var/lib/apt/lists'), { recursive: true });
  for (let i = 0; i < 7; i++)
    await writeFile(join(root, `var/lib/apt/lists/deb.debian.org_${i}_Packages`), 'Package: x\n');
  await writeFile(join(root, 'var/lib/foo/state'), 'state\n');
  await symlink('state', join(root, 'var/lib/foo/current'));
  // The base image presents its factory files in /var: unchanged, they are not the build's content; changed, they are.
  await mkdir(join(root, 'usr/share/factory/var/lib/pam'), { recursive: true });
  await mkdir(join(root, 'var/lib/pam'), { recursive: true });
  for (const f of ['seen', 'auth']) await writeFile(join(root, 'usr/share/factory/var/lib/pam', f), 'base\n');
  await writeFile(join(root, 'var/lib/pam/seen'), 'base\n');
  await writeFile(join(root, 'var/lib/pam/auth'), 'edited\n');
  const r = await lint(['--rootfs', root]);
  t.equal(r.code, 0, 'warnings only');
  t.equal(
    r.out,
    [
      'warning: var-tmpfiles: 8 file(s) in /var are dropped by the import (logs, caches, apt lists): a machine never gets them; clean them in the RUN that makes them, or make them at boot',
      '  /var/lib/apt/lists/deb.debian.org_0_Packages',
      '  /var/lib/apt/lists/deb.debian.org_1_Packages',
      '  /var/lib/apt/lists/deb.debian.org_2_Packages',
      '  /var/lib/apt/lists/deb.debian.org_3_Packages',
      '  /var/lib/apt/lists/deb.debian.org_4_Packages',
      '  …and 3 more',
      'warning: var-tmpfiles: 2 file(s) in /var are copied to a machine only where it has none (/usr/share/factory/var and tmpfiles.d C): an update never changes them; keep such content in /usr, or make it at boot',
      '  /var/lib/foo/state',
      '  /var/lib/pam/auth',
      '',
    ].join('\n'),
  );
  const all = await lint(['--rootfs', root, '--no-truncate', '--fatal-warnings']);
  t.equal(all.code, 1, '--fatal-warnings');
  t.match(all.out, /\/var\/lib\/apt\/lists\/deb\.debian\.org_6_Packages\n {2}\/var\/log\/apt\/history\.log\n/);
  t.notMatch(all.out, /empty\.log|lock-empty/, 'empty files (locks) are not content');
  const json = JSON.parse((await lint(['--rootfs', root, '--json'])).out) as {
    lint: string;
    level: string;
    message: string;
    paths: string[];
  }[];
  t.same(
    json.map((f) => [f.lint, f.level, f.paths.length]),
    [
      ['var-tmpfiles', 'warning', 8],
      ['var-tmpfiles', 'warning', 2],
    ],
    'JSON lists every path',
  );
  t.same((await lint(['--rootfs', root, '--skip', 'var-tmpfiles'])).out, '', '--skip');
});

t.test(
  'the dpkg database: a real /var/lib/dpkg, a wrong link, no status, missing lists, half-installed packages',
  async (t) => {
    const root = await cleanTree(t);
    const db = join(root, 'usr/lib/sysimage/dpkg');
    await writeFile(
      join(db, 'status'),
      `${STATUS}\nPackage: added\nStatus: install ok installed\nArchitecture: all\n\nPackage: half\nStatus: install ok half-configured\nArchitecture: amd64\n`,
    );
    t.match(await lintRoot(root), [
      {
        lint: 'dpkg-database',
        level: 'error',
        message: /^1 package\(s\) not fully installed/,
        paths: ['half (half-configured)'],
      },
      {
        lint: 'dpkg-database',
        level: 'error',
        message: /^1 installed package\(s\) have no file list: the database disagrees with the files/,
        paths: ['/usr/lib/sysimage/dpkg/info/added.list'],
      },
    ]);
    await writeFile(join(db, 'status'), STATUS);

    await rm(join(root, 'var/lib/dpkg'));
    await symlink('/var/lib/elsewhere', join(root, 'var/lib/dpkg'));
    t.match(await lintRoot(root), [{ lint: 'dpkg-database', message: /does not point to \/usr\/lib\/sysimage\/dpkg/ }]);
    await rm(join(root, 'var/lib/dpkg'));
    await symlink('/usr/lib/sysimage/dpkg', join(root, 'var/lib/dpkg'));
    t.same(await lintRoot(root), [], 'an absolute link is the same link');

    await rm(join(root, 'var/lib/dpkg'));
    await mkdir(join(root, 'var/lib/dpkg'));
    await writeFile(join(root, 'var/lib/dpkg/status'), STATUS);
    const r = await lint(['--rootfs', root]);
    t.equal(r.code, 1);
    t.match(
      r.out,
      /^error: dpkg-database: \/var\/lib\/dpkg is a directory, not the link to \/usr\/lib\/sysimage\/dpkg/m,
    );
    t.notMatch(r.out, /var-tmpfiles/, 'its files are the database, not /var content');

    await rm(join(root, 'var/lib/dpkg'), { recursive: true });
    await rm(db, { recursive: true });
    t.match(await lintRoot(root), [
      { lint: 'dpkg-database', message: /^no dpkg database in \/usr\/lib\/sysimage\/dpkg/ },
    ]);
  },
);

t.test('system users and groups without sysusers.d entries', async (t) => {
  const root = await cleanTree(t);
  await writeFile(
    join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\n_svc:x:120:120:Service:/nonexistent:/usr/sbin/nologin\n_new:x:121:121::/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\nalice:x:1000:1000::/var/home/alice:/bin/sh\n',
  );
  await writeFile(
    join(root, 'etc/group'),
    'root:x:0:\nadm:x:4:\n_svc:x:120:\n_new:x:121:\nnogroup:x:65534:\nalice:x:1000:\n',
  );
  await mkdir(join(root, 'etc/sysusers.d'));
  await writeFile(join(root, 'etc/sysusers.d/local.conf'), 'g nogroup 65534\n');
  await writeFile(join(root, 'etc/sysusers.d/README'), 'u ignored\n');
  t.match(await lintRoot(root), [
    {
      lint: 'sysusers',
      level: 'warning',
      message: /^3 system user\(s\)\/group\(s\) .* have no sysusers\.d entry/,
      paths: ['user _new (121)', 'user nobody (65534)', 'group _new (121)'],
    },
  ]);
  await rm(join(root, 'etc/passwd'));
  await rm(join(root, 'etc/group'));
  t.same(await lintRoot(root), [], 'no accounts, nothing to compare');
});

t.test('usage errors; an unreadable directory is skipped, not fatal', async (t) => {
  await t.rejects(lint(['--rootfs', '/nonexistent/root']), {
    code: 'usage',
    message: /\/nonexistent\/root: not a directory/,
  });
  await t.rejects(lint(['--skip', 'nope']), {
    code: 'usage',
    message: /--skip nope: no such lint/,
    hint: /kernel, nonempty-boot/,
  });
  const root = await cleanTree(t);
  await chmod(join(root, 'var/lib/foo'), 0o000);
  t.same(await lintRoot(root), [], 'as root, still readable; as a user, skipped');
  await chmod(join(root, 'var/lib/foo'), 0o755);
  const many = Array.from({ length: MAX_PATHS + 5 }, (_, i) => `/p${i}`);
  t.match(formatFindings([{ lint: 'x', level: 'warning', message: 'm', paths: many }]), /…and 1000 more\n$/);
});
