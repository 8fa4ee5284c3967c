import { asc, eq, sql } from 'drizzle-orm';
import { errors } from '../domain/errors.js';
import type { Host, HostStatus } from '../domain/host.js';
import type { HostInventory } from '../drivers/driver.js';
import type { Db, Tx } from '../store/database.js';
import { toHost } from '../store/mappers.js';
import { hosts } from '../store/schema.js';
import { parseId } from './validate.js';

export interface Resources {
  cpus: number;
  memory_mb: number;
  disk_gb: number;
}

/** Records (or refreshes) a hypervisor host and what it has; it is online from now. */
export async function registerHost(
  db: Db,
  host: { name: string; driver: string; inventory: HostInventory; cpu_allocation_ratio?: number },
): Promise<Host> {
  const values = {
    name: host.name,
    driver: host.driver,
    status: host.inventory.unavailable ? 'offline' : 'online',
    status_reason: host.inventory.unavailable ?? null,
    cpus: host.inventory.capacity.cpus,
    memory_mb: host.inventory.capacity.memory_mb,
    disk_gb: host.inventory.capacity.disk_gb,
    gpus: host.inventory.gpus,
    last_seen_at: new Date(),
    ...(host.cpu_allocation_ratio ? { cpu_allocation_ratio: host.cpu_allocation_ratio } : {}),
  };
  // A hypervisor that cannot answer says nothing about what the host has: what was known stays.
  const { cpus: _c, memory_mb: _m, disk_gb: _d, gpus: _g, ...statusOnly } = values;
  const [row] = await db
    .insert(hosts)
    .values(values)
    .onConflictDoUpdate({ target: hosts.name, set: { ...(host.inventory.unavailable ? statusOnly : values), updated_at: new Date() } })
    .returning();
  return toHost(row!);
}

/** What a host has, read again from its hypervisor (it was offline when the host was registered, say). */
export async function refreshInventory(db: Db, id: string, inventory: HostInventory): Promise<void> {
  if (inventory.unavailable) return;
  await db
    .update(hosts)
    .set({
      cpus: inventory.capacity.cpus,
      memory_mb: inventory.capacity.memory_mb,
      disk_gb: inventory.capacity.disk_gb,
      gpus: inventory.gpus,
      updated_at: new Date(),
    })
    .where(eq(hosts.id, id));
}

export async function setHostStatus(db: Db, id: string, status: HostStatus, reason: string | null = null): Promise<void> {
  await db
    .update(hosts)
    .set({
      status,
      status_reason: status === 'online' ? null : reason,
      updated_at: new Date(),
      ...(status === 'online' ? { last_seen_at: new Date() } : {}),
    })
    .where(eq(hosts.id, id));
}

export async function listHosts(db: Db): Promise<Host[]> {
  return (await db.select().from(hosts).orderBy(asc(hosts.name))).map(toHost);
}

export async function getHost(db: Db, id: string): Promise<Host> {
  const [row] = await db
    .select()
    .from(hosts)
    .where(eq(hosts.id, parseId(id, 'host id')));
  if (!row) throw errors.notFound('Host', id);
  return toHost(row);
}

/** A host whose worker has not checked in for this long is not given new VMs. */
export const HOST_HEARTBEAT_TIMEOUT_S = 120;

const fits = (r: Resources) => sql`
  ${hosts.status} = 'online'
  AND ${hosts.last_seen_at} > now() - ${`${HOST_HEARTBEAT_TIMEOUT_S} seconds`}::interval
  AND ${hosts.allocated_cpus} + ${r.cpus} <= ${hosts.cpus} * ${hosts.cpu_allocation_ratio}
  AND ${hosts.allocated_memory_mb} + ${r.memory_mb} <= ${hosts.memory_mb}
  AND ${hosts.allocated_disk_gb} + ${r.disk_gb} <= ${hosts.disk_gb}`;

/**
 * Places resources on a host: the one asked for, or the online host with the most free
 * memory. The reservation is part of the caller's transaction.
 */
export async function reserve(tx: Tx, r: Resources, hostId?: string | null): Promise<string> {
  const target = hostId
    ? sql`${hosts.id} = ${hostId}`
    : sql`${hosts.id} = (SELECT id FROM ${hosts} WHERE ${fits(r)}
          ORDER BY ${hosts.memory_mb} - ${hosts.allocated_memory_mb} DESC LIMIT 1 FOR NO KEY UPDATE)`;
  const [row] = await tx
    .update(hosts)
    .set({
      allocated_cpus: sql`${hosts.allocated_cpus} + ${r.cpus}`,
      allocated_memory_mb: sql`${hosts.allocated_memory_mb} + ${r.memory_mb}`,
      allocated_disk_gb: sql`${hosts.allocated_disk_gb} + ${r.disk_gb}`,
    })
    .where(sql`${target} AND ${fits(r)}`)
    .returning({ id: hosts.id });
  if (row) return row.id;
  return explainNoPlacement(tx, r, hostId);
}

async function explainNoPlacement(tx: Tx, r: Resources, hostId?: string | null): Promise<never> {
  const all = await tx.select().from(hosts);
  if (hostId) {
    const h = all.find((x) => x.id === hostId);
    if (!h) throw errors.validation(`Host ${hostId} does not exist`, [{ path: 'host_id', message: 'unknown host' }]);
    if (h.status !== 'online') throw errors.hostUnavailable(`Host ${h.name} is ${h.status}${because(h)}`);
  }
  const fresh = (h: (typeof all)[number]) =>
    h.status === 'online' && !!h.last_seen_at && Date.now() - h.last_seen_at.getTime() < HOST_HEARTBEAT_TIMEOUT_S * 1000;
  if (hostId) {
    const h = all.find((x) => x.id === hostId)!;
    if (!fresh(h)) throw errors.hostUnavailable(`Host ${h.name} has no running worker`);
  }
  if (!all.some(fresh)) {
    const why = all.filter((h) => h.status_reason).map((h) => `${h.name}: ${h.status_reason}`);
    throw errors.hostUnavailable(`No hypervisor host is online${why.length ? ` (${why.join('; ')})` : ''}`);
  }
  throw errors.insufficientCapacity(`No host has room for ${r.cpus} vCPUs, ${r.memory_mb} MB of memory and ${r.disk_gb} GB of disk`, {
    retryable: true,
  });
}

const because = (h: { status_reason: string | null }) => (h.status_reason ? `: ${h.status_reason}` : '');

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
