import { eq, sql } from 'drizzle-orm';
import type { VmStatus } from '../domain/status.js';
import { announce } from './after-commit.js';
import type { Tx } from './database.js';
import { EVENTS_WRITTEN_CHANNEL } from './event-sequencer.js';
import type { NewEventRow } from './new-vm-rows.js';
import { notifyChange } from './notifier.js';
import { endedOperation, type OperationEnd } from './operation-rows.js';
import { fromRaw } from './raw-rows.js';
import { events, type OperationRow, operations, type VmRow, vms } from './schema.js';
import { StatementTemplate } from './statement-template.js';
import { changedVm, type VmPatch } from './vm-rows.js';

/**
 * The verbs of an operation's ending, each one statement: a worker ends many operations a
 * second, and each round trip of a transaction is paid by every one of them.
 */

/** The VM and its operation, locked in the one lock order (the VM first, then its operation), in one statement. */
export async function lockVmAndOperation(tx: Tx, vmId: string, opId: string): Promise<{ vm: VmRow; op: OperationRow } | null> {
  // Rows are locked in the order their tables are named in FOR ... OF: the VM, then the operation.
  // Rows come back as JSON: a prepared statement's result keeps its type when a migration adds a
  // column (an older process beside a newer one), where `v.*` would fail its cached plan.
  const rows = await tx.execute<{ vm: Record<string, unknown>; op: Record<string, unknown> }>(sql`
    SELECT row_to_json(v) AS vm, row_to_json(o) AS op FROM ${vms} v JOIN ${operations} o ON o.id = ${opId}
    WHERE v.id = ${vmId} FOR NO KEY UPDATE OF v, o`);
  const row = rows[0];
  if (!row) return null;
  return { vm: fromRaw(vms, row.vm), op: fromRaw(operations, row.op) };
}

/**
 * Ends an operation (`endOperation`'s change), writes its VM's change (`changeVm`'s: the
 * version goes up, waiters are woken) when given, and appends the events, in one statement.
 */
export async function endOperationWith(
  tx: Tx,
  opId: string,
  end: OperationEnd,
  change: { vm_id: string; patch: VmPatch } | null,
  eventRows: NewEventRow[],
): Promise<VmRow | null> {
  const now = new Date();
  const t = new StatementTemplate('endOperationWith');
  const endedRow = t.row('op', endedOperation(end, now));
  const op = t.value('op_id', opId);
  const changedRow = change ? t.row('vm', changedVm(change.patch, now)) : null;
  const vmId = change ? t.value('vm_id', change.vm_id) : null;
  const eventRowsT = eventRows.map((e, i) => t.row(`event${i}`, e));
  const rows = await t.execute<{ vm: Record<string, unknown> }>(tx, () => {
    const ended = tx.update(operations).set(endedRow).where(eq(operations.id, op)).getSQL();
    const changed =
      changedRow && vmId
        ? tx.update(vms).set(changedRow).where(eq(vms.id, vmId)).returning().getSQL()
        : sql`SELECT * FROM ${vms} WHERE false`;
    const appended = eventRowsT.length > 0 ? sql`, appended AS (${tx.insert(events).values(eventRowsT).getSQL()})` : sql``;
    return sql`
    WITH ended AS (${ended}), changed AS (${changed})${appended}
    SELECT row_to_json(changed) AS vm FROM changed`;
  });
  if (eventRows.length > 0) await announce(tx, EVENTS_WRITTEN_CHANNEL, '');
  const row = rows[0];
  if (!row) return null;
  const vm = fromRaw(vms, row.vm);
  await notifyChange(tx, { vm_id: vm.id, operation_id: opId, status: vm.status as VmStatus });
  return vm;
}
