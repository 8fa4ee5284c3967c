import type { GpuFault } from '../../domain/gpu.js';
import { DriverError, type GpuAssignment, GpuPreflightError } from '../driver.js';
import { checkLockedMemory } from './memlock.js';
import { checkPassthrough, problemsReason } from './passthrough-checks.js';
import { rebindToVfio, type SysfsWrite } from './rebind.js';
import { isPciAddress } from './sysfs.js';

export interface PreflightOptions {
  sysfsRoot?: string;
  devRoot?: string;
  limitsPath?: string;
  statusPath?: string;
  /** The VM's memory: VFIO pins all of it. */
  memory_mb: number;
  /** Hangar may bind the GPUs and their cards' other functions to vfio-pci (HANGAR_QEMU_GPU_REBIND). */
  rebind: boolean;
  /** How a rebind stores into sysfs: a test stands in for the kernel here. */
  write?: SysfsWrite;
}

/**
 * Checks, before QEMU is spawned, that each GPU can be passed through, so a start fails with
 * a sentence per GPU instead of QEMU's "vfio: error getting device" a second into its boot.
 * Returns every address QEMU gets: each GPU, then the other functions of its card. Throws
 * GpuPreflightError naming each GPU that cannot go (they are marked unhealthy), or a plain
 * DriverError when the host's locked-memory limit is the obstacle (the GPUs are fine).
 */
export async function preflightGpus(gpus: GpuAssignment[], opts: PreflightOptions): Promise<string[]> {
  if (gpus.length === 0) return [];
  const roots = { sysfsRoot: opts.sysfsRoot ?? '/sys', devRoot: opts.devRoot ?? '/dev' };
  const bad = gpus.find((g) => !isPciAddress(g.address));
  if (bad) throw new DriverError('failed', `refusing GPU address ${JSON.stringify(bad.address)}: not a PCI address like 0000:3b:00.0`);
  const faults: GpuFault[] = [];
  const addresses = new Set<string>();
  for (const gpu of gpus) {
    let check = await checkPassthrough(gpu.address, roots);
    // Only when a rebind solves everything: a GPU whose group the host still holds stays with its driver.
    if (opts.rebind && check.problems.length > 0 && check.problems.every((p) => p.rebind)) {
      await rebindToVfio(roots.sysfsRoot, check.unbound, opts.write);
      check = await checkPassthrough(gpu.address, roots);
    }
    if (check.problems.length > 0) faults.push({ address: gpu.address, reason: problemsReason(check.problems) });
    else for (const a of [gpu.address, ...check.companions]) addresses.add(a);
  }
  if (faults.length > 0) throw new GpuPreflightError(faults);
  await checkLockedMemory(opts.memory_mb, { limitsPath: opts.limitsPath, statusPath: opts.statusPath });
  return [...addresses];
}
