import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCommitOption } from '../../lib/test/fixtures/commit-option.js';

t.test("--commit build/<variant>/commit.json: the ref of ostree-commit's record", async (t) => {
  checkCommitOption(t, fileURLToPath(new URL('../dist/bin.js', import.meta.url)), {
    args: (dir) => ['--repo', dir, '--output', join(dir, 'disk.qcow2')],
    usesRef: { status: 1, stderr: /no ref debian\/13\/x86_64\/from-record/ },
  });
});
