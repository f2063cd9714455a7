/**
 * Hostile trees and arguments for ostree-commit: the real tool (dist/bin.js), one process per
 * case, capped in time and memory (tools/lib's harness). The treefile recorded in the tree is read
 * bounded and checked to treefile-lint's grammar before ostree is ever run: each case is an input
 * or usage error (exit 2), and no repository is created.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostileSuite, type HostileCase, type HostileFile } from '../../lib/test/fixtures/hostile.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (tsc -b tools/ostree-commit)`);
t.setTimeout(300_000);

/** A unified tree (usr, no /etc) as usr-unify leaves it. */
const TREE: Record<string, HostileFile> = {
  'tree/usr/bin/hello': '#!/bin/sh\n',
  'tree/usr/etc/os-release': 'ID=debian\n',
};
const TREEFILE = 'tree/usr/share/debian-atomic/treefile.json';
const args = ['--repo', '{dir}/repo', '--quiet', '{dir}/tree'];
const env = { SOURCE_DATE_EPOCH: '1763812800' };
const noRepo = (dir: string) => {
  if (existsSync(join(dir, 'repo'))) throw new Error('a repository was created');
};
const c = (name: string, treefile: HostileFile, stderr: RegExp, extra: Partial<HostileCase> = {}): HostileCase => ({
  name,
  args,
  env,
  files: { ...TREE, [TREEFILE]: treefile },
  exit: 2,
  stderr,
  after: noRepo,
  ...extra,
});
const tf = (over: Record<string, unknown>) => JSON.stringify({ ref: 'debian/13/x86_64/test', ...over });

const cases: HostileCase[] = [
  c(
    'read: the in-tree treefile is a FIFO',
    { fifo: true },
    /^ostree-commit: \S*treefile\.json: cannot read: a FIFO, expected a regular file\n/,
  ),
  c(
    'read: a 50 MB in-tree treefile',
    Buffer.alloc(50 << 20, ' '),
    /treefile\.json: treefile larger than 4194304 bytes/,
  ),
  c(
    'read: an in-tree treefile that is not JSON (was exit 1)',
    '{"ref": ',
    /^ostree-commit: \S*treefile\.json: not valid JSON\n/,
  ),
  c(
    "read: an in-tree treefile linking to the host's /etc/passwd",
    { symlink: '/etc/passwd' },
    /treefile\.json: cannot read: a symbolic link, expected a regular file/,
  ),
  c(
    'structure: add-commit-metadata nested 1,000,000 deep (JSON.stringify overflowed)',
    `{"ref": "a", "add-commit-metadata": {"x": ${'['.repeat(1e6)}${']'.repeat(1e6)}}}`,
    /treefile\.json: JSON nested deeper than 64 levels/,
  ),
  c('injection: a newline in the ref', tf({ ref: 'debian/13\nx' }), /treefile\.json: ref: not a valid OSTree ref/),
  c(
    'injection: a version prefix that ends the os-release quote',
    tf({ 'automatic-version-prefix': "13'\nID=evil" }),
    /automatic-version-prefix: expected at most 64 letters/,
  ),
  c(
    'injection: a newline in mutate-os-release',
    tf({ 'mutate-os-release': '13\nID=evil' }),
    /mutate-os-release: must be one line: it contains a newline/,
  ),
  c(
    'injection: "=" in a commit metadata key',
    tf({ 'add-commit-metadata': { 'version=99': 'x' } }),
    /add-commit-metadata: "version=99": not a valid metadata key/,
  ),
  c('size: a 1 MB ref', tf({ ref: 'a'.repeat(1 << 20) }), /ref: a ref is at most 256 characters/),
  c(
    'size: a metadata value of 1 MB (past the 128 KiB limit of one argument)',
    tf({ 'add-commit-metadata': { big: 'x'.repeat(1 << 20) } }),
    /add-commit-metadata\.big: larger than 65536 characters as JSON/,
  ),
  c('usage: --ref with a newline', tf({}), /^ostree-commit: --ref "debian\\n13": not a valid OSTree ref/, {
    args: ['--repo', '{dir}/repo', '--ref', 'debian\n13', '{dir}/tree'],
  }),
  c(
    'usage: SOURCE_DATE_EPOCH=1e300 (no date, no version)',
    tf({}),
    /SOURCE_DATE_EPOCH=1e300: expected seconds since 1970/,
    { env: { SOURCE_DATE_EPOCH: '1e300' } },
  ),
];

t.test('hostile input', async (t) => {
  await hostileSuite(t, bin, cases);
});
