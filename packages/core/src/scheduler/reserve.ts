import { eq, type SQL, sql } from 'drizzle-orm';
import type { Tx } from '../store/database.js';
import { type GpuMatch, gpuFree, gpuMatches } from '../store/gpu-rows.js';
import { gpuDevices, hosts } from '../store/schema.js';
import type { Binder } from '../store/statement-template.js';
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

// The timeout is part of the statement's text (a constant): a statement built once keeps it.
const served = sql`${hosts.status} = 'online'
  AND ${hosts.last_seen_at} > now() - make_interval(secs => ${sql.raw(String(HOST_HEARTBEAT_TIMEOUT_S))})`;

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

/** Values as they are: parameters of the statement. */
const asParameters: Binder = { value: (_name, v) => v, part: () => {} };

/**
 * Every way a reservation's text varies with its request: what `bind.part` is told, and what the
 * branches below test (nothing else), so that one shape is one text.
 */
function shapeOf(p: PlacementRequest) {
  return {
    host: !!p.host_id,
    labels: !!p.host_labels && Object.keys(p.host_labels).length > 0,
    pack: p.strategy === 'pack',
    new_vm: !!p.new_vm,
    gpus: p.gpus?.count ?? 0,
    exclude: p.exclude?.length ?? 0,
  };
}

/** The values a reservation's text holds as placeholders: bound before its text is built (or not). */
interface BoundRequest {
  r: Resources;
  host_id: unknown;
  host_labels: unknown;
}

function eligible(b: BoundRequest, p: PlacementRequest) {
  const shape = shapeOf(p);
  return sql.join(
    [
      served,
      room(b.r),
      shape.new_vm ? sql`NOT ${hosts.cordoned} AND NOT ${hosts.draining}` : sql`true`,
      shape.labels ? sql`${hosts.labels} @> ${b.host_labels}::jsonb` : sql`true`,
      shape.gpus > 0 && p.gpus ? gpuRoom(p.gpus) : sql`true`,
      shape.exclude > 0 && p.exclude
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
 * The statement that places resources on a host, returning its id (no row: no host had room):
 * the one asked for, or among the served, uncordoned hosts with room (GPUs included) and the
 * labels asked for, the one the strategy picks. Hosts that concurrent creates hold are passed
 * over for one that is free; when every fitting host is held, it waits for the best one. The
 * room is checked again under the row lock, so two creates never overfill a host. The host row
 * stays locked until the transaction ends, so the GPUs taken next (`place.ts`) are taken by one
 * create at a time. Its values are the statement's parameters.
 */
export function reservation(tx: Tx, r: Resources, p: PlacementRequest = {}): SQL {
  return bindReservation(tx, r, p)();
}

/**
 * `reservation` in two steps, as a create folds it into the statement that writes the VM
 * (`new-vm-rows.ts`): its values bound to that statement's placeholders (`bind`) now, its text
 * built by the function returned, when (and only if) it is called. The statement template calls
 * it once per shape: the drizzle builders it runs took a twentieth of a create's CPU when run
 * for every create.
 */
export function bindReservation(tx: Tx, r: Resources, p: PlacementRequest = {}, bind: Binder = asParameters): () => SQL {
  const shape = shapeOf(p);
  bind.part(
    `reservation(${Object.entries(shape)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')})`,
  );
  const b: BoundRequest = {
    r: {
      cpus: bind.value('place.cpus', r.cpus),
      memory_mb: bind.value('place.memory_mb', r.memory_mb),
      disk_gb: bind.value('place.disk_gb', r.disk_gb),
    } as Resources,
    host_labels: shape.labels ? bind.value('place.host_labels', JSON.stringify(p.host_labels)) : undefined,
    host_id: shape.host ? bind.value('place.host_id', p.host_id) : undefined,
  };
  return () => {
    const where = eligible(b, p);
    const free = sql`${hosts.memory_mb} - ${hosts.allocated_memory_mb}`;
    const order = shape.pack ? sql`${free} ASC, ${hosts.name}` : sql`${free} DESC, ${hosts.name}`;
    const pick = (lock: SQL) => sql`(SELECT id FROM ${hosts} WHERE ${where} ORDER BY ${order} LIMIT 1 ${lock})`;
    // COALESCE evaluates the waiting pick only when the skipping one found nothing.
    const target = shape.host
      ? sql`${hosts.id} = ${b.host_id}`
      : sql`${hosts.id} = COALESCE(${pick(sql`FOR NO KEY UPDATE SKIP LOCKED`)}, ${pick(sql`FOR NO KEY UPDATE`)})`;
    return tx.update(hosts).set(allocation(b.r)).where(sql`${target} AND ${where}`).returning({ id: hosts.id }).getSQL();
  };
}

/** Places resources on a host (`reservation`) in the caller's transaction; 503 saying why when none has room. */
export async function reserve(tx: Tx, r: Resources, p: PlacementRequest = {}): Promise<string> {
  const [row] = await tx.execute<{ id: string }>(reservation(tx, r, p));
  if (row) return row.id;
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
