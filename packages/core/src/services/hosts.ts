import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { errors, HangarError } from '../domain/errors.js';
import { Uuid } from '../domain/fields.js';
import { type DrainResult, type Host, HostRequest, type HostStatus, SetHostLabelsInput } from '../domain/host.js';
import type { HostInventory } from '../drivers/driver.js';
import type { Db, Tx } from '../store/database.js';
import { toHost } from '../store/mappers.js';
import { type HostRow, hosts, operations, vms } from '../store/schema.js';
import { parse } from './validate.js';

export interface Resources {
  cpus: number;
  memory_mb: number;
  disk_gb: number;
}

/** A host's row as its inventory says: what it has, and offline with the reason when its hypervisor cannot run VMs. */
export function inventoryColumns(inventory: HostInventory) {
  return {
    status: inventory.unavailable ? 'offline' : 'online',
    status_reason: inventory.unavailable ?? null,
    cpus: inventory.capacity.cpus,
    memory_mb: inventory.capacity.memory_mb,
    disk_gb: inventory.capacity.disk_gb,
    gpus: inventory.gpus,
  };
}

/** Records (or refreshes) a hypervisor host and what it has; it is online from now. */
export async function registerHost(
  db: Db,
  host: { name: string; driver: string; inventory: HostInventory; cpu_allocation_ratio?: number },
): Promise<Host> {
  const values = {
    name: host.name,
    driver: host.driver,
    ...inventoryColumns(host.inventory),
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

/**
 * A heartbeat: the host is online and seen now. Returns the status it had (one statement: a
 * fleet's heartbeats are most of what an idle fleet costs). Throws NOT_FOUND for a removed host.
 */
export async function markOnline(db: Db, id: string): Promise<HostStatus> {
  const rows = await db.execute<{ was: string }>(sql`
    UPDATE ${hosts} SET status = 'online', status_reason = NULL, last_seen_at = now(),
      updated_at = CASE WHEN old.status = 'online' THEN ${hosts.updated_at} ELSE now() END
    FROM (SELECT status FROM ${hosts} WHERE id = ${id} FOR NO KEY UPDATE) AS old
    WHERE ${hosts.id} = ${id}
    RETURNING old.status AS was`);
  if (!rows[0]) throw errors.notFound('Host', id);
  return rows[0].was as HostStatus;
}

export async function listHosts(db: Db): Promise<Host[]> {
  return (await db.select().from(hosts).orderBy(asc(hosts.name))).map(toHost);
}

/** A host by its id or its name (what `server_id`/`host_id` filters and the hosts routes accept). */
export async function resolveHost(db: Db | Tx, idOrName: unknown, lock = false): Promise<HostRow> {
  const key = parse(HostRequest.shape.id, idOrName, 'host id or name');
  const byId = Uuid.safeParse(key).success;
  const q = db
    .select()
    .from(hosts)
    .where(byId ? eq(hosts.id, key) : eq(hosts.name, key));
  const [row] = lock ? await q.for('no key update') : await q;
  if (!row) throw errors.notFound('Host', key);
  return row;
}

/** The host a create names: unknown is the caller's mistake (400), not a missing resource. */
export async function resolveHostForPlacement(tx: Tx, idOrName: string): Promise<HostRow> {
  try {
    return await resolveHost(tx, idOrName);
  } catch (err) {
    if (err instanceof HangarError && err.code === 'NOT_FOUND') {
      throw errors.validation(`Host ${idOrName} does not exist`, [{ path: 'host_id', message: 'unknown host' }]);
    }
    throw err;
  }
}

export async function getHost(db: Db, id: unknown): Promise<Host> {
  return toHost(await resolveHost(db, id));
}

/** Cordons a host (no new VMs are placed on it) or lifts the cordon (and a drain). */
export async function cordonHost(db: Db, id: unknown, cordoned: boolean): Promise<Host> {
  const row = await resolveHost(db, id);
  const [updated] = await db
    .update(hosts)
    .set({ cordoned, ...(cordoned ? {} : { draining: false }), updated_at: new Date() })
    .where(eq(hosts.id, row.id))
    .returning();
  return toHost(updated!);
}

/** Cordons a host to empty it: what still runs there is listed, to be moved or deleted before the host is removed. */
export async function drainHost(db: Db, id: unknown): Promise<DrainResult> {
  const row = await resolveHost(db, id);
  const [updated] = await db
    .update(hosts)
    .set({ cordoned: true, draining: true, updated_at: new Date() })
    .where(eq(hosts.id, row.id))
    .returning();
  return { host: toHost(updated!), vms: await vmsOn(db, row.id) };
}

export async function setHostLabels(db: Db, raw: unknown): Promise<Host> {
  const input = parse(SetHostLabelsInput, raw, 'host labels');
  const row = await resolveHost(db, input.id);
  const [updated] = await db.update(hosts).set({ labels: input.labels, updated_at: new Date() }).where(eq(hosts.id, row.id)).returning();
  return toHost(updated!);
}

/**
 * Forgets a host, and with it its agent's credentials. Only an empty host: a VM that is not
 * deleted keeps it (409, naming them). Deleted VMs keep their history, without the host.
 */
export async function removeHost(db: Db, id: unknown): Promise<Host> {
  return db.transaction(async (tx) => {
    const row = await resolveHost(tx, id, true);
    const left = await vmsOn(tx, row.id);
    if (left.length > 0) {
      const names = left.slice(0, 5).map((v) => v.name);
      throw errors.invalidState(
        `Host ${row.name} still has ${left.length} VM(s) (${names.join(', ')}${left.length > 5 ? ', …' : ''}); drain it and move or delete them first`,
        { vms: left.length },
      );
    }
    await tx.update(vms).set({ host_id: null }).where(eq(vms.host_id, row.id));
    await tx.update(operations).set({ host_id: null }).where(eq(operations.host_id, row.id));
    await tx.delete(hosts).where(eq(hosts.id, row.id));
    return toHost(row);
  });
}

async function vmsOn(db: Db | Tx, hostId: string) {
  return db
    .select({ id: vms.id, name: vms.name, project_id: vms.project_id, status: vms.status })
    .from(vms)
    .where(and(eq(vms.host_id, hostId), isNull(vms.deleted_at)))
    .orderBy(asc(vms.name));
}

/** A host whose worker has not checked in for this long is not given new VMs. */
export const HOST_HEARTBEAT_TIMEOUT_S = 120;

/** Where the scheduler puts a VM among the hosts with room: the emptiest (spread) or the fullest (pack). */
export type PlacementStrategy = 'spread' | 'pack';

export interface PlacementRequest {
  /** A host chosen by the caller (an admin; a hardware change grows a VM where it is). */
  host_id?: string | null;
  /** Labels the host must carry (each key with that value). */
  host_labels?: Record<string, string>;
  strategy?: PlacementStrategy;
  /** A new VM: cordoned and draining hosts take none (a VM already on one may still grow). */
  new_vm?: boolean;
}

const served = sql`${hosts.status} = 'online'
  AND ${hosts.last_seen_at} > now() - ${`${HOST_HEARTBEAT_TIMEOUT_S} seconds`}::interval`;

const room = (r: Resources) => sql`
  ${hosts.allocated_cpus} + ${r.cpus} <= ${hosts.cpus} * ${hosts.cpu_allocation_ratio}
  AND ${hosts.allocated_memory_mb} + ${r.memory_mb} <= ${hosts.memory_mb}
  AND ${hosts.allocated_disk_gb} + ${r.disk_gb} <= ${hosts.disk_gb}`;

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
    ],
    sql` AND `,
  );
}

