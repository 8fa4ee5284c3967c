import { z } from 'zod';
import { LabelKey, LabelValue, Text, Timestamp, Uuid } from './fields.js';
import { Gpu, GpuDevice } from './gpu.js';

export { GpuDevice } from './gpu.js';

/** What a host has (bounded: an agent reports it, and the columns are 32-bit). */
export const Capacity = z.object({
  cpus: z.int().min(0).max(65_536),
  memory_mb: z
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  disk_gb: z
    .int()
    .min(0)
    .max(2 ** 31 - 1),
});
export type Capacity = z.infer<typeof Capacity>;

export const HostStatus = z.enum(['online', 'offline']);

/**
 * A host's name: a DNS name (its agent registers it; `server_id`/`host_id` filters accept it too).
 * Where a host is named, all digits is tried as its number first.
 */
export const HostName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i, {
    message: 'must be a host name: letters, digits, dots and hyphens, starting and ending with a letter or digit',
  });

/** Labels an admin (or the agent's configuration) puts on a host; VMs ask for them with `placement.host_labels`. */
export const HostLabels = z.record(LabelKey, LabelValue).refine((m) => Object.keys(m).length <= 64, { message: 'at most 64 labels' });

/** What a host has, as its driver (or its agent) reports it. */
export const HostInventory = z.object({
  capacity: Capacity,
  gpus: z
    .array(GpuDevice)
    .max(256)
    .refine((gs) => new Set(gs.map((g) => g.address)).size === gs.length, { message: 'each GPU address at most once' }),
  /** Why the hypervisor cannot run VMs right now (its binary is missing, say); the host is then offline. */
  unavailable: Text.max(2000).optional(),
});
export type HostInventory = z.infer<typeof HostInventory>;
export type HostStatus = z.infer<typeof HostStatus>;

export const Host = z
  .object({
    id: Uuid,
    /** A short number, unique in the fleet and never reused: `host 3` (where a host is named, all digits means this first). */
    number: z.int(),
    name: z.string(),
    driver: z.string(),
    status: HostStatus,
    /** Why the host is offline (the hypervisor's binary is missing, it does not answer…). */
    status_reason: z.string().nullable(),
    capacity: Capacity,
    allocated: Capacity,
    /** The host's GPUs, with who holds each and whether it can be passed through. */
    gpus: z.array(Gpu),
    /** GPUs free and healthy (what the scheduler can still give), and held by VMs. */
    gpus_free: z.int(),
    gpus_used: z.int(),
    labels: z.record(z.string(), z.string()),
    /** No new VMs are placed here (cordoned, or draining). */
    cordoned: z.boolean(),
    /** Cordoned so that it can be emptied: the VMs still on it are listed by `hosts.drain`. */
    draining: z.boolean(),
    /** The `hangar agent` version serving the host; null for the API process's own host. */
    agent_version: z.string().nullable(),
    /** The last heartbeat: the host's agent (or local worker) reported in. */
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

export const HostRequest = z.strictObject({
  /** The host's id, its number or its name: all digits is tried as the host's number first, then as a name. */
  id: z.union([Uuid, HostName]),
});

export const SetHostLabelsInput = z.strictObject({
  /** The host's id, its number or its name: all digits is tried as the host's number first, then as a name. */
  id: z.union([Uuid, HostName]),
  /** The host's labels, replacing those it had. */
  labels: HostLabels,
});

/** A VM still on a draining host. */
export const HostVm = z.object({ id: Uuid, name: z.string(), project_id: Uuid, status: z.string() }).meta({ id: 'HostVm' });

export const DrainResult = z
  .object({
    host: Host,
    /** What still runs (or is defined) there: move or delete these, then remove the host. */
    vms: z.array(HostVm),
  })
  .meta({ id: 'DrainResult' });
export type DrainResult = z.infer<typeof DrainResult>;
