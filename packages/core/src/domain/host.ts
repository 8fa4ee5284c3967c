import { z } from 'zod';
import { Timestamp, Uuid } from './fields.js';

export const GpuDevice = z.object({
  /** PCI address, e.g. 0000:3b:00.0 */
  address: z.string(),
  vendor_id: z.string(),
  device_id: z.string(),
  vendor: z.string().nullable(),
  driver: z.string().nullable(),
  iommu_group: z.int().nullable(),
  numa_node: z.int().nullable(),
});
export type GpuDevice = z.infer<typeof GpuDevice>;

export const Capacity = z.object({
  cpus: z.int().min(0),
  memory_mb: z.int().min(0),
  disk_gb: z.int().min(0),
});
export type Capacity = z.infer<typeof Capacity>;

export const HostStatus = z.enum(['online', 'offline']);
export type HostStatus = z.infer<typeof HostStatus>;

export const Host = z
  .object({
    id: Uuid,
    name: z.string(),
    driver: z.string(),
    status: HostStatus,
    /** Why the host is offline (the hypervisor's binary is missing, it does not answer…). */
    status_reason: z.string().nullable(),
    capacity: Capacity,
    allocated: Capacity,
    gpus: z.array(GpuDevice),
    last_seen_at: Timestamp.nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'Host' });
export type Host = z.infer<typeof Host>;

/** A domain on a host that Hangar does not manage: shown to admins, never touched. */
export const UnmanagedDomain = z
  .object({
    host_id: Uuid,
    name: z.string(),
    uuid: z.string(),
    state: z.enum(['running', 'paused', 'stopped', 'crashed', 'missing']),
  })
  .meta({ id: 'UnmanagedDomain' });
export type UnmanagedDomain = z.infer<typeof UnmanagedDomain>;
