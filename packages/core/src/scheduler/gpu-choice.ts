/** A free GPU the scheduler may give. */
export interface GpuCandidate {
  id: string;
  address: string;
  numa_node: number | null;
}

/**
 * Which `count` of a host's free GPUs a VM gets. All on one NUMA node when a node has enough
 * (the node with the fewest that still fit, so a node with many stays whole for a larger VM);
 * otherwise as few nodes as possible, fullest first. Null when there are not enough.
 * GPUs without a known node count as one node of their own.
 */
export function chooseGpus<T extends GpuCandidate>(free: readonly T[], count: number): T[] | null {
  if (count <= 0) return [];
  if (free.length < count) return null;
  const byNode = new Map<number | null, T[]>();
  for (const g of [...free].sort((a, b) => a.address.localeCompare(b.address))) {
    const list = byNode.get(g.numa_node) ?? [];
    list.push(g);
    byNode.set(g.numa_node, list);
  }
  const order = (a: number | null, b: number | null) => (a ?? Number.MAX_SAFE_INTEGER) - (b ?? Number.MAX_SAFE_INTEGER);
  const nodes = [...byNode.entries()].sort(([a], [b]) => order(a, b));
  const fits = nodes.filter(([, gpus]) => gpus.length >= count).sort(([, a], [, b]) => a.length - b.length);
  if (fits.length > 0) return fits[0]![1].slice(0, count);
  const chosen: T[] = [];
  for (const [, gpus] of nodes.sort(([, a], [, b]) => b.length - a.length)) {
    chosen.push(...gpus.slice(0, count - chosen.length));
    if (chosen.length === count) break;
  }
  return chosen;
}
