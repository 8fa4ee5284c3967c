import { join } from 'node:path';
import { z } from 'zod';
import { defineDriver } from '../definition.js';
import { SimulatedDriver } from './driver.js';
import { SimGpusSetting } from './gpus.js';

/**
 * The simulated hypervisor, its domains in a JSON file of the data directory so they outlive
 * restarts like real VMs.
 */
export const simulatedDefinition = defineDriver({
  description: 'a simulated hypervisor (no guests run), for trying Hangar and for tests',
  settings: z.object({
    /** Latency of each call: `ms`, or a range `min-max`. */
    HANGAR_SIM_LATENCY_MS: z
      .string()
      .regex(/^\d+(-\d+)?$/, 'HANGAR_SIM_LATENCY_MS must be a number of ms or a range like 10-50')
      .optional(),
    /** Seed of the simulator's random choices (faults, jitter, MACs). */
    HANGAR_SIM_SEED: z.coerce.number().int().optional(),
    /** What the simulated host has: `cpus,memory_mb,disk_gb` (a fleet of unlike hosts, for trying placement). */
    HANGAR_SIM_CAPACITY: z
      .string()
      .regex(/^\d+,\d+,\d+$/, 'HANGAR_SIM_CAPACITY must be cpus,memory_mb,disk_gb, e.g. 8,16384,500')
      .transform((v) => {
        const [cpus, memory_mb, disk_gb] = v.split(',').map(Number) as [number, number, number];
        return { cpus, memory_mb, disk_gb };
      })
      .optional(),
    /** The host's GPUs: PCI `vendor:device` ids, one per GPU, each optionally `@<NUMA node>` (`10de:20b0,10de:20b0@1`). */
    HANGAR_SIM_GPUS: SimGpusSetting.optional(),
    /** Bytes a simulated disk file has per GB of its size (default a GiB; small values keep exports quick in tests). */
    HANGAR_SIM_BYTES_PER_GB: z.coerce.number().int().min(1).optional(),
  }),
  create(s, ctx) {
    const latency = s.HANGAR_SIM_LATENCY_MS?.split('-').map(Number);
    return new SimulatedDriver({
      disk_dir: join(ctx.data_dir, 'sim-disks'),
      ...(s.HANGAR_SIM_BYTES_PER_GB ? { bytes_per_gb: s.HANGAR_SIM_BYTES_PER_GB } : {}),
      config: {
        state_dir: join(ctx.data_dir, 'simulator'),
        ...(latency ? { latency_ms: latency.length === 2 ? [latency[0]!, latency[1]!] : latency[0]! } : {}),
        ...(s.HANGAR_SIM_SEED !== undefined ? { seed: s.HANGAR_SIM_SEED } : {}),
        ...(s.HANGAR_SIM_CAPACITY ? { capacity: s.HANGAR_SIM_CAPACITY } : {}),
        ...(s.HANGAR_SIM_GPUS ? { gpus: s.HANGAR_SIM_GPUS } : {}),
      },
    });
  },
});
