import { and, eq, getTableName, type Placeholder, type SQL, sql } from 'drizzle-orm';
import type { VmStatus } from '../domain/status.js';
import { sqlState, type Tx } from './database.js';
import { type ChangeNotice, notifyChange } from './notifier.js';
import { projectQuotas, projects, type VmRow, vms } from './schema.js';

/**
 * The verbs that write VM rows. Every change goes through `changeVm`, so each one bumps the
 * version (what `expected_version` and the reconciler compare) and wakes waiters the same way.
 * Lock order everywhere: the VM (`lockVm`) first, then its operation (`lockOperation`).
 */

export type NewVmRow = typeof vms.$inferInsert;
export type VmPatch = Partial<Omit<VmRow, 'id' | 'project_id' | 'version' | 'created_at' | 'updated_at'>>;

/** The VM row locked for this transaction (`FOR NO KEY UPDATE`), optionally only within a project. */
export async function lockVm(tx: Tx, id: string, project_id?: string): Promise<VmRow | undefined> {
  const [row] = await tx
    .select()
    .from(vms)
    .where(project_id ? and(eq(vms.id, id), eq(vms.project_id, project_id)) : eq(vms.id, id))
    .for('no key update');
  return row;
}

/** Where a VM lives: its host and the driver's handle of its domain (unset until one is defined), within a project. */
export async function vmPlacement(
  db: Tx,
  id: string,
  project_id: string,
): Promise<Pick<VmRow, 'host_id' | 'domain_ref' | 'deleted_at' | 'status' | 'vnc_enabled'> | undefined> {
  const [row] = await db
    .select({
      host_id: vms.host_id,
      domain_ref: vms.domain_ref,
      deleted_at: vms.deleted_at,
      status: vms.status,
      vnc_enabled: vms.vnc_enabled,
    })
    .from(vms)
    .where(and(eq(vms.id, id), eq(vms.project_id, project_id)));
  return row;
}

/**
 * Inserts a VM with the next number of its project. The project's counter is bumped by the same
 * statement (a data-modifying CTE: no extra round trip); its row lock is held to commit, so
 * creates in one project take numbers one after the other, and one rolled back gives its number
 * back. A lock taken after the quota row's and the hosts' (as every create takes them), and
 * compatible with the key-share locks inserts referencing the project take.
 */
export async function insertVm(tx: Tx, values: Omit<NewVmRow, 'number'>): Promise<VmRow> {
  const counter = tx.$with('vm_number', { number: sql<number>`number` }).as(takeVmNumber(values.project_id));
  const [row] = await tx
    .with(counter)
    .insert(vms)
    .values({ ...values, number: sql`(SELECT number FROM ${counter})` })
    .returning();
  return row!;
}

/**
 * Bumps the project's VM counter, returning the number taken (`number`): the CTE `vm_number` of
 * a new VM's insert. `after`: a CTE of the same statement to run first, whose row it needs: its
 * locks are taken before the counter's, and without a row (no host placed) no number is taken,
 * so the VM's insert fails on its null number and the statement writes nothing
 * (`isUnnumbered`). `unlessQuota`: nor when the project has a quota row (a create checking no
 * quota goes only so far).
 */
export function takeVmNumber(project_id: string | Placeholder<string, unknown>, after?: string, opts: { unlessQuota?: boolean } = {}): SQL {
  const first = after ? sql` FROM (SELECT 1 FROM ${sql.identifier(after)} LIMIT 1) AS ${sql.identifier(`${after}_first`)}` : sql``;
  const quota = opts.unlessQuota
    ? sql` AND NOT EXISTS (SELECT 1 FROM ${projectQuotas} WHERE ${projectQuotas.project_id} = ${projects.id})`
    : sql``;
  return sql`UPDATE ${projects} SET ${sql.identifier(projects.next_vm_number.name)} = ${projects.next_vm_number} + 1${first} WHERE ${projects.id} = ${project_id}${quota} RETURNING ${projects.next_vm_number} - 1 AS number`;
}

/** Whether a VM's insert failed for want of a number: `takeVmNumber` took none (nothing was written). */
export function isUnnumbered(err: unknown): boolean {
  if (sqlState(err) !== '23502') return false;
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { table_name, column_name } = e as { table_name?: unknown; column_name?: unknown };
    if (table_name === getTableName(vms) && column_name === vms.number.name) return true;
  }
  return false;
}

/** What a change to a VM writes: the patch, a new version and the time. */
export function changedVm(patch: VmPatch, now = new Date()) {
  return { ...patch, version: sql`${vms.version} + 1`, updated_at: now };
}

/**
 * Writes a change to a locked VM: its version goes up, and waiters on the VM (and on
 * `operation_id`, when given) are woken at commit.
 */
export async function changeVm(
  tx: Tx,
  vm: Pick<VmRow, 'id'>,
  patch: VmPatch,
  notice: Pick<ChangeNotice, 'operation_id' | 'operation_open'>,
): Promise<VmRow> {
  const [row] = await tx.update(vms).set(changedVm(patch)).where(eq(vms.id, vm.id)).returning();
  await notifyChange(tx, { ...notice, vm_id: row!.id, status: row!.status as VmStatus });
  return row!;
}

/**
 * Records the domain an operation defined, at once (a crash before the operation ends then
 * orphans nothing) and only while that operation still owns the VM. Not a change callers see:
 * the version stays.
 */
export async function recordDomainRef(
  db: Tx,
  vm_id: string,
  operation_id: string,
  patch: Pick<VmPatch, 'domain_ref' | 'vnc_port' | 'network'>,
): Promise<void> {
  await db
    .update(vms)
    .set(patch)
    .where(and(eq(vms.id, vm_id), eq(vms.current_operation_id, operation_id)));
}
