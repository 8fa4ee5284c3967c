import { and, asc, eq, inArray, isNull, not, type SQL, sql } from 'drizzle-orm';
import { type GpuDevice, type GpuFault, modelWordsOf, requestWords, type VmGpuDevice, vendorWordsOf } from '../domain/gpu.js';
import type { Db, Tx } from './database.js';
import { type GpuDeviceRow, gpuDevices, hosts, vms } from './schema.js';

/**
 * The verbs that write GPU rows. Who holds a GPU is its row's `vm_id`; the VM's copy
 * (`vms.gpu_devices`) is rewritten by every verb here that changes a holder, in the same
 * transaction, so the two never disagree.
 */

/** What a VM asks of its GPUs' names: words of the model and of the vendor. */
export interface GpuMatch {
  model?: string | null;
  vendor?: string | null;
}

const textArray = (words: string[]) =>
  sql`ARRAY[${sql.join(
    words.map((w) => sql`${w}`),
    sql`, `,
  )}]::text[]`;

/** The condition a GPU row meets when its names match (whole words; every word asked must be there). */
export function gpuMatches(m: GpuMatch): SQL {
  const parts: SQL[] = [];
  const model = m.model ? requestWords(m.model) : [];
  const vendor = m.vendor ? requestWords(m.vendor) : [];
  if (model.length) parts.push(sql`${gpuDevices.model_words} @> ${textArray(model)}`);
  if (vendor.length) parts.push(sql`${gpuDevices.vendor_words} @> ${textArray(vendor)}`);
  return parts.length ? sql.join(parts, sql` AND `) : sql`true`;
}

/** A GPU the scheduler may give: free, healthy and still in its host's inventory. */
export const gpuFree = sql`${gpuDevices.vm_id} IS NULL AND ${gpuDevices.health} = 'healthy' AND NOT ${gpuDevices.missing}`;

/**
 * A host's GPUs as its inventory lists them now: new ones added, known ones refreshed (names,
 * driver, group, node, health), and those no longer listed removed, unless a VM holds one:
 * that one stays, unhealthy and marked missing, until it is freed.
 */
export async function syncHostGpus(db: Db | Tx, hostId: string, devices: GpuDevice[]): Promise<void> {
  const now = new Date();
  if (devices.length > 0) {
    const values = devices.map((d) => ({
      host_id: hostId,
      address: d.address,
      vendor_id: d.vendor_id,
      device_id: d.device_id,
      vendor: d.vendor,
      model: d.model,
      memory_mb: d.memory_mb,
      driver: d.driver,
      iommu_group: d.iommu_group,
      numa_node: d.numa_node,
      health: d.health,
      health_reason: d.health === 'healthy' ? null : (d.health_reason ?? 'reported unhealthy by its host'),
      model_words: modelWordsOf(d),
      vendor_words: vendorWordsOf(d),
      missing: false,
      updated_at: now,
    }));
    await db
      .insert(gpuDevices)
      .values(values)
      .onConflictDoUpdate({
        target: [gpuDevices.host_id, gpuDevices.address],
        set: Object.fromEntries(
          [
            'vendor_id',
            'device_id',
            'vendor',
            'model',
            'memory_mb',
            'driver',
            'iommu_group',
            'numa_node',
            'health',
            'health_reason',
            'model_words',
            'vendor_words',
            'missing',
            'updated_at',
          ].map((c) => [c, sql.raw(`excluded.${c}`)]),
        ),
      });
  }
  const listed = devices.map((d) => d.address);
  const gone = and(eq(gpuDevices.host_id, hostId), listed.length ? not(inArray(gpuDevices.address, listed)) : sql`true`);
  await db.delete(gpuDevices).where(and(gone, isNull(gpuDevices.vm_id)));
  await db
    .update(gpuDevices)
    .set({ missing: true, health: 'unhealthy', health_reason: 'no longer in the host inventory', updated_at: now })
    .where(and(gone, not(gpuDevices.missing)));
}

/** GPUs a VM's launch found unusable: unhealthy with the reason, so the scheduler passes them by. Only GPUs that VM holds. */
export async function markGpuFaults(db: Db | Tx, vmId: string, faults: GpuFault[]): Promise<void> {
  for (const f of faults) {
    await db
      .update(gpuDevices)
      .set({ health: 'unhealthy', health_reason: f.reason, updated_at: new Date() })
      .where(and(eq(gpuDevices.vm_id, vmId), eq(gpuDevices.address, f.address)));
  }
}

/** A host's free GPUs matching the names asked, locked for this transaction (the host row is locked by the reservation already). */
export async function lockFreeGpus(tx: Tx, hostId: string, match: GpuMatch): Promise<GpuDeviceRow[]> {
  return tx
    .select()
    .from(gpuDevices)
    .where(and(eq(gpuDevices.host_id, hostId), gpuFree, gpuMatches(match)))
    .orderBy(asc(gpuDevices.address))
    .for('update');
}

