import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCommitOption } from '../../lib/test/fixtures/commit-option.js';

t.test("--commit build/<variant>/commit.json: the ref of ostree-commit's record", async (t) => {
  checkCommitOption(t, fileURLToPath(new URL('../dist/bin.js', import.meta.url)), {
    args: (dir) => {
      // An empty archive repository: the ref is looked up, and not found.
      writeFileSync(join(dir, 'config'), '[core]\nrepo_version=1\nmode=archive-z2\n');
      return ['--repo', dir, '--output', `oci:${join(dir, 'oci')}`];
    },
    usesRef: { status: 1, stderr: /no ref debian\/13\/x86_64\/from-record/ },
  });
});
