/**
 * upgrade and switch with an image origin, end to end on a real sysroot: oci-wrap's tiny image
 * (v1, then v2 with one package changed) in an OCI layout, pulled by image.ts, deployed by deploy.ts.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../src/main.js';
import { HostSchema } from '../src/schema.js';
import { manifestOf, skopeo, twoVersions } from './fixtures/images.js';
import { makeWorld, OS } from './fixtures/sysroot.js';

async function cli(args: string[]) {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await main(args, { stdout, reboot: async () => {} });
  return { code, out };
}

t.test('switch to an image, upgrade when its tag moves, db diff between them', async (t) => {
  const w = await makeWorld(t);
  const S = ['--sysroot', w.sysroot];
  await w.commit({ version: 'ostree-1' });
  await w.install();
  const { layout, c1, c2 } = await twoVersions(join(w.dir, 'images'));
  skopeo('copy', `oci:${layout}:v1`, `oci:${layout}:latest`);
  const image = `oci:${layout}:latest`;
  const d1 = (await manifestOf(layout, 'v1')).digest;

  const sw = await cli(['switch', ...S, image]);
  t.match(
    sw.out,
    new RegExp(
      `^Fetched \\d+ of \\d+ layers \\(\\d+ bytes\\)\\.\\nDeployed .*\\(${c1.slice(0, 12)}\\) from ${image} \\(${d1}\\)\\.\\n`,
    ),
  );
  const host = async () => HostSchema.parse(JSON.parse((await cli(['status', ...S, '--json'])).out));
  let first = (await host()).status.otherDeployments[0]!;
  t.same([first.checksum, first.origin], [c1, { type: 'image', image, digest: d1 }]);
  const origin = await readFile(join(w.sysroot, 'ostree/deploy', OS, 'deploy', `${c1}.0.origin`), 'utf8');
  t.equal(origin, `[origin]\ncontainer-image-reference=${image}\n\n[atomic]\nimage-digest=${d1}\n`);

  t.same(await cli(['upgrade', ...S, '--check']), { code: 0, out: 'No update available.\n' });
  t.match((await cli(['upgrade', ...S])).out, /No update available\.\n$/);

  skopeo('copy', `oci:${layout}:v2`, `oci:${layout}:latest`);
  const d2 = (await manifestOf(layout, 'v2')).digest;
  t.match((await cli(['upgrade', ...S, '--check'])).out, new RegExp(`^Update available: .*${image} ${d2}\\n$`));
  const up = await cli(['upgrade', ...S]);
  t.match(up.out, new RegExp(`Deployed .*\\(${c2.slice(0, 12)}\\) from ${image} \\(${d2}\\)\\.\\n`));
  first = (await host()).status.otherDeployments[0]!;
  t.same([first.checksum, first.origin], [c2, { type: 'image', image, digest: d2 }]);
  // The tiny image's dpkg database has no Status lines (no installed package): the commits are what is compared.
  t.match(
    (await cli(['db', 'diff', ...S])).out,
    `from: deployment 1 (${c1})\nostree diff commit to:   deployment 0 (${c2})\n`,
  );
  t.match((await cli(['switch', ...S, image])).out, /^Already on .*: nothing to do\.\n$|^Fetched.*\nAlready on/);
});