/** The GPUs a VM holds. */
export async function heldGpus(tx: Db | Tx, vmId: string): Promise<GpuDeviceRow[]> {
  return tx.select().from(gpuDevices).where(eq(gpuDevices.vm_id, vmId)).orderBy(asc(gpuDevices.address));
}

/**
 * Gives these GPU rows to a VM. `copy`: rewrite the VM's `gpu_devices` (false for a VM not
 * inserted yet: it is inserted with `vmGpuCopy` of the same rows).
 */
export async function takeGpus(tx: Tx, ids: string[], vmId: string, copy = true): Promise<void> {
  if (ids.length === 0) return;
  await tx.update(gpuDevices).set({ vm_id: vmId, updated_at: new Date() }).where(inArray(gpuDevices.id, ids));
  if (copy) await writeVmCopy(tx, vmId);
}

/** The VM's copy of the GPU rows it holds, as the API shows them. */
export function vmGpuCopy(rows: GpuDeviceRow[]): VmGpuDevice[] {
  return [...rows]
    .sort((a, b) => a.address.localeCompare(b.address))
    .map((g) => ({ address: g.address, vendor: g.vendor, model: g.model, host_id: g.host_id, numa_node: g.numa_node }));
}

/** Frees every GPU a VM holds (or those at these addresses). */
export async function freeVmGpus(tx: Tx, vmId: string, addresses?: string[]): Promise<void> {
  if (addresses && addresses.length === 0) return;
  const freed = await tx
    .update(gpuDevices)
    .set({ vm_id: null, updated_at: new Date() })
    .where(and(eq(gpuDevices.vm_id, vmId), addresses ? inArray(gpuDevices.address, addresses) : sql`true`))
    .returning({ id: gpuDevices.id });
  if (freed.length > 0) await writeVmCopy(tx, vmId);
}

async function writeVmCopy(tx: Tx, vmId: string): Promise<void> {
  await tx
    .update(vms)
    .set({ gpu_devices: vmGpuCopy(await heldGpus(tx, vmId)) })
    .where(eq(vms.id, vmId));
}

/** GPUs of these hosts (all hosts: no ids), by host then address. */
export async function gpusOfHosts(db: Db | Tx, hostIds?: string[]): Promise<GpuDeviceRow[]> {
  if (hostIds && hostIds.length === 0) return [];
  return db
    .select()
    .from(gpuDevices)
    .where(hostIds ? inArray(gpuDevices.host_id, hostIds) : sql`true`)
    .orderBy(asc(gpuDevices.host_id), asc(gpuDevices.address));
}

/** How many free matching GPUs each host has (for explaining a refusal). */
export async function freeGpuCounts(tx: Tx, match: GpuMatch): Promise<Map<string, number>> {
  const rows = await tx
    .select({ host_id: gpuDevices.host_id, n: sql<number>`count(*)::int` })
    .from(gpuDevices)
    .where(and(gpuFree, gpuMatches(match)))
    .groupBy(gpuDevices.host_id);
  return new Map(rows.map((r) => [r.host_id, r.n]));
}

/** VMs holding a GPU of this model, or asking for one (a VM stopped with `release_gpus` holds none). */
export function vmGpuModelIs(model: string): SQL {
  const words = requestWords(model);
  return sql`(EXISTS (SELECT 1 FROM ${gpuDevices} WHERE ${gpuDevices.vm_id} = ${vms.id} AND ${gpuMatches({ model })})
    OR regexp_split_to_array(lower(coalesce(${vms.gpu_model}, '')), '[^a-z0-9:]+') @> ${textArray(words)})`;
}

/** Every GPU of the fleet (admins), filtered. */
export async function listGpuRows(
  db: Db,
  f: { host_id?: string; model?: string; free?: boolean; health?: string },
): Promise<(GpuDeviceRow & { host_name: string })[]> {
  const conds: SQL[] = [];
  if (f.host_id) conds.push(eq(gpuDevices.host_id, f.host_id));
  if (f.model) conds.push(gpuMatches({ model: f.model }));
  if (f.free !== undefined) conds.push(f.free ? isNull(gpuDevices.vm_id) : sql`${gpuDevices.vm_id} IS NOT NULL`);
  if (f.health) conds.push(eq(gpuDevices.health, f.health));
  const rows = await db
    .select({ gpu: gpuDevices, host_name: hosts.name })
    .from(gpuDevices)
    .innerJoin(hosts, eq(hosts.id, gpuDevices.host_id))
    .where(conds.length ? and(...conds) : sql`true`)
    .orderBy(asc(hosts.name), asc(gpuDevices.address));
  return rows.map((r) => ({ ...r.gpu, host_name: r.host_name }));
}
