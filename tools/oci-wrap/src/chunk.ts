/**
 * Chunking: which content goes into which layer. As ostree-ext does it, the
 * first layer carries the commit, dirtree and dirmeta objects, the directories
 * and every file no package owns (the dpkg database, the package manifest —
 * which change with any update); the kernel and initramfs get a layer; each
 * large package gets its own layer and the small ones share the last.
 * With a previous image, its package → layer assignment is kept, so an update
 * of one package changes that package's layer and the commit layer only. A first
 * image leaves an eighth of the package layers free: a package added later takes
 * one of them instead of changing the shared layer (a one-package update then
 * changes two layers: the commit layer and the new package's own).
 */
export const COMMIT_LAYER = 'ostree_commit';
export const KERNEL_LAYER = 'kernel';

/** Package layers a first image leaves free for packages added by later images. */
export function reservedLayers(budget: number): number {
  return Math.floor(budget / 8);
}

export interface Component {
  name: string;
  size: number;
}

export interface LayerPlan {
  /** Layer i holds these components; layer 0 is the commit layer (no components). */
  layers: string[][];
  /** component → layer index */
  index: Map<string, number>;
}

/** A path's component: the kernel (modules, vmlinuz, initramfs), its owning package, or none. */
export function componentOf(path: string, owner: string | undefined): string | undefined {
  if (/^usr\/lib\/modules\/[^/]+\//.test(path) || (owner && /^linux-image-/.test(owner))) return KERNEL_LAYER;
  return owner;
}

/**
 * Layers for components: at most maxLayers in all (commit + kernel + packages).
 * `previous` is the previous image's layers as component lists (commit layer excluded).
 */
export function planLayers(
  components: readonly Component[],
  maxLayers: number,
  previous?: readonly string[][],
): LayerPlan {
  const budget = maxLayers - 2;
  const pkgs = components.filter((c) => c.name !== KERNEL_LAYER);
  const hasKernel = components.some((c) => c.name === KERNEL_LAYER);
  const bySize = [...pkgs].sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : 1));
  let groups: string[][];
  if (previous) {
    const present = new Set(pkgs.map((c) => c.name));
    groups = previous
      .filter((l) => !l.includes(KERNEL_LAYER))
      .map((l) => l.filter((n) => present.has(n)))
      .filter((l) => l.length);
    const placed = new Set(groups.flat());
    const fresh = bySize.filter((c) => !placed.has(c.name)).map((c) => c.name);
    for (const name of fresh) {
      if (groups.length < budget) groups.push([name]);
      else {
        // Into the shared layer: the one with the most components.
        const shared = groups.reduce((best, g, i) => (g.length > groups[best]!.length ? i : best), 0);
        groups[shared]!.push(name);
      }
    }
    while (groups.length > budget) {
      // The budget shrank: fold the smallest layers together.
      const last = groups.pop()!;
      groups[groups.length - 1]!.push(...last);
    }
  } else if (bySize.length <= budget) {
    groups = bySize.map((c) => [c.name]);
  } else {
    const own = budget - reservedLayers(budget) - 1;
    groups = bySize.slice(0, own).map((c) => [c.name]);
    groups.push(bySize.slice(own).map((c) => c.name));
  }
  const layers: string[][] = [[], ...(hasKernel ? [[KERNEL_LAYER]] : []), ...groups.map((g) => [...g].sort())];
  const index = new Map<string, number>();
  layers.forEach((l, i) => l.forEach((n) => index.set(n, i)));
  return { layers, index };
}
