import { eq, sql } from 'drizzle-orm';
import type { Tx } from '../store/database.js';
import { type GpuMatch, gpuFree, gpuMatches } from '../store/gpu-rows.js';
import { gpuDevices, hosts } from '../store/schema.js';
import { explainNoPlacement } from './explain.js';

/** A host whose worker has not checked in for this long is not given new VMs. */
export const HOST_HEARTBEAT_TIMEOUT_S = 120;

export interface Resources {
  cpus: number;
  memory_mb: number;
  disk_gb: number;
}

/** Where the scheduler puts a VM among the hosts with room: the emptiest (spread) or the fullest (pack). */
export type PlacementStrategy = 'spread' | 'pack';

/** GPUs a placement needs: how many free ones of that model and vendor the host must have. */
export interface GpuNeed extends GpuMatch {
  count: number;
}

export interface PlacementRequest {
  /** A host chosen by the caller (an admin; a hardware change grows a VM where it is). */
  host_id?: string | null;
  /** Labels the host must carry (each key with that value). */
  host_labels?: Record<string, string>;
  strategy?: PlacementStrategy;
  /** A new VM: cordoned and draining hosts take none (a VM already on one may still grow). */
  new_vm?: boolean;
  /** Free GPUs the host must have. */
  gpus?: GpuNeed | null;
  /** Hosts not to pick (a create that lost the race for their last GPUs looks elsewhere). */
  exclude?: string[];
}

const served = sql`${hosts.status} = 'online'
  AND ${hosts.last_seen_at} > now() - ${`${HOST_HEARTBEAT_TIMEOUT_S} seconds`}::interval`;

const room = (r: Resources) => sql`
  ${hosts.allocated_cpus} + ${r.cpus} <= ${hosts.cpus} * ${hosts.cpu_allocation_ratio}
  AND ${hosts.allocated_memory_mb} + ${r.memory_mb} <= ${hosts.memory_mb}
  AND ${hosts.allocated_disk_gb} + ${r.disk_gb} <= ${hosts.disk_gb}`;

/** The host has `count` free, healthy GPUs matching the names asked. */
const gpuRoom = (g: GpuNeed) => sql`(SELECT count(*) FROM ${gpuDevices}
  WHERE ${gpuDevices.host_id} = ${hosts.id} AND ${gpuFree} AND ${gpuMatches(g)}) >= ${g.count}`;

/** What a reservation adds to a host's allocation. */
const allocation = (r: Resources) => ({
  allocated_cpus: sql`${hosts.allocated_cpus} + ${r.cpus}`,
  allocated_memory_mb: sql`${hosts.allocated_memory_mb} + ${r.memory_mb}`,
  allocated_disk_gb: sql`${hosts.allocated_disk_gb} + ${r.disk_gb}`,
});

function eligible(r: Resources, p: PlacementRequest) {
  return sql.join(
    [
      served,
      room(r),
      p.new_vm ? sql`NOT ${hosts.cordoned} AND NOT ${hosts.draining}` : sql`true`,
      p.host_labels && Object.keys(p.host_labels).length ? sql`${hosts.labels} @> ${JSON.stringify(p.host_labels)}::jsonb` : sql`true`,
      p.gpus && p.gpus.count > 0 ? gpuRoom(p.gpus) : sql`true`,
      p.exclude?.length
        ? sql`${hosts.id} NOT IN (${sql.join(
            p.exclude.map((id) => sql`${id}::uuid`),
            sql`, `,
          )})`
        : sql`true`,
    ],
    sql` AND `,
  );
}

/**
 * Places resources on a host: the one asked for, or among the served, uncordoned hosts with
 * room (GPUs included) and the labels asked for, the one the strategy picks. The reservation
 * is one UPDATE in the caller's transaction, checked again under the row lock: two creates
 * never overfill a host. The host row stays locked until the transaction ends, so the GPUs
 * taken next (`place.ts`) are taken by one create at a time.
 */
export async function reserve(tx: Tx, r: Resources, p: PlacementRequest = {}): Promise<string> {
  const free = sql`${hosts.memory_mb} - ${hosts.allocated_memory_mb}`;
  const order = p.strategy === 'pack' ? sql`${free} ASC, ${hosts.name}` : sql`${free} DESC, ${hosts.name}`;
  const target = p.host_id
    ? sql`${hosts.id} = ${p.host_id}`
    : sql`${hosts.id} = (SELECT id FROM ${hosts} WHERE ${eligible(r, p)} ORDER BY ${order} LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED)`;
  const [row] = await tx
    .update(hosts)
    .set(allocation(r))
    .where(sql`${target} AND ${eligible(r, p)}`)
    .returning({ id: hosts.id });
  if (row) return row.id;
  if (!p.host_id) {
    // Hosts locked by concurrent creates were skipped: wait for them and look again before refusing.
    const [again] = await tx
      .update(hosts)
      .set(allocation(r))
      .where(
        sql`${hosts.id} = (SELECT id FROM ${hosts} WHERE ${eligible(r, p)} ORDER BY ${order} LIMIT 1 FOR NO KEY UPDATE) AND ${eligible(r, p)}`,
      )
      .returning({ id: hosts.id });
    if (again) return again.id;
  }
  return explainNoPlacement(tx, r, p);
}

/** Takes back what was released early (a delete that then failed): the VM still has it, room or not. */
export async function reclaim(tx: Tx, hostId: string | null, r: Resources): Promise<void> {
  if (!hostId) return;
  await tx.update(hosts).set(allocation(r)).where(eq(hosts.id, hostId));
}

export async function release(tx: Tx, hostId: string | null, r: Resources): Promise<void> {
  if (!hostId) return;
  await tx
    .update(hosts)
    .set({
      allocated_cpus: sql`GREATEST(0, ${hosts.allocated_cpus} - ${r.cpus})`,
      allocated_memory_mb: sql`GREATEST(0, ${hosts.allocated_memory_mb} - ${r.memory_mb})`,
      allocated_disk_gb: sql`GREATEST(0, ${hosts.allocated_disk_gb} - ${r.disk_gb})`,
    })
    .where(eq(hosts.id, hostId));
}
