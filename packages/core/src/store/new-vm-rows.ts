import { sql } from 'drizzle-orm';
import { announce } from './after-commit.js';
import type { Tx } from './database.js';
import { EVENTS_WRITTEN_CHANNEL } from './event-sequencer.js';
import type { NewOperationRow } from './operation-rows.js';
import { fromRaw } from './raw-rows.js';
import { events, type OperationRow, operations, type VmRow, vms } from './schema.js';
import { StatementTemplate } from './statement-template.js';
import { type NewVmRow, takeVmNumber } from './vm-rows.js';

export type NewEventRow = typeof events.$inferInsert;

/**
 * A new VM's rows in one statement: its number from the project's counter, the VM, the
 * operation that makes it, and their events. A create holds its host's row (the reservation)
 * and the project's counter row from the moment it takes them to its commit; every round trip
 * between the two is a wait for every other create on that host or in that project. One
 * statement, and the commit right after it, keeps that stretch as short as it can be.
 */
export async function insertVmWithOperation(
  tx: Tx,
  vm: Omit<NewVmRow, 'number'>,
  op: NewOperationRow,
  eventRows: NewEventRow[],
): Promise<{ vm: VmRow; op: OperationRow }> {
  const t = new StatementTemplate('insertVmWithOperation');
  const vmRow = t.row('vm', vm);
  const opRow = t.row('op', op);
  const eventRowsT = eventRows.map((e, i) => t.row(`event${i}`, e));
  // The counter bumped as `insertVm` does (same lock, same order: after the quota's and the host's).
  const project = t.value('project_id', vm.project_id);
  // Both rows come back as JSON: one row of two tables' columns of the same names, and a
  // prepared statement's result that keeps its type when a migration adds a column.
  const rows = await t.execute<{ vm: Record<string, unknown>; op: Record<string, unknown> }>(tx, () => {
    const counter = takeVmNumber(project);
    const newVm = tx
      .insert(vms)
      .values({ ...vmRow, number: sql`(SELECT number FROM vm_number)` })
      .returning()
      .getSQL();
    const newOp = tx.insert(operations).values(opRow).returning().getSQL();
    const newEvents = eventRowsT.length > 0 ? sql`, new_events AS (${tx.insert(events).values(eventRowsT).getSQL()})` : sql``;
    return sql`
    WITH vm_number AS (${counter}), new_vm AS (${newVm}), new_op AS (${newOp})${newEvents}
    SELECT row_to_json(new_vm) AS vm, (SELECT row_to_json(new_op) FROM new_op) AS op FROM new_vm`;
  });
  const row = rows[0]!;
  if (eventRows.length > 0) await announce(tx, EVENTS_WRITTEN_CHANNEL, '');
  return { vm: fromRaw(vms, row.vm), op: fromRaw(operations, row.op) };
}
