import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCommitOption } from '../../lib/test/fixtures/commit-option.js';

t.test("--live-commit build/installer/commit.json: the ref of ostree-commit's record", async (t) => {
  checkCommitOption(t, fileURLToPath(new URL('../dist/bin.js', import.meta.url)), {
    args: (dir) => {
      mkdirSync(join(dir, 'oci'), { recursive: true });
      writeFileSync(join(dir, 'oci/index.json'), '{}');
      return ['--live-repo', dir, '--oci', `oci:${join(dir, 'oci')}`, '--output', join(dir, 'installer.iso')];
    },
    usesRef: { status: 2, stderr: /--live-ref debian\/13\/x86_64\/from-record: opening repo/ },
    names: { ref: '--live-ref', commit: '--live-commit' },
  });
});
