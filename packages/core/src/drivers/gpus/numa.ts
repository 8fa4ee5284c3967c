import { join } from 'node:path';
import type { GpuAssignment } from '../driver.js';
import { readAttr } from './sysfs.js';

/** The kernel's list format (`0-7,16-23`); anything else (an empty node) is not a list to pin to. */
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** A NUMA node's CPUs as the kernel lists them, or null where the node or its list is unknown. */
export async function nodeCpus(sysfsRoot: string, node: number): Promise<string | null> {
  const list = await readAttr(join(sysfsRoot, `devices/system/node/node${node}/cpulist`));
  return list !== null && CPU_LIST.test(list) ? list : null;
}

/**
 * The CPUs a VM's vCPUs should run on: those of its GPUs' NUMA node, so DMA and the guest's
 * memory stay on the GPU's side of the interconnect. Null (no pinning) without GPUs, when
 * they sit on different nodes, or when their node is unknown.
 */
export async function gpuNodeCpus(sysfsRoot: string, gpus: GpuAssignment[]): Promise<string | null> {
  const nodes = new Set(gpus.map((g) => g.numa_node));
  const [node] = nodes;
  if (nodes.size !== 1 || node === null || node === undefined) return null;
  return nodeCpus(sysfsRoot, node);
}
