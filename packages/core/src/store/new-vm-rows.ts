import { type SQL, sql } from 'drizzle-orm';
import { errors } from '../domain/errors.js';
import { announce } from './after-commit.js';
import type { Tx } from './database.js';
import { EVENTS_WRITTEN_CHANNEL } from './event-sequencer.js';
import type { NewOperationRow } from './operation-rows.js';
import { fromRaw } from './raw-rows.js';
import { events, type OperationRow, operations, type VmRow, vms } from './schema.js';
import { type Binder, StatementTemplate } from './statement-template.js';
import { isUnnumbered, type NewVmRow, takeVmNumber } from './vm-rows.js';

export type NewEventRow = typeof events.$inferInsert;

/** No host had room for the VM its statement was to place (what it wrote is to be rolled back). */
export class NotPlaced extends Error {
  constructor() {
    super('no host had room');
  }
}

/**
 * A new VM's rows in one statement: its number from the project's counter, the VM, the
 * operation that makes it, and their events. With `place` (the scheduler's `reservation`, an
 * UPDATE of a host returning its id, its values bound to this statement), also its host's
 * reservation: the host it got is the VM's and the operation's (their `host_id` is ignored), and
 * when no host had room the statement fails and writes nothing, and this throws `NotPlaced`, for
 * the caller to place the VM itself (which says why). `unlessQuota`: so too when the project has
 * a quota row (a create run as this statement alone checks no quota).
 *
 * Why one statement: a create holds its host's row (the reservation) and the project's counter
 * row from the moment it takes them to its commit, and every round trip between the two is a
 * wait for every other create on that host or in that project. One statement, and the commit
 * right after it, keeps that stretch as short as it can be.
 */
export async function insertVmWithOperation(
  tx: Tx,
  vm: Omit<NewVmRow, 'number'>,
  op: NewOperationRow,
  eventRows: NewEventRow[],
  place?: (bind: Binder) => () => SQL,
  opts: { unlessQuota?: boolean } = {},
): Promise<{ vm: VmRow; op: OperationRow }> {
  const t = new StatementTemplate('insertVmWithOperation');
  if (opts.unlessQuota) t.part('unless-quota');
  // Its values bound now, its text built with the statement's (once per shape).
  const placement = place?.(t);
  const hostId = placement ? { host_id: sql`(SELECT id FROM placed)` } : {};
  const vmRow = t.row('vm', { ...vm, ...hostId });
  const opRow = t.row('op', { ...op, ...hostId });
  const eventRowsT = eventRows.map((e, i) => t.row(`event${i}`, e));
  const project = t.value('project_id', vm.project_id);
  // Both rows come back as JSON: one row of two tables' columns of the same names, and a
  // prepared statement's result that keeps its type when a migration adds a column.
  const run = t.execute<{ vm: Record<string, unknown>; op: Record<string, unknown> }>(tx, () => {
    // The counter is bumped after the host is reserved, as every create takes them (the quota's
    // row, the host's, the counter's): the same lock order everywhere.
    const counter = takeVmNumber(project, placement ? 'placed' : undefined, opts);
    const newVm = tx
      .insert(vms)
      .values({ ...vmRow, number: sql`(SELECT number FROM vm_number)` })
      .returning()
      .getSQL();
    const newOp = tx.insert(operations).values(opRow).returning().getSQL();
    const newEvents = eventRowsT.length > 0 ? sql`, new_events AS (${tx.insert(events).values(eventRowsT).getSQL()})` : sql``;
    return sql`
    WITH ${placement ? sql`placed AS (${placement()}), ` : sql``}vm_number AS (${counter}), new_vm AS (${newVm}), new_op AS (${newOp})${newEvents}
    SELECT row_to_json(new_vm) AS vm, (SELECT row_to_json(new_op) FROM new_op) AS op FROM new_vm`;
  });
  const rows = await run.catch((err: unknown) => {
    throw placement && isUnnumbered(err) ? new NotPlaced() : err;
  });
  const row = rows[0];
  // The statement always returns the VM it wrote or fails. No row back is an answer lost on the
  // way (seen once, with a stack, while PostgreSQL restarted under load): whether it wrote is
  // unknown, as when a connection drops before its commit is confirmed, and it is answered the
  // same way (503, retry), never as the server's fault. In a transaction nothing is committed.
  if (!row) throw errors.databaseUnavailable();
  const made = { vm: fromRaw(vms, row.vm), op: fromRaw(operations, row.op) };
  if (eventRows.length > 0) await announce(tx, EVENTS_WRITTEN_CHANNEL, '');
  return made;
}
