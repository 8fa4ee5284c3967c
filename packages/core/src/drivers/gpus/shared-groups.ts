import type { GpuDevice } from '../../domain/gpu.js';

/**
 * VFIO gives an IOMMU group to one VM at a time: GPUs of different cards in one group (a board
 * without ACS between its slots) cannot go to different VMs. The first GPU of such a group (by
 * address) is offered; the others are unhealthy, saying why, so the scheduler never hands them
 * to a second VM whose start would then fail. Functions of one card (its audio) are not GPUs
 * and go with it anyway.
 */
export function oneGpuPerGroup(gpus: GpuDevice[]): GpuDevice[] {
  const first = new Map<number, string>();
  return [...gpus]
    .sort((a, b) => a.address.localeCompare(b.address))
    .map((g) => {
      if (g.iommu_group === null) return g;
      const owner = first.get(g.iommu_group);
      if (owner === undefined) {
        first.set(g.iommu_group, g.address);
        return g;
      }
      const reason = `shares IOMMU group ${g.iommu_group} with the GPU ${owner}: a group goes to one VM, so only ${owner} is offered`;
      return { ...g, health: 'unhealthy' as const, health_reason: g.health === 'healthy' ? reason : `${g.health_reason}; ${reason}` };
    });
}