/**
 * Places resources on a host: the one asked for, or among the served, uncordoned hosts with
 * room and the labels asked for, the one the strategy picks. The reservation is one UPDATE in
 * the caller's transaction, checked again under the row lock: two creates never overfill a host.
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

/** Why nothing could be placed, host by host: offline, cordoned, without the labels, or short of which resource. */
async function explainNoPlacement(tx: Tx, r: Resources, p: PlacementRequest): Promise<never> {
  const all = await tx.select().from(hosts).orderBy(asc(hosts.name));
  const fresh = (h: HostRow) =>
    h.status === 'online' && !!h.last_seen_at && Date.now() - h.last_seen_at.getTime() < HOST_HEARTBEAT_TIMEOUT_S * 1000;
  const shortOf = (h: HostRow) => {
    const missing: string[] = [];
    const cpus = Math.floor(h.cpus * h.cpu_allocation_ratio) - h.allocated_cpus;
    if (cpus < r.cpus) missing.push(`vCPUs (${Math.max(0, cpus)} free)`);
    if (h.memory_mb - h.allocated_memory_mb < r.memory_mb)
      missing.push(`memory (${Math.max(0, h.memory_mb - h.allocated_memory_mb)} MB free)`);
    if (h.disk_gb - h.allocated_disk_gb < r.disk_gb) missing.push(`disk (${Math.max(0, h.disk_gb - h.allocated_disk_gb)} GB free)`);
    return missing;
  };
  const wanted = `${r.cpus} vCPUs, ${r.memory_mb} MB of memory and ${r.disk_gb} GB of disk`;
  if (p.host_id) {
    const h = all.find((x) => x.id === p.host_id);
    if (!h) throw errors.validation(`Host ${p.host_id} does not exist`, [{ path: 'host_id', message: 'unknown host' }]);
    if (h.status !== 'online') throw errors.hostUnavailable(`Host ${h.name} is ${h.status}${because(h)}`);
    if (!fresh(h)) throw errors.hostUnavailable(`Host ${h.name} has no running worker`);
    if (p.new_vm && (h.cordoned || h.draining))
      throw errors.hostUnavailable(`Host ${h.name} is ${h.draining ? 'draining' : 'cordoned'}: it takes no new VMs`);
    throw errors.insufficientCapacity(`Host ${h.name} has no room for ${wanted}: short of ${shortOf(h).join(', ')}`, {
      missing: shortOf(h),
    });
  }
  const live = all.filter(fresh);
  if (live.length === 0) {
    const why = all.filter((h) => h.status_reason).map((h) => `${h.name}: ${h.status_reason}`);
    throw errors.hostUnavailable(`No hypervisor host is online${why.length ? ` (${why.join('; ')})` : ''}`);
  }
  const reasons: string[] = [];
  const missing = new Set<string>();
  for (const h of live) {
    if (p.new_vm && (h.cordoned || h.draining)) reasons.push(`${h.name} is ${h.draining ? 'draining' : 'cordoned'}`);
    else if (p.host_labels && Object.entries(p.host_labels).some(([k, v]) => h.labels[k] !== v)) reasons.push(`${h.name} lacks the labels`);
    else {
      const short = shortOf(h);
      for (const m of short) missing.add(m.split(' ')[0]!);
      reasons.push(`${h.name} is short of ${short.join(', ')}`);
    }
  }
  const labels = p.host_labels && Object.keys(p.host_labels).length ? ` with labels ${JSON.stringify(p.host_labels)}` : '';
  throw errors.insufficientCapacity(`No host${labels} has room for ${wanted} (${reasons.join('; ')})`, { missing: [...missing] });
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
