import { z } from 'zod';
import type { GpuDevice } from '../../domain/gpu.js';
import { memoryFromName, pciNames } from '../gpus/pci-ids.js';

/** Buses 0x10…0xff, one GPU each: as many as a two-digit bus allows. */
const FIRST_BUS = 0x10;
export const MAX_SIM_GPUS = 0x100 - FIRST_BUS;

const ENTRY = /^([0-9a-f]{4}):([0-9a-f]{4})(?:@(\d{1,4}))?$/i;

/**
 * `HANGAR_SIM_GPUS`: the simulated host's GPUs, one `vendor:device` PCI id per device
 * (`10de:20b0,10de:20b0` is a host with two A100s), each optionally `@<NUMA node>` so
 * placement by node can be tried. Each becomes a GPU as a real host reports one: its own bus
 * and IOMMU group, bound to vfio-pci, named from the PCI ids database.
 */
export const SimGpusSetting = z.string().transform((value, ctx): GpuDevice[] => {
  // Empty: no GPUs (a value the environment may hold, set and left blank).
  const entries = value.trim() === '' ? [] : value.split(',').map((e) => e.trim());
  if (entries.length > MAX_SIM_GPUS) {
    ctx.addIssue({ code: 'custom', message: `HANGAR_SIM_GPUS lists ${entries.length} GPUs; a simulated host has at most ${MAX_SIM_GPUS}` });
    return z.NEVER;
  }
  const gpus: GpuDevice[] = [];
  for (const [i, entry] of entries.entries()) {
    const m = ENTRY.exec(entry);
    const node = m?.[3] === undefined ? 0 : Number(m[3]);
    if (!m || node > 1024) {
      ctx.addIssue({
        code: 'custom',
        message: `HANGAR_SIM_GPUS entry ${JSON.stringify(entry)} is not a PCI vendor:device id with an optional @<NUMA node 0-1024>, e.g. 10de:20b0 or 10de:20b0@1`,
      });
      continue;
    }
    const vendor_id = `0x${m[1]!.toLowerCase()}`;
    const device_id = `0x${m[2]!.toLowerCase()}`;
    const bus = FIRST_BUS + i;
    const names = pciNames(vendor_id, device_id);
    gpus.push({
      address: `0000:${bus.toString(16).padStart(2, '0')}:00.0`,
      vendor_id,
      device_id,
      vendor: names.vendor,
      model: names.model,
      memory_mb: memoryFromName(names.model),
      driver: 'vfio-pci',
      iommu_group: bus,
      numa_node: node,
      health: 'healthy',
      health_reason: null,
    });
  }
  return gpus;
});

/** The GPUs of a `HANGAR_SIM_GPUS` value (throws on a bad one): how tests give a simulated host GPUs. */
export function simGpus(value: string): GpuDevice[] {
  return SimGpusSetting.parse(value);
}
