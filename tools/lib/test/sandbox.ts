import t from 'tap';
import { bwrapArgs, sandboxRun } from '../src/sandbox.js';
import { toolboxRoot, toolboxRun, cacheDir } from '../src/toolbox.js';

t.test('bwrap arguments: no network by default, binds at the same path', async (t) => {
  const args = bwrapArgs({ root: '/tree', binds: ['/work/out'], roBinds: ['/work/in'], cwd: '/work', env: { A: 'b' } });
  t.same(args.slice(0, 3), ['--bind', '/tree', '/']);
  t.ok(args.includes('--unshare-net'));
  t.match(args.join(' '), /--bind \/work\/out \/work\/out/);
  t.match(args.join(' '), /--ro-bind \/work\/in \/work\/in/);
  t.match(args.join(' '), /--setenv A b/);
  t.match(args.join(' '), /--chdir \/work/);
  const tree = t.testdir({ usr: { bin: {} }, etc: {}, dev: {} });
  const { symlinkSync } = await import('node:fs');
  symlinkSync('usr/bin', `${tree}/bin`);
  const net = bwrapArgs({ root: tree, network: true, readOnlyRoot: true });
  t.notOk(net.includes('--unshare-net'));
  t.same(net.slice(0, 8), ['--tmpfs', '/', '--symlink', 'usr/bin', '/bin', '--ro-bind', `${tree}/etc`, '/etc']);
  t.same(net.slice(8, 11), ['--ro-bind', `${tree}/usr`, '/usr'], 'dev is not bound from the tree');
  t.same(net.slice(11, 15), ['--dir', '/var/tmp', '--dir', '/run']);
  t.match(net.join(' '), /--ro-bind \/etc\/resolv.conf/);

  // The host's proxy settings reach a sandbox with the network, and only that one.
  const saved = process.env.http_proxy;
  process.env.http_proxy = 'http://proxy.example:3128';
  t.teardown(() => (saved === undefined ? delete process.env.http_proxy : (process.env.http_proxy = saved)));
  t.match(bwrapArgs({ root: tree, network: true }).join(' '), /--setenv http_proxy http:\/\/proxy\.example:3128/);
  t.notMatch(bwrapArgs({ root: tree }).join(' '), /http_proxy/);
});

t.test('a real sandbox has no network interfaces but loopback', async (t) => {
  const r = await sandboxRun({ root: '/', readOnlyRoot: true }, 'sh', [
    '-c',
    'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; echo "$PATH"',
  ]);
  t.match(r.stdout, /^lo\n/);
  t.notMatch(r.stdout, /eth|ens|enp/);
  const w = await sandboxRun({ root: '/', readOnlyRoot: true }, 'sh', ['-c', 'touch /usr/should-fail']).catch(
    (e: unknown) => e,
  );
  t.match(w, { code: 'command-failed' });
});

t.test('toolbox selection follows DEBIAN_ATOMIC_TOOLBOX', async (t) => {
  const saved = process.env.DEBIAN_ATOMIC_TOOLBOX;
  t.teardown(() => {
    if (saved === undefined) delete process.env.DEBIAN_ATOMIC_TOOLBOX;
    else process.env.DEBIAN_ATOMIC_TOOLBOX = saved;
  });
  process.env.DEBIAN_ATOMIC_TOOLBOX = 'none';
  t.equal(toolboxRoot(), undefined);
  t.equal((await toolboxRun('echo', ['host'])).stdout, 'host\n');
  process.env.DEBIAN_ATOMIC_TOOLBOX = '/';
  t.equal(toolboxRoot(), '/');
  const dir = t.testdir({ f: 'x' });
  const r = await toolboxRun('sh', ['-c', 'cat f; echo y > g'], { binds: [dir], cwd: dir, env: { K: 'v' } });
  t.equal(r.stdout, 'x');
  process.env.DEBIAN_ATOMIC_TOOLBOX = dir; // no usr/bin: not a toolbox
  t.equal(toolboxRoot(), undefined);
  t.match(cacheDir(), /debian-atomic$/);
});
