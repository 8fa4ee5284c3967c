import { and, asc, desc, eq, isNull, or, type SQL, sql } from 'drizzle-orm';
import { errors, HangarError } from '../domain/errors.js';
import { Uuid } from '../domain/fields.js';
import { type DrainResult, type Host, HostRequest, type HostStatus, SetHostLabelsInput } from '../domain/host.js';
import type { HostInventory } from '../drivers/driver.js';
import type { Db, Tx } from '../store/database.js';
import { gpusOfHosts, syncHostGpus } from '../store/gpu-rows.js';
import { toHost } from '../store/mappers.js';
import { type HostRow, hosts, operations, vms } from '../store/schema.js';
import { parse } from './validate.js';

/** A host's row as its inventory says: what it has, and offline with the reason when its hypervisor cannot run VMs. */
export function inventoryColumns(inventory: HostInventory) {
  return {
    status: inventory.unavailable ? 'offline' : 'online',
    status_reason: inventory.unavailable ?? null,
    cpus: inventory.capacity.cpus,
    memory_mb: inventory.capacity.memory_mb,
    disk_gb: inventory.capacity.disk_gb,
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
  const { cpus: _c, memory_mb: _m, disk_gb: _d, ...statusOnly } = values;
  const set = { ...(host.inventory.unavailable ? statusOnly : values), updated_at: new Date() };
  // A host known already is updated, not upserted: an insert that turns into an update still
  // takes a number from the sequence, and the fleet's numbers would skip one per restart.
  const [known] = await db.update(hosts).set(set).where(eq(hosts.name, host.name)).returning();
  const [row] = known ? [known] : await db.insert(hosts).values(values).onConflictDoUpdate({ target: hosts.name, set }).returning();
  if (!host.inventory.unavailable) await syncHostGpus(db, row!.id, host.inventory.gpus);
  return hostView(db, row!);
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
      updated_at: new Date(),
    })
    .where(eq(hosts.id, id));
  await syncHostGpus(db, id, inventory.gpus);
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

/** A host as the API shows it: with its GPUs. */
async function hostView(db: Db | Tx, row: HostRow): Promise<Host> {
  return toHost(row, await gpusOfHosts(db, [row.id]));
}

export async function listHosts(db: Db): Promise<Host[]> {
  const rows = await db.select().from(hosts).orderBy(asc(hosts.name));
  const gpus = await gpusOfHosts(db);
  return rows.map((r) => toHost(r, gpus));
}

/** The largest host number there can be (an `integer` column): more digits can only be a name. */
const MAX_HOST_NUMBER = 2 ** 31 - 1;

/** An all-digits host reference as a host number, which it means first; null when it cannot be one. */
export function hostNumberOf(key: string): number | null {
  if (!/^\d+$/.test(key)) return null;
  const n = Number(key);
  return n >= 1 && n <= MAX_HOST_NUMBER ? n : null;
}

/**
 * Which host a reference (an id, a number or a name) names, as a condition on `hosts` and the
 * order that puts the intended row first: all digits is the host's number if there is such a
 * host, and a name otherwise (a host may be named `42`). Take the first row.
 */
export function hostRef(key: string): { where: SQL; first: SQL[] } {
  if (Uuid.safeParse(key).success) return { where: eq(hosts.id, key), first: [] };
  const n = hostNumberOf(key);
  if (n === null) return { where: eq(hosts.name, key), first: [] };
  return { where: or(eq(hosts.number, n), eq(hosts.name, key))!, first: [desc(sql`${hosts.number} = ${n}`)] };
}

/** A host by its id, its number or its name (what `server_id`/`host_id` filters and the hosts routes accept). */
export async function resolveHost(db: Db | Tx, idOrName: unknown, lock = false): Promise<HostRow> {
  const key = parse(HostRequest.shape.id, idOrName, 'host id, number or name');
  const ref = hostRef(key);
  const q = db
    .select()
    .from(hosts)
    .where(ref.where)
    .orderBy(...ref.first)
    .limit(1);
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
  return hostView(db, await resolveHost(db, id));
}

/** Cordons a host (no new VMs are placed on it) or lifts the cordon (and a drain). */
export async function cordonHost(db: Db, id: unknown, cordoned: boolean): Promise<Host> {
  const row = await resolveHost(db, id);
  const [updated] = await db
    .update(hosts)
    .set({ cordoned, ...(cordoned ? {} : { draining: false }), updated_at: new Date() })
    .where(eq(hosts.id, row.id))
    .returning();
  return hostView(db, updated!);
}

/** Cordons a host to empty it: what still runs there is listed, to be moved or deleted before the host is removed. */
export async function drainHost(db: Db, id: unknown): Promise<DrainResult> {
  const row = await resolveHost(db, id);
  const [updated] = await db
    .update(hosts)
    .set({ cordoned: true, draining: true, updated_at: new Date() })
    .where(eq(hosts.id, row.id))
    .returning();
  return { host: await hostView(db, updated!), vms: await vmsOn(db, row.id) };
}

export async function setHostLabels(db: Db, raw: unknown): Promise<Host> {
  const input = parse(SetHostLabelsInput, raw, 'host labels');
  const row = await resolveHost(db, input.id);
  const [updated] = await db.update(hosts).set({ labels: input.labels, updated_at: new Date() }).where(eq(hosts.id, row.id)).returning();
  return hostView(db, updated!);
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
    const view = await hostView(tx, row);
    await tx.delete(hosts).where(eq(hosts.id, row.id));
    return view;
  });
}

async function vmsOn(db: Db | Tx, hostId: string) {
  return db
    .select({ id: vms.id, name: vms.name, project_id: vms.project_id, status: vms.status })
    .from(vms)
    .where(and(eq(vms.host_id, hostId), isNull(vms.deleted_at)))
    .orderBy(asc(vms.name));
}
