/**
 * The mmdebstrap command line for a resolved treefile. Pure: unit-tested on its
 * own, run by build.ts. The apt archive cache persists between builds: its
 * .debs are hard-linked into the tree's /var/cache/apt/archives before apt runs
 * and what apt downloaded is linked back after (copied when the cache is on
 * another filesystem). mmdebstrap(1)'s sync-in/sync-out hooks copy the whole
 * cache both ways: gigabytes per build once desktops are cached. Links are made
 * one file at a time with link(2), so builds sharing the cache at once never
 * see half a .deb. The kernel's
 * postinst does not build an initramfs: usr-unify builds the one that boots,
 * once, with the ostree dracut module.
 */
import { shellQuote } from '@debian-atomic/lib';
import type { ResolvedTreefile } from '@debian-atomic/treefile-lint';

export const DRACUT_HOOK = '/etc/kernel/postinst.d/dracut';
export const DRACUT_HOOK_DIVERTED = '/etc/kernel/postinst.d/dracut.debian-atomic';

function dirnamePosix(p: string): string {
  return p.slice(0, p.lastIndexOf('/'));
}

export interface MmdebstrapPlan {
  args: string[];
  packages: string[];
}

export function packageSet(tf: ResolvedTreefile): string[] {
  const arch = tf.architecture;
  const perArch = (tf as Record<string, unknown>)[`packages-${arch}`] as string[] | undefined;
  const excluded = new Set(tf['exclude-packages'] ?? []);
  return [...new Set([...tf.packages, ...(perArch ?? [])])].filter((p) => !excluded.has(p)).sort();
}

/** One-line sources entry per repo: mmdebstrap takes them as MIRROR arguments. */
export function sourcesLines(tf: ResolvedTreefile): string[] {
  return tf.repos.map(
    (r) => `deb ${r.keyring ? `[signed-by=${r.keyring}] ` : ''}${r.mirror} ${r.suite} ${r.components.join(' ')}`,
  );
}

/** apt preferences that make excluded packages uninstallable (rpm-ostree's exclude-packages). */
export function excludePreferences(tf: ResolvedTreefile): string {
  return (tf['exclude-packages'] ?? []).map((p) => `Package: ${p}\nPin: release *\nPin-Priority: -1\n`).join('\n');
}

/**
 * Shell for a hook: the regular *.deb files directly in FROM, hard-linked into TO, or copied
 * when TO is on another filesystem (cp -l fails for all of them then). With onlyNew, only the
 * files with one link: what apt downloaded, not what came from the cache. -f and
 * --remove-destination replace a name by unlinking it: never a write into a linked file.
 */
export function linkDebs(from: string, to: string, onlyNew = false): string {
  const each = (cp: string) =>
    `find ${from} -maxdepth 1 -type f -name '*.deb'${onlyNew ? ' -links 1' : ''} -exec ${cp} -t ${to} -- {} +`;
  return `{ ${each('cp -l -f')} 2>/dev/null || ${each('cp -p --remove-destination')}; }`;
}

export function mmdebstrapArgs(
  tf: ResolvedTreefile,
  target: string,
  cache: string,
  prefsFile: string | null,
  allowExpired = false,
): MmdebstrapPlan {
  const packages = packageSet(tf);
  const args = [
    '--mode=root',
    `--variant=${tf['mmdebstrap-variant']}`,
    `--architectures=${tf.architecture}`,
    `--include=${packages.join(',')}`,
    `--aptopt=APT::Install-Recommends "${tf.recommends ? 'true' : 'false'}"`,
    '--aptopt=Acquire::Retries "3"',
    // Only on request: a Release past its Valid-Until is what a replayed (frozen) mirror looks like.
    ...(allowExpired ? ['--aptopt=Acquire::Check-Valid-Until "false"'] : []),
    '--dpkgopt=force-unsafe-io',
    '--skip=essential/unlink',
    `--setup-hook=mkdir -p "$1"/var/cache/apt/archives && ${linkDebs(shellQuote(cache), '"$1"/var/cache/apt/archives')}`,
    ...(prefsFile
      ? [
          `--setup-hook=mkdir -p "$1"/etc/apt/preferences.d && cp ${shellQuote(prefsFile)} "$1"/etc/apt/preferences.d/debian-atomic-exclude`,
        ]
      : []),
    // Divert the kernel's dracut hook before any package is configured.
    // dracut's own postinst calls the hook by path: a no-op stands in until applyTreefile restores it.
    `--essential-hook=chroot "$1" dpkg-divert --quiet --local --rename --divert ${DRACUT_HOOK_DIVERTED} --add ${DRACUT_HOOK} && mkdir -p "$1"${dirnamePosix(DRACUT_HOOK)} && printf '#!/bin/sh\nexit 0\n' > "$1"${DRACUT_HOOK} && chmod 755 "$1"${DRACUT_HOOK}`,
    `--customize-hook=${linkDebs('"$1"/var/cache/apt/archives', shellQuote(cache), true)}`,
    '--customize-hook=rm -f "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/*.bin',
    tf.suite,
    target,
    ...sourcesLines(tf),
  ];
  return { args, packages };
}
